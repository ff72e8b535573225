import type { Logger } from 'pino';
import type { ActitoSettings } from './actito.settings.js';
import { createAdapterKit, statusOf } from '../kit/adapter-kit.js';
import {
  type ContactReadBack,
  isRecord,
  type RemoteSuppression,
  stringField,
  toIsoUtc,
  unexpectedResponse,
} from '../kit/readback-kit.js';
import { MARKETING_CONSENT_ATTRIBUTE, profilePath } from './actito.mapping.js';
import { createActitoSession } from './actito.session.js';

/**
 * Actito read-back (esp-contracts.md §3.4 "Read-back per profile", V4 paths known from public
 * clients; V5 paths are NOT FOUND): `GET …/profile/{uniqueKey}={email}` for `marketingConsent`, the
 * tracking-consent attribute and, when the profile JSON carries them, the subscriptions; otherwise
 * `GET …/profile/{profileId}/subscription` when subscriptions are configured.
 *
 * The mapping is the inverse of the adapter's (actito.mapping.ts): `marketingConsent` speaks for
 * ACTITO_MARKETING_CONSENT_CHANNEL only, each ACTITO_SUBSCRIPTIONS entry for its own channel, and the
 * tracking attribute for `tracking`. Reading `marketingConsent` as every channel would turn our own
 * email opt-out into opt-outs of other channels.
 *
 * `at`: Actito keeps no moment per consent item in the profile JSON. The profile's
 * `dataCollectionInformation.date` (the moment of the latest consent collection) is used, else its
 * `updateMoment`, else the read time (INFERENCE; the exact V4/V5 profile JSON is NOT FOUND).
 */

const CHANNELS = ['email', 'sms', 'push'] as const;

type ReadSettings = Pick<
  ActitoSettings,
  'marketingConsentChannel' | 'subscriptions' | 'trackingAttribute' | 'uniqueKeyAttribute'
>;

/** `[{name, value}]` → name → value. */
export function attributeMap(attributes: unknown): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (!Array.isArray(attributes)) return out;
  for (const a of attributes)
    if (isRecord(a) && typeof a['name'] === 'string') out.set(a['name'], a['value']);
  return out;
}

/** `[{name, subscribe}]` → name → subscribed; undefined when not an array (not in this JSON). */
export function subscriptionMap(subscriptions: unknown): Map<string, boolean> | undefined {
  if (!Array.isArray(subscriptions)) return undefined;
  const out = new Map<string, boolean>();
  for (const s of subscriptions) {
    if (isRecord(s) && typeof s['name'] === 'string' && typeof s['subscribe'] === 'boolean')
      out.set(s['name'], s['subscribe']);
  }
  return out;
}

/** The moment the profile's consent was last collected (see the module comment). */
export function profileMoment(profile: Record<string, unknown>, observedAt: string): string {
  const dci = profile['dataCollectionInformation'];
  return (
    (isRecord(dci) ? toIsoUtc(dci['date']) : undefined) ?? toIsoUtc(profile['updateMoment']) ?? observedAt
  );
}

export function mapActitoProfile(
  profile: Record<string, unknown>,
  subscriptions: ReadonlyMap<string, boolean>,
  identity: RemoteSuppression['identity'],
  settings: ReadSettings,
  observedAt: string,
): RemoteSuppression[] {
  const attributes = attributeMap(profile['attributes']);
  const at = profileMoment(profile, observedAt);
  // Any change of the profile moves `updateMoment`, a subscription change without a data
  // collection date included: the bound a per-channel state needs (drift.ts, push_not_stuck).
  const updated = toIsoUtc(profile['updateMoment']);
  const changed = updated ? { lastChangedAt: updated } : {};
  const out: RemoteSuppression[] = [];
  for (const channel of CHANNELS) {
    const parts: { value: boolean; type: string }[] = [];
    const consent = attributes.get(MARKETING_CONSENT_ATTRIBUTE);
    if (channel === settings.marketingConsentChannel && typeof consent === 'boolean')
      parts.push({ value: consent, type: 'marketing_consent' });
    const name = Object.hasOwn(settings.subscriptions, channel) ? settings.subscriptions[channel] : undefined;
    const subscribed = name ? subscriptions.get(name) : undefined;
    if (name && subscribed !== undefined) parts.push({ value: subscribed, type: `subscription:${name}` });
    const first = parts[0];
    if (!first) continue;
    // Either refusal suppresses the channel (marketingConsent filters every campaign, §3.3).
    const refusal = parts.find((p) => !p.value);
    out.push({
      identity,
      channel,
      state: refusal ? 'opted_out' : 'opted_in',
      at,
      type: (refusal ?? first).type,
      ...changed,
    });
  }
  const tracking = settings.trackingAttribute ? attributes.get(settings.trackingAttribute) : undefined;
  if (typeof tracking === 'boolean') {
    out.push({
      identity,
      channel: 'tracking',
      state: tracking ? 'opted_in' : 'opted_out',
      at,
      type: 'tracking_consent',
      ...changed,
    });
  }
  return out;
}

export function createActitoReadBack(
  settings: ActitoSettings,
  logger: Logger,
  now: () => number = Date.now,
): ContactReadBack {
  const kit = createAdapterKit(settings, logger.child({ readback: true }));
  const session = createActitoSession(kit, settings, now);
  const base = profilePath(settings);
  const needsSubscriptions = Object.keys(settings.subscriptions).length > 0;

  async function getOrMissing(operation: string, path: string, signal?: AbortSignal): Promise<unknown> {
    try {
      const res = await session.call(operation, signal, (bearer) =>
        kit.http.get(path, { headers: { Authorization: `Bearer ${bearer}` }, signal }),
      );
      return res.data as unknown;
    } catch (err) {
      // INFERENCE: 404 = no such profile. A wrong entity or table answers 404 too (configuration).
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  return {
    kind: 'per_contact',
    async readContact(identity, signal) {
      const email = identity.email;
      // Actito profiles are keyed by email (the adapter's upsert key, ACTITO_UNIQUE_KEY_ATTRIBUTE).
      if (!email) return 'not_readable';
      const ref = `${encodeURIComponent(settings.uniqueKeyAttribute)}=${encodeURIComponent(email)}`;
      const profile = await getOrMissing('readback-profile', `${base}/${ref}`, signal);
      if (profile === undefined) return 'unknown_contact';
      if (!isRecord(profile)) throw unexpectedResponse('actito', 'GET profile');
      let subscriptions = subscriptionMap(profile['subscriptions']);
      if (subscriptions === undefined && needsSubscriptions) {
        const profileId =
          typeof profile['profileId'] === 'number'
            ? String(profile['profileId'])
            : stringField(profile, 'profileId');
        const body = await getOrMissing(
          'readback-subscriptions',
          `${base}/${profileId === undefined ? ref : encodeURIComponent(profileId)}/subscription`,
          signal,
        );
        if (body === undefined) return 'unknown_contact';
        subscriptions = subscriptionMap(isRecord(body) ? body['subscriptions'] : undefined);
        if (subscriptions === undefined) throw unexpectedResponse('actito', 'GET subscription');
      }
      return mapActitoProfile(
        profile,
        subscriptions ?? new Map(),
        { email },
        settings,
        new Date(now()).toISOString(),
      );
    },
  };
}

import type { ActitoSettings } from './actito.settings.js';
import { type ChannelResult, isDecided, missingIdentity, notApplicable, onChannel } from '../kit/outcome.js';
import type { ChannelState, ContactSnapshot, PushOutcome } from '../types.js';

/** Actito profile upsert (esp-contracts.md §3.3, V4 shape known from public clients). */
export interface ActitoProfileBody {
  attributes: Array<{ name: string; value: string | boolean }>;
  subscriptions?: Array<{ name: string; subscribe: boolean }>;
  /** The consent proof Actito stores with marketingConsent: source, way and moment. */
  dataCollectionInformation?: { source: string; way: string; date: string };
}

export const MARKETING_CONSENT_ATTRIBUTE = 'marketingConsent';

type ProfileSettings = Pick<
  ActitoSettings,
  'uniqueKeyAttribute' | 'marketingConsentChannel' | 'subscriptions' | 'trackingAttribute' | 'dataCollection'
>;

/** `yyyy-MM-dd HH:mm:ss` in UTC (INFERENCE §3.3, as a public client sends it) or ISO-8601. */
export function formatCollectionDate(
  moment: string | undefined,
  nowIso: string,
  format: 'actito' | 'iso',
): string {
  const parsed = moment === undefined ? Number.NaN : Date.parse(moment);
  const date = new Date(Number.isNaN(parsed) ? Date.parse(nowIso) : parsed);
  const iso = date.toISOString();
  return format === 'iso' ? iso : `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

/**
 * The upsert for one contact, or the outcome when nothing can be sent. `marketingConsent` follows
 * one configured channel (it gates every campaign of the profile table); other channels map to
 * subscriptions when configured; tracking goes to its own attribute.
 *
 * `gated`: channels whose opt-in the upsert carries (the subscription is set) but Actito cannot act
 * on, because `marketingConsent` is false and "filters all campaigns" (esp-contracts.md §3.3), SMS
 * ones too. Their outcome is not_applicable with gatedByMarketingConsent once the upsert succeeds;
 * the subscription takes effect when marketingConsent is true again.
 */
export function buildProfileUpsert(
  snapshot: ContactSnapshot,
  settings: ProfileSettings,
  nowIso: string,
):
  | { body: ActitoProfileBody; covered: string[]; skipped: ChannelResult[]; gated: string[] }
  | { outcome: PushOutcome; covered: string[]; skipped: ChannelResult[] } {
  const attributes: ActitoProfileBody['attributes'] = [];
  const subscriptions: NonNullable<ActitoProfileBody['subscriptions']> = [];
  const skipped: ChannelResult[] = [];
  /** The channels the upsert carries: its outcome is theirs. */
  const covered: string[] = [];
  let consentState: ChannelState | undefined;

  for (const [channel, state] of Object.entries(snapshot.marketing)) {
    const isConsentChannel = channel === settings.marketingConsentChannel;
    const subscription = Object.hasOwn(settings.subscriptions, channel)
      ? settings.subscriptions[channel]
      : undefined;
    if (!isDecided(state)) {
      skipped.push(onChannel(channel, notApplicable(`${channel} consent is unknown; nothing to push`), false));
      continue;
    }
    if (!isConsentChannel && !subscription) {
      skipped.push(onChannel(channel, notApplicable(noSubscriptionReason(channel))));
      continue;
    }
    covered.push(channel);
    const optedIn = state.state === 'opted_in';
    if (isConsentChannel) {
      attributes.push({ name: MARKETING_CONSENT_ATTRIBUTE, value: optedIn });
      consentState = state;
    }
    if (subscription) subscriptions.push({ name: subscription, subscribe: optedIn });
  }

  if (isDecided(snapshot.tracking)) {
    if (settings.trackingAttribute) {
      attributes.push({ name: settings.trackingAttribute, value: snapshot.tracking.state === 'opted_in' });
      covered.push('tracking');
    } else {
      skipped.push(onChannel('tracking', notApplicable(TRACKING_NOT_CONFIGURED)));
    }
  }

  if (attributes.length === 0 && subscriptions.length === 0) {
    return { outcome: notApplicable('nothing to push to Actito'), covered, skipped };
  }
  const email = snapshot.identities.email;
  if (!email) return { outcome: missingIdentity('Actito profiles are keyed by email address'), covered, skipped };

  const body: ActitoProfileBody = {
    attributes: [{ name: settings.uniqueKeyAttribute, value: email }, ...attributes],
  };
  if (subscriptions.length > 0) body.subscriptions = subscriptions;
  const gated =
    consentState?.state === 'opted_out'
      ? covered.filter((c) => c !== settings.marketingConsentChannel && c !== 'tracking' && snapshot.marketing[c]?.state === 'opted_in')
      : [];
  if (consentState) {
    body.dataCollectionInformation = {
      source: consentState.source ?? settings.dataCollection.source,
      way: settings.dataCollection.way,
      date: formatCollectionDate(consentState.moment, nowIso, settings.dataCollection.dateFormat),
    };
  }
  return { body, covered: covered.filter((c) => !gated.includes(c)), skipped, gated };
}

export function gatedByMarketingConsent(channel: string, consentChannel: string): string {
  return `Actito's marketingConsent (our ${consentChannel} opt-out) filters every campaign, so the ${channel} opt-in (its subscription is set) cannot take effect`;
}

export const TRACKING_NOT_CONFIGURED = 'Actito tracking attribute not configured (ACTITO_TRACKING_ATTRIBUTE)';

/** A channel that is neither the marketingConsent channel nor mapped to a subscription. */
export function noSubscriptionReason(channel: string): string {
  return `Actito has no ${channel} subscription configured (ACTITO_SUBSCRIPTIONS maps channels to subscriptions)`;
}

/** Upsert path from the configured template (V5 paths are NOT FOUND, §3.3). */
export function profilePath(settings: Pick<ActitoSettings, 'profilePath' | 'entity' | 'table'>): string {
  return settings.profilePath
    .replace('{entity}', encodeURIComponent(settings.entity))
    .replace('{table}', encodeURIComponent(settings.table));
}

/**
 * Reads `{"accessToken":"…","expiresIn":"900s",…}` (§3.1). The lifetime is the shorter of the
 * configured TTL and the token's own, less a minute so a token never expires mid-request.
 */
export function parseTokenResponse(
  body: unknown,
  ttlMs: number,
): { accessToken: string; lifetimeMs: number } | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const b = body as Record<string, unknown>;
  if (typeof b['accessToken'] !== 'string' || b['accessToken'] === '') return undefined;
  const raw = b['expiresIn'];
  const seconds =
    typeof raw === 'number' ? raw : typeof raw === 'string' ? Number.parseFloat(raw) : Number.NaN;
  const own = Number.isFinite(seconds) && seconds > 0 ? Math.max(0, seconds * 1000 - 60_000) : ttlMs;
  return { accessToken: b['accessToken'], lifetimeMs: Math.min(ttlMs, own) };
}

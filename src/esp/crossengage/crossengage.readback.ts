import type { Logger } from 'pino';
import type { CrossEngageSettings } from './crossengage.settings.js';
import { createAdapterKit, statusOf } from '../kit/adapter-kit.js';
import { type ContactReadBack, isRecord, type RemoteSuppression, unexpectedResponse } from '../kit/readback-kit.js';
import { LEAD_HOLDER } from './crossengage.mapping.js';

/**
 * CrossEngage read-back (esp-contracts.md §2.5): `GET /users/{externalId}/recipient-status`
 * (`{"blacklisted","optOutAll","optOutChannels":[]}`), one request per full user. Leads (email-only
 * profiles) cannot be read: the endpoints key on the external id, so a contact without one is
 * `not_readable`. The bulk alternative (Raw Export to (S)FTP, §2.5) is out of reach of an HTTP read.
 *
 * The status carries no timestamp. `at` is the moment we read it (INFERENCE): an opt-out we see
 * happened after our last acknowledged push to CrossEngage and at the latest now, so the read time is
 * its upper bound. The engine should not treat it as the ESP's own record of the moment.
 */

/** DOC §2: the opt-out endpoints exist only in User Management v1, whatever CROSSENGAGE_API_VERSION says. */
const OPT_OUT_API_VERSION = '1';

type Channel = RemoteSuppression['channel'];
const CHANNELS: ReadonlySet<string> = new Set<Channel>(['email', 'sms', 'push']);

export interface RecipientStatus {
  blacklisted: boolean;
  optOutAll: boolean;
  optOutChannels: string[];
}

export function parseRecipientStatus(body: unknown): RecipientStatus | undefined {
  if (!isRecord(body)) return undefined;
  const { blacklisted, optOutAll, optOutChannels } = body;
  if (typeof optOutAll !== 'boolean') return undefined;
  if (optOutChannels !== undefined && !Array.isArray(optOutChannels)) return undefined;
  return {
    blacklisted: blacklisted === true,
    optOutAll,
    optOutChannels: (optOutChannels ?? []).filter((c): c is string => typeof c === 'string'),
  };
}

export function isAllClear(status: RecipientStatus): boolean {
  return !status.blacklisted && !status.optOutAll && status.optOutChannels.length === 0;
}

/**
 * One item per configured channel (CROSSENGAGE_CHANNEL_TYPES). CrossEngage is an opt-out system
 * (§2.2): no flag means the person may be messaged, so a clear channel is `opted_in`. A blacklisted
 * user (which blocks transactional mail too, §2.1) is opted out on every channel.
 */
export function mapRecipientStatus(
  status: RecipientStatus,
  identity: RemoteSuppression['identity'],
  channelTypes: Readonly<Record<string, string>>,
  at: string,
): RemoteSuppression[] {
  const optedOut = new Set(status.optOutChannels.map((c) => c.toUpperCase()));
  const out: RemoteSuppression[] = [];
  for (const [channel, channelType] of Object.entries(channelTypes)) {
    if (!CHANNELS.has(channel) || !channelType) continue;
    const type = status.blacklisted
      ? 'blacklisted'
      : status.optOutAll
        ? 'opt_out_all'
        : optedOut.has(channelType.toUpperCase())
          ? 'opt_out_channel'
          : undefined;
    out.push({
      identity,
      channel: channel as Channel,
      state: type === undefined ? 'opted_in' : 'opted_out',
      at,
      type: type ?? 'recipient_status',
    });
  }
  return out;
}

export interface CrossEngageReadBackOptions {
  now?: () => number;
  /**
   * `recipient-status` has no documented 404 (§2.1) and may answer all-clear for an unknown id; an
   * all-clear answer is therefore confirmed with `GET /users/{id}/optout-status`, which answers 404
   * for an unknown user. Default true (one more request only for contacts with no opt-out at all).
   */
  confirmUnknownUsers?: boolean;
}

export function createCrossEngageReadBack(
  settings: CrossEngageSettings,
  logger: Logger,
  options: CrossEngageReadBackOptions = {},
): ContactReadBack {
  const now = options.now ?? Date.now;
  const confirmUnknownUsers = options.confirmUnknownUsers ?? true;
  const kit = createAdapterKit(settings, logger.child({ readback: true }), {
    headers: {
      'X-XNG-AuthToken': settings.credentials.apiKey,
      'X-XNG-ApiVersion': OPT_OUT_API_VERSION,
    },
  });

  /** GET that answers undefined for 404 (the user does not exist). */
  async function getOrMissing(operation: string, path: string, signal?: AbortSignal): Promise<unknown> {
    try {
      const res = await kit.call(operation, signal, () => kit.http.get(path, { signal }));
      return res.data as unknown;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  return {
    kind: 'per_contact',
    async readContact(identity, signal, holder) {
      const externalId = identity.externalId;
      if (!externalId) return 'not_readable';
      // No such user, but our pushes put the state on the lead: it is there, only not readable.
      const missing = holder === LEAD_HOLDER ? 'not_readable' : 'unknown_contact';
      const user = `/users/${encodeURIComponent(externalId)}`;
      const body = await getOrMissing('readback-recipient-status', `${user}/recipient-status`, signal);
      if (body === undefined) return missing;
      const status = parseRecipientStatus(body);
      if (!status) throw unexpectedResponse('crossengage', 'GET recipient-status');
      if (confirmUnknownUsers && isAllClear(status)) {
        const exists = await getOrMissing('readback-optout-status', `${user}/optout-status`, signal);
        if (exists === undefined) return missing;
      }
      const who: RemoteSuppression['identity'] = {
        externalId,
        ...(identity.email ? { email: identity.email } : {}),
        ...(identity.businessUnit ? { businessUnit: identity.businessUnit } : {}),
      };
      return mapRecipientStatus(status, who, settings.channelTypes, new Date(now()).toISOString());
    },
  };
}

import { createHash } from 'node:crypto';
import type { DynamicYieldSettings } from './dynamic-yield.settings.js';
import { type ChannelResult, type DecidedState, isDecided, missingIdentity, notApplicable, onChannel } from '../kit/outcome.js';
import type { ContactSnapshot, PushOutcome } from '../types.js';

/**
 * Dynamic Yield (esp-contracts.md §4). Email and SMS go to the Reconnect opt-in/opt-out endpoints
 * (§4.3) or, in `event` mode, to the legacy `message-opt*-v1` events (§4.2). Push always uses the
 * events: the server-side events are documented for push (`pushID`) and Reconnect covers email/SMS.
 */

/** NOT FOUND per esp-contracts.md §4.3: the identifier schema; INFERENCE: `{type, value}` of the channel's identifier. */
export type ReconnectIdentifier =
  | { type: 'email' | 'phone'; value: string }
  | { email: string }
  | { phone: string };

export interface DyEvent {
  name: string;
  properties: Record<string, string>;
}

export interface DyEventBody {
  /** API-only user id: the externalId when known, else our contactId (no PII). */
  user: { id: string };
  session: { custom: string };
  events: DyEvent[];
}

/** `channels`: the contact's channels whose state the request carries (its outcome is theirs). */
export type DyRequest =
  | { kind: 'reconnect'; path: string; body: { identifier: ReconnectIdentifier }; channels: string[] }
  | { kind: 'events'; body: DyEventBody; channels: string[] };

export const OPT_OUT_TYPE = 'message-optout-v1';
export const OPT_IN_TYPE = 'message-optin-v1';
export const PUSH_ID_MISSING = 'Dynamic Yield push consent needs a push token (pushID)';

type DySettings = Pick<
  DynamicYieldSettings,
  'api' | 'reconnectChannels' | 'reconnectIdentifier' | 'emailCuidType' | 'pushChannelType'
>;

export function hashEmail(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase(), 'utf8').digest('hex');
}

function pushEvent(state: DecidedState, pushId: string, settings: DySettings): DyEvent {
  return state.state === 'opted_out'
    ? { name: 'Push Opt-Out', properties: { dyType: OPT_OUT_TYPE, pushID: pushId } }
    : {
        name: 'Push Opt-In',
        properties: { dyType: OPT_IN_TYPE, pushID: pushId, channelType: settings.pushChannelType },
      };
}

/** §4.2: opt-out by plain email (or externalId); opt-in by SHA-256 of the lower-cased email (or externalId). */
function emailEvent(
  state: DecidedState,
  identities: ContactSnapshot['identities'],
  settings: DySettings,
): DyEvent | PushOutcome {
  const optOut = state.state === 'opted_out';
  const name = optOut ? 'Email Opt-Out' : 'Email Opt-In';
  const dyType = optOut ? OPT_OUT_TYPE : OPT_IN_TYPE;
  if (settings.emailCuidType === 'external') {
    if (!identities.externalId)
      return missingIdentity('DY_EMAIL_CUID_TYPE=external but the contact has no externalId');
    return { name, properties: { dyType, cuidType: 'external', externalId: identities.externalId } };
  }
  if (!identities.email) return missingIdentity('Dynamic Yield email consent needs an email address');
  return optOut
    ? { name, properties: { dyType, cuidType: 'email', plainTextEmail: identities.email } }
    : { name, properties: { dyType, cuidType: 'hashedEmail', hashedEmail: hashEmail(identities.email) } };
}

function reconnectIdentifier(
  channel: string,
  identities: ContactSnapshot['identities'],
  shape: DySettings['reconnectIdentifier'],
): ReconnectIdentifier | undefined {
  const type = channel === 'sms' ? 'phone' : 'email';
  const value = type === 'phone' ? identities.phone : identities.email;
  if (!value) return undefined;
  if (shape === 'typed') return { type, value };
  return type === 'phone' ? { phone: value } : { email: value };
}

/** Requests for one contact, plus the outcomes of channels that need none. */
export function planRequests(
  snapshot: ContactSnapshot,
  settings: DySettings,
): { requests: DyRequest[]; skipped: ChannelResult[] } {
  const requests: DyRequest[] = [];
  const skipped: ChannelResult[] = [];
  const events: DyEvent[] = [];
  const eventChannels: string[] = [];
  const { identities } = snapshot;

  for (const [channel, state] of Object.entries(snapshot.marketing)) {
    const reconnectChannel = Object.hasOwn(settings.reconnectChannels, channel)
      ? settings.reconnectChannels[channel]
      : undefined;
    const eventChannel = channel === 'push' || (settings.api === 'event' && channel === 'email');
    if (!isDecided(state)) {
      skipped.push(onChannel(channel, notApplicable(`${channel} consent is unknown; nothing to push`), false));
      continue;
    }
    if (!eventChannel && (settings.api !== 'reconnect' || !reconnectChannel)) {
      skipped.push(
        onChannel(
          channel,
          notApplicable(`Dynamic Yield has no ${channel} channel${settings.api === 'event' ? ' in event mode' : ''}`),
        ),
      );
      continue;
    }
    if (channel === 'push') {
      if (identities.pushId) {
        events.push(pushEvent(state, identities.pushId, settings));
        eventChannels.push(channel);
      } else skipped.push(onChannel(channel, missingIdentity(PUSH_ID_MISSING)));
    } else if (eventChannel) {
      const event = emailEvent(state, identities, settings);
      if ('kind' in event) skipped.push(onChannel(channel, event));
      else {
        events.push(event);
        eventChannels.push(channel);
      }
    } else {
      const identifier = reconnectIdentifier(channel, identities, settings.reconnectIdentifier);
      if (!identifier) {
        skipped.push(
          onChannel(
            channel,
            missingIdentity(
              `Dynamic Yield ${channel} consent needs ${channel === 'sms' ? 'a phone number' : 'an email address'}`,
            ),
          ),
        );
        continue;
      }
      const direction = state.state === 'opted_out' ? 'opt-out' : 'opt-in';
      const path = `/v2/userdata/channels/${encodeURIComponent(reconnectChannel ?? channel)}/${direction}`;
      requests.push({ kind: 'reconnect', path, body: { identifier }, channels: [channel] });
    }
  }
  if (isDecided(snapshot.tracking)) skipped.push(onChannel('tracking', notApplicable('Dynamic Yield has no tracking consent')));
  if (events.length > 0) {
    const id = identities.externalId ?? snapshot.contactId;
    requests.push({
      kind: 'events',
      body: { user: { id }, session: { custom: snapshot.contactId }, events },
      channels: eventChannels,
    });
  }
  return { requests, skipped };
}

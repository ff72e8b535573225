import type { OptimizelyCampaignSettings } from './optimizely-campaign.settings.js';
import { type ChannelResult, isDecided, missingIdentity, onChannel, planChannels } from '../kit/outcome.js';
import type { ContactSnapshot } from '../types.js';
import { blacklistPattern, type HttpOperation, httpApiParams } from './optimizely-campaign.mapping.js';

/**
 * Turns a contact's state into Optimizely operations (esp-contracts.md §1). With the REST API,
 * opt-outs of the same media type are later merged into bulk requests; the HTTP API is one
 * recipient per call and knows no media type, so it covers email only.
 */
export type OptimizelyOp = (
  | { api: 'rest'; type: 'unsubscribe' | 'resubscribe'; mediaType: string; recipientId: string }
  | { api: 'rest'; type: 'blacklist'; entry: string }
  | { api: 'rest'; type: 'unblacklist'; entry: string }
  | { api: 'rest'; type: 'tracking-optout' | 'tracking-optin'; recipientId: string }
  | { api: 'http'; operation: HttpOperation; params: Record<string, string> }
) & {
  /** The contact's channel (`email`, `sms`, `push`… or `tracking`) the operation writes. */
  channel: string;
};

type PlanSettings = Pick<
  OptimizelyCampaignSettings,
  | 'writeApi'
  | 'optOutAction'
  | 'recipientId'
  | 'mediaTypes'
  | 'optInProcessId'
  | 'blacklistReason'
  | 'reoptInClearsGlobal'
>;

/** The client-wide unsubscribe list, where HTTP API and mail-link unsubscribes land (§1.2 default mediaType). */
const GLOBAL = 'GLOBAL';

export function planOperations(
  snapshot: ContactSnapshot,
  settings: PlanSettings,
): { ops: OptimizelyOp[]; skipped: ChannelResult[] } {
  const rest = settings.writeApi === 'rest';
  const channelMap = rest ? settings.mediaTypes : { email: settings.mediaTypes['email'] ?? 'EMAIL' };
  const { targets, skipped } = planChannels('Optimizely Campaign', snapshot, channelMap, (channel) =>
    rest
      ? `Optimizely Campaign has no media type for ${channel} (OPTIMIZELY_MEDIA_TYPES)`
      : `the Optimizely HTTP API (form service) has no media type: it carries email only, not ${channel}`,
  );
  const ops: OptimizelyOp[] = [];
  const { email } = snapshot.identities;
  const recipientId = settings.recipientId === 'email' ? email : snapshot.identities.externalId;
  const noRecipient = (channel: string) =>
    skipped.push(
      onChannel(channel, missingIdentity(`Optimizely Campaign recipient id (${settings.recipientId}) is missing`)),
    );
  const httpOp = (
    channel: string,
    operation: HttpOperation,
    target: { recipientId?: string; pattern?: string },
  ) => ops.push({ api: 'http', operation, params: httpApiParams(operation, target, settings), channel });

  for (const target of targets) {
    const optOut = target.state.state === 'opted_out';
    const { channel } = target;
    if (target.channel === 'email' && settings.optOutAction === 'blacklist') {
      if (!email) {
        skipped.push(onChannel(channel, missingIdentity('Optimizely Campaign blocklist entries need an email address')));
      } else if (rest) {
        ops.push({ api: 'rest', type: optOut ? 'blacklist' : 'unblacklist', entry: blacklistPattern(email), channel });
      } else {
        httpOp(channel, optOut ? 'blacklist' : 'unblacklist', { pattern: blacklistPattern(email) });
      }
    } else if (!recipientId) {
      noRecipient(channel);
    } else if (rest) {
      ops.push({
        api: 'rest',
        type: optOut ? 'unsubscribe' : 'resubscribe',
        mediaType: target.espChannel,
        recipientId,
        channel,
      });
      // A GLOBAL entry keeps email suppressed after the EMAIL one is gone, so a re-opt-in lifts both.
      if (
        !optOut &&
        target.channel === 'email' &&
        settings.reoptInClearsGlobal &&
        target.espChannel !== GLOBAL
      ) {
        ops.push({ api: 'rest', type: 'resubscribe', mediaType: GLOBAL, recipientId, channel });
      }
    } else {
      httpOp(channel, optOut ? 'unsubscribe' : 'subscribe', { recipientId });
    }
  }

  if (isDecided(snapshot.tracking)) {
    const optOut = snapshot.tracking.state === 'opted_out';
    if (!recipientId) noRecipient('tracking');
    else if (rest)
      ops.push({ api: 'rest', type: optOut ? 'tracking-optout' : 'tracking-optin', recipientId, channel: 'tracking' });
    else httpOp('tracking', optOut ? 'createtrackingoptout' : 'deletetrackingoptout', { recipientId });
  }
  return { ops, skipped };
}

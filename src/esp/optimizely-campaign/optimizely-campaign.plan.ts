import type { OptimizelyCampaignSettings } from '../../../config/esps.js';
import { isDecided, missingIdentity, planChannels } from '../outcome.js';
import type { ContactSnapshot, PushOutcome } from '../types.js';
import { blacklistPattern, type HttpOperation, httpApiParams } from './optimizely-campaign.mapping.js';

/**
 * Turns a contact's state into Optimizely operations (esp-contracts.md §1). With the REST API,
 * opt-outs of the same media type are later merged into bulk requests; the HTTP API is one
 * recipient per call and knows no media type, so it covers email only.
 */
export type OptimizelyOp =
  | { api: 'rest'; type: 'unsubscribe' | 'resubscribe'; mediaType: string; recipientId: string }
  | { api: 'rest'; type: 'blacklist'; entry: string }
  | { api: 'rest'; type: 'unblacklist'; entry: string }
  | { api: 'rest'; type: 'tracking-optout' | 'tracking-optin'; recipientId: string }
  | { api: 'http'; operation: HttpOperation; params: Record<string, string> };

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
): { ops: OptimizelyOp[]; skipped: PushOutcome[] } {
  const rest = settings.writeApi === 'rest';
  const channelMap = rest ? settings.mediaTypes : { email: settings.mediaTypes['email'] ?? 'EMAIL' };
  const { targets, skipped } = planChannels('Optimizely Campaign', snapshot, channelMap);
  const ops: OptimizelyOp[] = [];
  const { email } = snapshot.identities;
  const recipientId = settings.recipientId === 'email' ? email : snapshot.identities.externalId;
  const noRecipient = () =>
    skipped.push(missingIdentity(`Optimizely Campaign recipient id (${settings.recipientId}) is missing`));
  const httpOp = (operation: HttpOperation, target: { recipientId?: string; pattern?: string }) =>
    ops.push({ api: 'http', operation, params: httpApiParams(operation, target, settings) });

  for (const target of targets) {
    const optOut = target.state.state === 'opted_out';
    if (target.channel === 'email' && settings.optOutAction === 'blacklist') {
      if (!email) {
        skipped.push(missingIdentity('Optimizely Campaign blocklist entries need an email address'));
      } else if (rest) {
        ops.push({ api: 'rest', type: optOut ? 'blacklist' : 'unblacklist', entry: blacklistPattern(email) });
      } else {
        httpOp(optOut ? 'blacklist' : 'unblacklist', { pattern: blacklistPattern(email) });
      }
    } else if (!recipientId) {
      noRecipient();
    } else if (rest) {
      ops.push({
        api: 'rest',
        type: optOut ? 'unsubscribe' : 'resubscribe',
        mediaType: target.espChannel,
        recipientId,
      });
      // A GLOBAL entry keeps email suppressed after the EMAIL one is gone, so a re-opt-in lifts both.
      if (
        !optOut &&
        target.channel === 'email' &&
        settings.reoptInClearsGlobal &&
        target.espChannel !== GLOBAL
      ) {
        ops.push({ api: 'rest', type: 'resubscribe', mediaType: GLOBAL, recipientId });
      }
    } else {
      httpOp(optOut ? 'unsubscribe' : 'subscribe', { recipientId });
    }
  }

  if (isDecided(snapshot.tracking)) {
    const optOut = snapshot.tracking.state === 'opted_out';
    if (!recipientId) noRecipient();
    else if (rest)
      ops.push({ api: 'rest', type: optOut ? 'tracking-optout' : 'tracking-optin', recipientId });
    else httpOp(optOut ? 'createtrackingoptout' : 'deletetrackingoptout', { recipientId });
  }
  return { ops, skipped };
}

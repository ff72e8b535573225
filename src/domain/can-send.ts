import type { Channel, ConsentPolicy, Decision, EffectiveState } from './consent.js';

/** Suppressions that consent cannot lift; without a channel they apply to every channel. */
export type HardSuppression = { reason: 'blocklist' | 'hard_bounce' | 'complaint'; channel?: Channel };

export interface SendVerdict {
  allowed: boolean;
  why: string;
}

/**
 * Transactional messages ignore marketing consent (CrossEngage's transactional realtime
 * campaigns) but never hard suppression. Marketing to a channel the policy does not configure is
 * refused: with no model for it, there is no rule that could make it lawful.
 */
export function canSend(
  contact: { effective: EffectiveState; suppressions?: HardSuppression[] },
  channel: Channel,
  opts: { transactional: boolean },
  policy: ConsentPolicy,
): SendVerdict {
  const hard = (contact.suppressions ?? []).find((s) => s.channel === undefined || s.channel === channel);
  if (hard !== undefined) {
    const scope = hard.channel === undefined ? 'all channels' : hard.channel;
    return { allowed: false, why: `hard suppression: ${hard.reason} (${scope})` };
  }
  if (opts.transactional) return { allowed: true, why: 'transactional: marketing consent not required' };
  if (!policy.channels.includes(channel)) {
    return { allowed: false, why: `channel ${JSON.stringify(channel)} is not configured` };
  }

  const decision: Decision | undefined = Object.hasOwn(contact.effective.marketing, channel)
    ? contact.effective.marketing[channel]
    : undefined;
  const state = decision?.state ?? 'unknown';
  const model = Object.hasOwn(policy.model, channel) ? policy.model[channel] : 'opt_out';
  const detail = decision === undefined ? 'no decision' : decision.reason;
  if (model === 'opt_in') {
    return state === 'opted_in'
      ? { allowed: true, why: `marketing: ${channel} opted_in (${detail})` }
      : {
          allowed: false,
          why: `marketing: ${channel} ${state} (${detail}); the opt_in model requires opted_in`,
        };
  }
  return state === 'opted_out'
    ? { allowed: false, why: `marketing: ${channel} opted_out (${detail})` }
    : { allowed: true, why: `marketing: ${channel} ${state} (${detail}); the opt_out model allows it` };
}

import type { ChannelState, ContactSnapshot, PushOutcome } from './types.js';

/** A channel state with something to push (`unknown` never reaches an ESP). */
export type DecidedState = ChannelState & { state: 'opted_in' | 'opted_out' };

export interface ChannelTarget<T> {
  channel: string;
  /** The ESP's own name for the channel (CrossEngage `MAIL`, Optimizely `EMAIL`…). */
  espChannel: T;
  state: DecidedState;
}

export const notApplicable = (detail: string): PushOutcome => ({
  kind: 'not_applicable',
  detail,
});
export const deadLetter = (reason: string): PushOutcome => ({
  kind: 'dead_letter',
  reason,
});
export const missingIdentity = (detail: string): PushOutcome => ({
  kind: 'missing_identity',
  detail,
});
export const PUSHED: PushOutcome = Object.freeze({ kind: 'pushed' });
export const ALREADY_IN_STATE: PushOutcome = Object.freeze({
  kind: 'already_in_state',
});

export function isDecided(state: ChannelState | undefined): state is DecidedState {
  return state?.state === 'opted_in' || state?.state === 'opted_out';
}

/**
 * Splits a snapshot's marketing channels into what this ESP can receive and why the rest is skipped:
 * a channel the ESP does not have, or a state of `unknown`, is not_applicable.
 */
export function planChannels<T>(
  esp: string,
  snapshot: ContactSnapshot,
  channelMap: Readonly<Record<string, T | undefined>>,
): { targets: ChannelTarget<T>[]; skipped: PushOutcome[] } {
  const targets: ChannelTarget<T>[] = [];
  const skipped: PushOutcome[] = [];
  for (const [channel, state] of Object.entries(snapshot.marketing)) {
    const espChannel = Object.hasOwn(channelMap, channel) ? channelMap[channel] : undefined;
    if (espChannel === undefined || espChannel === '') {
      skipped.push(notApplicable(`${esp} has no ${channel} channel`));
    } else if (!isDecided(state)) {
      skipped.push(notApplicable(`${channel} consent is unknown; nothing to push`));
    } else {
      targets.push({ channel, espChannel, state });
    }
  }
  return { targets, skipped };
}

// Outcomes that need someone's attention outrank success: an opt-out that did not reach the ESP
// must not hide behind another channel that did.
const RANK: Record<PushOutcome['kind'], number> = {
  not_applicable: 0,
  already_in_state: 1,
  pushed: 2,
  missing_identity: 3,
  reactivation_blocked: 4,
  dead_letter: 5,
};

function text(o: PushOutcome): string | undefined {
  if ('detail' in o) return o.detail;
  if ('reason' in o) return o.reason;
  return undefined;
}

/** One outcome per contact from its per-channel outcomes; details of the winning kind are joined. */
export function combineOutcomes(outcomes: readonly PushOutcome[]): PushOutcome {
  if (outcomes.length === 0) return notApplicable('nothing to push');
  let top = outcomes[0] as PushOutcome;
  for (const o of outcomes) if (RANK[o.kind] > RANK[top.kind]) top = o;
  const texts = [
    ...new Set(
      outcomes
        .filter((o) => o.kind === top.kind)
        .map(text)
        .filter((t) => t !== undefined),
    ),
  ];
  const joined = texts.join('; ');
  switch (top.kind) {
    case 'pushed':
    case 'already_in_state':
      return top;
    case 'not_applicable':
    case 'missing_identity':
      return { kind: top.kind, detail: joined };
    case 'reactivation_blocked':
    case 'dead_letter':
      return { kind: top.kind, reason: joined };
  }
}

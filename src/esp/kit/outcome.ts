import type { ChannelOutcome, ChannelState, ContactSnapshot, PushOutcome } from '../types.js';

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
 * One channel's outcome while an adapter works: `decided` false for a channel whose state is
 * `unknown` (it shapes the contact's overall outcome but gets no per-channel entry).
 */
export interface ChannelResult {
  channel: string;
  outcome: PushOutcome;
  decided: boolean;
}

export const onChannel = (channel: string, outcome: PushOutcome, decided = true): ChannelResult => ({
  channel,
  outcome,
  decided,
});

/** The same outcome for several channels (one request carried them all). */
export function onChannels(channels: readonly string[], outcome: PushOutcome): ChannelResult[] {
  return channels.map((channel) => onChannel(channel, outcome));
}

/**
 * Splits a snapshot's marketing channels into what this ESP can receive and why the rest is skipped:
 * a channel the ESP does not have, or a state of `unknown`, is not_applicable.
 */
export function planChannels<T>(
  esp: string,
  snapshot: ContactSnapshot,
  channelMap: Readonly<Record<string, T | undefined>>,
  noChannelReason: (channel: string) => string = (channel) => `${esp} has no ${channel} channel`,
): { targets: ChannelTarget<T>[]; skipped: ChannelResult[] } {
  const targets: ChannelTarget<T>[] = [];
  const skipped: ChannelResult[] = [];
  for (const [channel, state] of Object.entries(snapshot.marketing)) {
    const espChannel = Object.hasOwn(channelMap, channel) ? channelMap[channel] : undefined;
    if (!isDecided(state)) {
      skipped.push(onChannel(channel, notApplicable(`${channel} consent is unknown; nothing to push`), false));
    } else if (espChannel === undefined || espChannel === '') {
      skipped.push(onChannel(channel, notApplicable(noChannelReason(channel))));
    } else {
      targets.push({ channel, espChannel, state });
    }
  }
  return { targets, skipped };
}

/** A channel's outcome as stored: the kind, and why when it is not in state. */
export function toChannelOutcome(o: PushOutcome): ChannelOutcome {
  switch (o.kind) {
    case 'pushed':
    case 'already_in_state':
      return { kind: o.kind };
    case 'not_applicable':
    case 'missing_identity':
      return { kind: o.kind, reason: o.detail };
    case 'reactivation_blocked':
    case 'dead_letter':
      return { kind: o.kind, reason: o.reason };
  }
}

/**
 * The contact's outcome from its channels' outcomes: the overall kind as combineOutcomes ranks it,
 * plus one entry per decided channel (a channel reported twice keeps its most urgent outcome).
 */
export function combineChannels(results: readonly ChannelResult[]): PushOutcome {
  const overall = combineOutcomes(results.map((r) => r.outcome));
  const byChannel = new Map<string, PushOutcome[]>();
  for (const r of results) {
    if (!r.decided) continue;
    const outcomes = byChannel.get(r.channel);
    if (outcomes) outcomes.push(r.outcome);
    else byChannel.set(r.channel, [r.outcome]);
  }
  if (byChannel.size === 0) return overall;
  const channels: Record<string, ChannelOutcome> = {};
  // Code-point order, not localeCompare (ICU, slow on this per-contact path); channel names are ASCII.
  for (const [channel, outcomes] of [...byChannel].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    channels[channel] = toChannelOutcome(combineOutcomes(outcomes));
  }
  return { ...overall, channels };
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
  // The common case carries no text to join: answered without collecting any.
  if (top.kind === 'pushed' || top.kind === 'already_in_state') return { kind: top.kind };
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
    case 'not_applicable':
    case 'missing_identity':
      return { kind: top.kind, detail: joined };
    case 'reactivation_blocked':
    case 'dead_letter':
      return { kind: top.kind, reason: joined };
  }
}

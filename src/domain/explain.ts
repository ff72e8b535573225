import type { Decision, EffectiveState, ListingRef } from './consent.js';

/**
 * One line per suppressed channel (and for tracking), for the per-contact view and compliance
 * questions such as "why does this person get no newsletter?". Unknown states are not listed:
 * whether they suppress depends on the channel's model, which canSend reports.
 */
export function explainSuppression(state: EffectiveState): string[] {
  const lines = Object.entries(state.marketing)
    .filter(([, decision]) => decision.state === 'opted_out')
    .map(([channel, decision]) => `${channel} opted_out: ${explainDecision(decision)}`);
  if (state.tracking.state === 'opted_out')
    lines.push(`tracking opted_out: ${explainDecision(state.tracking)}`);
  return lines;
}

const at = (ref: ListingRef): string => `${ref.source} at ${ref.moment}`;

export function explainDecision(decision: Decision): string {
  const by = decision.decidedBy;
  if (by === undefined) return 'no listing';
  let text: string;
  switch (decision.reason) {
    case 'forced_opt_in':
      text = `forced opt-in via ${at(by)}`;
      break;
    case 'forced_opt_out':
      text = `forced opt-out via ${at(by)}`;
      break;
    case 'recipient_objection':
      text = `recipient objection via ${at(by)}`;
      if (decision.overrides !== undefined)
        text += `, newer than the forced opt-in via ${at(decision.overrides)}`;
      break;
    case 'opt_out_priority':
      // An unforced decider is authoritative only when it comes from a recipient source.
      text = decision.authoritative
        ? `recipient objection via ${at(by)}`
        : `opt-out via ${at(by)} (opt-outs take priority without a forced opt-in)`;
      break;
    case 'opt_in':
      text = `opt-in via ${at(by)}`;
      break;
    default:
      text = `${decision.reason} via ${at(by)}`;
  }
  if (decision.blockedOptIns.length > 0) {
    const blocked = decision.blockedOptIns.map(at).join(', ');
    text += `; later opt-in not honoured (${blocked}): only a forced opt-in, e.g. a double-opt-in confirmation, lifts it`;
  }
  return text;
}

import { describe, expect, it } from 'vitest';
import { combineOutcomes, planChannels } from '../../../src/esp/outcome.js';
import type { ContactSnapshot, PushOutcome } from '../../../src/esp/types.js';

const snapshot = (marketing: ContactSnapshot['marketing']): ContactSnapshot => ({
  contactId: 'c1',
  version: 1,
  identities: {},
  marketing,
  tracking: { state: 'unknown', authoritative: false },
});

describe('combineOutcomes', () => {
  const pushed: PushOutcome = { kind: 'pushed' };
  const already: PushOutcome = { kind: 'already_in_state' };
  const na = (detail: string): PushOutcome => ({ kind: 'not_applicable', detail });

  it.each<[string, PushOutcome[], PushOutcome]>([
    ['empty → not_applicable', [], { kind: 'not_applicable', detail: 'nothing to push' }],
    ['pushed beats already and not_applicable', [na('a'), already, pushed], pushed],
    ['already beats not_applicable', [na('a'), already], already],
    [
      'not_applicable details are joined',
      [na('a'), na('b'), na('a')],
      { kind: 'not_applicable', detail: 'a; b' },
    ],
    [
      'missing identity beats pushed',
      [pushed, { kind: 'missing_identity', detail: 'no phone' }],
      { kind: 'missing_identity', detail: 'no phone' },
    ],
    [
      'reactivation_blocked beats missing identity',
      [
        { kind: 'missing_identity', detail: 'x' },
        { kind: 'reactivation_blocked', reason: 'lead' },
      ],
      { kind: 'reactivation_blocked', reason: 'lead' },
    ],
    [
      'dead letter beats everything',
      [pushed, { kind: 'reactivation_blocked', reason: 'r' }, { kind: 'dead_letter', reason: 'HTTP 400' }],
      { kind: 'dead_letter', reason: 'HTTP 400' },
    ],
  ])('%s', (_label, outcomes, expected) => {
    expect(combineOutcomes(outcomes)).toEqual(expected);
  });
});

describe('planChannels', () => {
  it('targets decided, mapped channels; unknown state and unmapped channels are not applicable', () => {
    const { targets, skipped } = planChannels(
      'X',
      snapshot({
        email: { state: 'opted_out', authoritative: true },
        sms: { state: 'unknown', authoritative: false },
        push: { state: 'opted_in', authoritative: false },
      }),
      { email: 'MAIL', sms: 'SMS' },
    );
    expect(targets.map((t) => [t.channel, t.espChannel, t.state.state])).toEqual([
      ['email', 'MAIL', 'opted_out'],
    ]);
    expect(skipped).toEqual([
      { kind: 'not_applicable', detail: 'sms consent is unknown; nothing to push' },
      { kind: 'not_applicable', detail: 'X has no push channel' },
    ]);
  });

  it('ignores inherited keys such as toString', () => {
    const { targets } = planChannels(
      'X',
      snapshot({ toString: { state: 'opted_in' as const, authoritative: false } }),
      {},
    );
    expect(targets).toEqual([]);
  });
});

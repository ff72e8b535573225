import { describe, expect, it } from 'vitest';
import { combineChannels, combineOutcomes, onChannel, planChannels } from '../../../src/esp/kit/outcome.js';
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
      { channel: 'sms', decided: false, outcome: { kind: 'not_applicable', detail: 'sms consent is unknown; nothing to push' } },
      { channel: 'push', decided: true, outcome: { kind: 'not_applicable', detail: 'X has no push channel' } },
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

describe('combineChannels', () => {
  it('keeps the overall ranking and adds one entry per decided channel, the most urgent when reported twice', () => {
    const out = combineChannels([
      onChannel('email', { kind: 'pushed' }),
      onChannel('email', { kind: 'already_in_state' }),
      onChannel('sms', { kind: 'missing_identity', detail: 'no phone' }),
      onChannel('push', { kind: 'not_applicable', detail: 'push consent is unknown; nothing to push' }, false),
      onChannel('tracking', { kind: 'not_applicable', detail: 'no tracking here' }),
    ]);
    expect(out).toEqual({
      kind: 'missing_identity',
      detail: 'no phone',
      channels: {
        email: { kind: 'pushed' },
        sms: { kind: 'missing_identity', reason: 'no phone' },
        tracking: { kind: 'not_applicable', reason: 'no tracking here' },
      },
    });
  });

  it('no decided channel: the overall outcome alone', () => {
    expect(combineChannels([onChannel('email', { kind: 'not_applicable', detail: 'unknown' }, false)])).toEqual({
      kind: 'not_applicable',
      detail: 'unknown',
    });
  });
});

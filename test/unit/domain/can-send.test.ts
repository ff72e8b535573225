import { describe, expect, it } from 'vitest';
import {
  canSend,
  createPolicy,
  defaultPolicy,
  type EffectiveState,
  type EffectiveValue,
  explainSuppression,
  type HardSuppression,
  resolve,
} from '../../../src/domain/index.js';
import { applyAll, at, ev } from './fixtures.js';

/** A contact whose email channel is in `state`; sms is left unknown. */
function contactWith(state: EffectiveValue): EffectiveState {
  if (state === 'unknown') return resolve([], defaultPolicy);
  const value = state === 'opted_in' ? 'opt_in' : 'opt_out';
  return resolve(
    applyAll([ev({ id: 'e', channel: 'email', value, source: 'preference_center', minute: 1 })]).listings,
    defaultPolicy,
  );
}

const optInEmail = createPolicy({ model: { email: 'opt_in' } });

describe('canSend matrix', () => {
  // [email state, model, transactional, hard suppression, allowed]
  const matrix: Array<[EffectiveValue, 'opt_out' | 'opt_in', boolean, HardSuppression | undefined, boolean]> =
    [
      ['opted_in', 'opt_out', false, undefined, true],
      ['unknown', 'opt_out', false, undefined, true],
      ['opted_out', 'opt_out', false, undefined, false],
      ['opted_in', 'opt_in', false, undefined, true],
      ['unknown', 'opt_in', false, undefined, false],
      ['opted_out', 'opt_in', false, undefined, false],
      ['opted_out', 'opt_out', true, undefined, true],
      ['opted_out', 'opt_in', true, undefined, true],
      ['unknown', 'opt_in', true, undefined, true],
      ['opted_in', 'opt_out', true, { reason: 'blocklist' }, false],
      ['opted_in', 'opt_out', false, { reason: 'hard_bounce', channel: 'email' }, false],
      ['opted_in', 'opt_in', true, { reason: 'complaint', channel: 'email' }, false],
      ['opted_in', 'opt_out', false, { reason: 'hard_bounce', channel: 'sms' }, true],
      ['opted_in', 'opt_out', true, { reason: 'hard_bounce', channel: 'sms' }, true],
    ];

  it.each(matrix)(
    'email %s, %s model, transactional=%s, suppression %j → allowed=%s',
    (state, model, transactional, suppression, allowed) => {
      const policy = model === 'opt_in' ? optInEmail : defaultPolicy;
      const contact = { effective: contactWith(state), suppressions: suppression ? [suppression] : [] };
      const verdict = canSend(contact, 'email', { transactional }, policy);
      expect(verdict.allowed).toBe(allowed);
      expect(verdict.why.length).toBeGreaterThan(0);
      if (suppression && !allowed) expect(verdict.why).toContain(suppression.reason);
    },
  );

  it('treats a missing suppressions list as none', () => {
    expect(
      canSend({ effective: contactWith('unknown') }, 'email', { transactional: false }, defaultPolicy)
        .allowed,
    ).toBe(true);
  });

  it('refuses marketing on a channel the policy does not configure, but not transactional messages', () => {
    const effective = contactWith('opted_in');
    expect(canSend({ effective }, 'fax', { transactional: false }, defaultPolicy)).toEqual({
      allowed: false,
      why: 'channel "fax" is not configured',
    });
    expect(canSend({ effective }, 'fax', { transactional: true }, defaultPolicy).allowed).toBe(true);
  });

  it('handles channel names that are Object.prototype members end to end', () => {
    const policy = createPolicy({
      channels: ['__proto__', 'constructor'],
      model: Object.fromEntries([['constructor', 'opt_in' as const]]),
    });
    const { listings } = applyAll(
      [
        ev({ id: 'p', channel: '__proto__', value: 'opt_out', source: 'sms_stop', minute: 1 }),
        ev({ id: 'c', channel: 'constructor', value: 'opt_in', source: 'form', minute: 1 }),
      ],
      policy,
    );
    const effective = resolve(listings, policy);
    expect(Object.hasOwn(effective.marketing, '__proto__')).toBe(true);
    expect(canSend({ effective }, '__proto__', { transactional: false }, policy).allowed).toBe(false);
    expect(canSend({ effective }, 'constructor', { transactional: false }, policy).allowed).toBe(true);
    const empty = resolve([], policy);
    expect(canSend({ effective: empty }, 'constructor', { transactional: false }, policy).allowed).toBe(
      false,
    );
  });
});

describe('explainSuppression', () => {
  it('names the rule, the source and the moment for each suppressed channel', () => {
    const { listings } = applyAll([
      ev({ id: 'a', channel: 'sms', value: 'opt_out', source: 'import', minute: 1 }),
      ev({ id: 'b', channel: 'email', value: 'opt_in', source: 'form', minute: 2, force: true }),
      ev({ id: 'c', channel: 'push', value: 'opt_out', source: 'api', minute: 3, force: true }),
      ev({ id: 'd', channel: 'email', value: 'opt_out', source: 'list_unsubscribe', minute: 4 }),
    ]);
    expect(explainSuppression(resolve(listings, defaultPolicy))).toEqual([
      `email opted_out: recipient objection via list_unsubscribe at ${at(4)}, newer than the forced opt-in via form at ${at(2)}`,
      `sms opted_out: opt-out via import at ${at(1)} (opt-outs take priority without a forced opt-in)`,
      `push opted_out: forced opt-out via api at ${at(3)}`,
    ]);
  });

  it('is empty when nothing is suppressed', () => {
    expect(explainSuppression(contactWith('opted_in'))).toEqual([]);
    expect(explainSuppression(contactWith('unknown'))).toEqual([]);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addsOptOut, createPolicy, type EffectiveState, type Lane, laneOfChange, laneOfRepair, mergeLane, resolve } from '../../../src/domain/index.js';

const policy = createPolicy();
const state = (email: 'opted_in' | 'opted_out' | 'unknown', tracking: 'opted_in' | 'opted_out' | 'unknown' = 'unknown'): EffectiveState => {
  const base = resolve([], policy);
  return {
    marketing: { ...base.marketing, email: { ...base.marketing['email']!, state: email } },
    tracking: { ...base.tracking, state: tracking },
  };
};

describe('laneOfChange', () => {
  it('puts a person’s own new opt-out first, other opt-outs second, everything else last', () => {
    expect(laneOfChange('unsubscribe_link', state('opted_in'), state('opted_out'), policy)).toBe(1);
    expect(laneOfChange('list_unsubscribe', state('unknown'), state('opted_out'), policy)).toBe(1);
    expect(laneOfChange('esp:ometria', state('opted_in'), state('opted_out'), policy)).toBe(1);
    expect(laneOfChange('preference_center', state('opted_in', 'opted_in'), state('opted_in', 'opted_out'), policy)).toBe(1);
    expect(laneOfChange('import', state('opted_in'), state('opted_out'), policy)).toBe(2);
    expect(laneOfChange('api', state('unknown'), state('opted_out'), policy)).toBe(2);
    expect(laneOfChange('import', state('unknown'), state('opted_in'), policy)).toBe(3);
    expect(laneOfChange('unsubscribe_link', state('opted_out'), state('opted_in'), policy)).toBe(3);
    // authority-only change (already opted out): nothing new is refused
    expect(laneOfChange('unsubscribe_link', state('opted_out'), state('opted_out'), policy)).toBe(3);
  });

  it('a repair that re-sends an opt-out goes in lane 2, any other repair in lane 3', () => {
    expect(laneOfRepair(state('opted_out'))).toBe(2);
    expect(laneOfRepair(state('opted_in', 'opted_out'))).toBe(2);
    expect(laneOfRepair(state('opted_in'))).toBe(3);
  });

  it('mergeLane only ever raises urgency, whatever order the changes come in', () => {
    const lane = fc.constantFrom<Lane>(1, 2, 3);
    fc.assert(
      fc.property(fc.array(lane, { minLength: 1, maxLength: 20 }), (lanes) => {
        const merged = lanes.reduce<Lane | undefined>((acc, l) => mergeLane(acc, l), undefined);
        expect(merged).toBe(Math.min(...lanes));
        const reversed = [...lanes].reverse().reduce<Lane | undefined>((acc, l) => mergeLane(acc, l), undefined);
        expect(reversed).toBe(merged);
      }),
    );
  });

  it('addsOptOut is true exactly when some channel or tracking becomes opted out', () => {
    const value = fc.constantFrom<'opted_in' | 'opted_out' | 'unknown'>('opted_in', 'opted_out', 'unknown');
    fc.assert(
      fc.property(value, value, value, value, (e1, t1, e2, t2) => {
        const expected = (e2 === 'opted_out' && e1 !== 'opted_out') || (t2 === 'opted_out' && t1 !== 'opted_out');
        expect(addsOptOut(state(e1, t1), state(e2, t2))).toBe(expected);
      }),
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BULK_MODE_EXIT_FRACTION,
  bulkDisposition,
  drainSeconds,
  laneThreeContactsPerSecond,
  nextBulkMode,
} from '../../../src/domain/index.js';

describe('bulk mode rule', () => {
  it('Actito at its documented budget: 100 calls a minute, 20% kept for lane 1, one contact a call', () => {
    const perSecond = laneThreeContactsPerSecond({ calls: 100, perMs: 60_000, reservePercent: 20, contactsPerCall: 1 });
    expect(perSecond).toBeCloseTo(80 / 60, 6);
    // a million imported contacts: about 208 hours of per-call pushes, far beyond one hour
    expect(drainSeconds(1_000_000, perSecond) / 3600).toBeCloseTo(208.3, 0);
    expect(nextBulkMode(false, drainSeconds(1_000_000, perSecond), 3600)).toBe(true);
    // 4,800 contacts drain in exactly one hour: not yet bulk
    expect(nextBulkMode(false, drainSeconds(4_800, perSecond), 3600)).toBe(false);
  });

  it('enters only above the threshold, leaves only at or below its exit fraction, never when off (0)', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.double({ min: 0, max: 1e7, noNaN: true }), fc.integer({ min: 0, max: 86_400 }), (on, seconds, after) => {
        const next = nextBulkMode(on, seconds, after);
        if (after === 0) expect(next).toBe(false);
        else if (seconds > after) expect(next).toBe(true);
        else if (seconds <= after * BULK_MODE_EXIT_FRACTION) expect(next).toBe(false);
        else expect(next).toBe(on); // between the two: the mode stays as it is
      }),
    );
  });

  it('does not flap: a backlog that only shrinks switches bulk mode on and off at most once each', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(1_000_000), { minLength: 1, maxLength: 50 }), fc.integer({ min: 1, max: 7_200 }), (sizes, after) => {
        const shrinking = [...sizes].sort((a, b) => b - a);
        let on = false;
        let switches = 0;
        for (const size of shrinking) {
          const next = nextBulkMode(on, drainSeconds(size, 1), after);
          if (next !== on) switches++;
          on = next;
        }
        expect(switches).toBeLessThanOrEqual(2);
      }),
    );
  });

  it('a bulk acknowledges only the version it carried, under its own claim, once processed', () => {
    const token = 'bulk:b1';
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.nat(20),
        fc.option(fc.record({ version: fc.nat(20), claimBy: fc.constantFrom(token, 'other', undefined) }), { nil: undefined }),
        (processed, sent, entry) => {
          const d = bulkDisposition({ token, processed }, sent, entry);
          if (!entry || entry.claimBy !== token) expect(d).toBe('nothing');
          else if (processed && entry.version === sent) expect(d).toBe('acknowledge');
          // a newer state (or a bulk that did not land) goes out again, never silently dropped
          else expect(d).toBe('push-again');
        },
      ),
    );
  });
});

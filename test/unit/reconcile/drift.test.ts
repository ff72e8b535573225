import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../../src/domain/index.js';
import { classifyDrift } from '../../../src/reconcile/drift.js';

const decision = (state: Decision['state'], decidedBy?: Partial<NonNullable<Decision['decidedBy']>>): Decision => ({
  state,
  reason: state === 'unknown' ? 'no_listing' : state === 'opted_in' ? 'opt_in' : 'opt_out_priority',
  authoritative: false,
  blockedOptIns: [],
  ...(decidedBy ? { decidedBy: { source: 'form', moment: '2026-11-01T00:00:00Z', eventId: 'e', force: false, value: 'opt_in', ...decidedBy } } : {}),
});

describe('classifyDrift', () => {
  it('ESP unsubscribed while we are subscribed → ingest the opt-out', () => {
    expect(classifyDrift({ state: 'opted_out', at: '2026-11-02T00:00:00Z' }, decision('opted_in', {}))).toEqual({ type: 'esp_unsubscribed', action: 'ingest_opt_out' });
    expect(classifyDrift({ state: 'opted_out', at: '2026-11-02T00:00:00Z' }, decision('unknown'))).toEqual({ type: 'esp_unsubscribed', action: 'ingest_opt_out' });
  });

  it('we are opted out, ESP still subscribed → push again; once acknowledged, it is a push that did not stick', () => {
    expect(classifyDrift({ state: 'opted_in', at: '2026-11-02T00:00:00Z' }, decision('opted_out', {}))).toEqual({ type: 'lost_push', action: 'repush' });
    expect(classifyDrift({ state: 'opted_in', at: '2026-11-02T00:00:00Z' }, decision('opted_out', {}), '2026-11-01T00:00:01Z')).toEqual({
      type: 'push_not_stuck',
      action: 'repush',
    });
  });

  it('our acknowledged opt-in against an ESP opt-out unchanged since before our decision → push_not_stuck, nothing ingested', () => {
    const ours = decision('opted_in', { moment: '2026-11-03T00:00:00Z' });
    const reverted = { state: 'opted_out' as const, at: '2026-11-02T00:00:00Z', lastChangedAt: '2026-11-02T00:00:05Z' };
    expect(classifyDrift(reverted, ours, '2026-11-03T00:00:02Z')).toEqual({ type: 'push_not_stuck', action: 'repush' });
    // not acknowledged yet: the outbox still owes the push; the ESP opt-out is not ours to judge
    expect(classifyDrift(reverted, ours).type).toBe('esp_unsubscribed');
    // the ESP record changed after our decision (the person unsubscribed there): their objection
    expect(classifyDrift({ ...reverted, lastChangedAt: '2026-11-03T00:00:01Z' }, ours, '2026-11-03T00:00:02Z').type).toBe('esp_unsubscribed');
    // an ESP that does not date its state (CrossEngage: read time only) cannot show a push that did not stick
    expect(classifyDrift({ state: 'opted_out', at: '2026-11-02T00:00:00Z' }, ours, '2026-11-03T00:00:02Z').type).toBe('esp_unsubscribed');
  });

  it('a forced re-opt-in newer than the ESP unsubscribe → push the reactivation', () => {
    const ours = decision('opted_in', { force: true, moment: '2026-11-03T00:00:00Z' });
    expect(classifyDrift({ state: 'opted_out', at: '2026-11-02T00:00:00Z' }, ours)).toEqual({ type: 'reactivation_pending', action: 'push_reactivation' });
    // …already answered when our current state reached the ESP after its unsubscribe
    expect(classifyDrift({ state: 'opted_out', at: '2026-11-02T00:00:00Z' }, ours, '2026-11-03T00:00:01Z')).toEqual({ type: 'in_sync', action: 'none' });
    expect(classifyDrift({ state: 'opted_out', at: '2026-11-02T00:00:00Z' }, ours, '2026-11-01T00:00:00Z').action).toBe('push_reactivation');
    // …but an unsubscribe newer than the forced opt-in is an objection to ingest
    expect(classifyDrift({ state: 'opted_out', at: '2026-11-04T00:00:00Z' }, ours).action).toBe('ingest_opt_out');
  });

  it('an unsubscribe for an unknown contact is still ingested; a subscription is not', () => {
    expect(classifyDrift({ state: 'opted_out', at: '2026-11-02T00:00:00Z' }, undefined).action).toBe('ingest_opt_out');
    expect(classifyDrift({ state: 'opted_in', at: '2026-11-02T00:00:00Z' }, undefined).action).toBe('none');
  });

  it('never re-subscribes anyone from ESP state (property)', () => {
    const state = fc.constantFrom('opted_in' as const, 'opted_out' as const, 'unknown' as const);
    const iso = fc.integer({ min: 0, max: 4_000_000_000_000 }).map((t) => new Date(t).toISOString());
    fc.assert(
      fc.property(
        fc.constantFrom('opted_in' as const, 'opted_out' as const),
        iso,
        fc.option(state),
        fc.boolean(),
        iso,
        fc.option(iso),
        fc.option(iso),
        (remote, at, ours, force, moment, changed, delivered) => {
          const item = { state: remote, at, ...(changed === null ? {} : { lastChangedAt: changed }) };
          const d = classifyDrift(item, ours === null ? undefined : decision(ours, { force, moment }), delivered ?? undefined);
          // The only actions: ingest an opt-out, push our state again, or push our own forced re-opt-in.
          if (remote === 'opted_in') expect(['none', 'repush']).toContain(d.action);
          if (d.action === 'push_reactivation') expect(ours).toBe('opted_in');
          if (d.action === 'repush' && ours === 'opted_in') {
            // Our opt-in is pushed again only as a push that did not stick: acknowledged, and the
            // ESP's opt-out unchanged since before the person's decision.
            expect(d.type).toBe('push_not_stuck');
            expect(delivered).not.toBeNull();
            expect(Date.parse(changed!)).toBeLessThan(Date.parse(moment));
          }
          if (d.action === 'repush' && ours !== 'opted_in') expect(ours).toBe('opted_out');
          // Our own push not sticking never becomes an event: a person's act is ingested, ours is repaired.
          if (d.type === 'push_not_stuck') expect(d.action).toBe('repush');
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

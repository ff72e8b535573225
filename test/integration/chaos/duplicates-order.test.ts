import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WireConsentEventInput } from '../../../src/contracts/consent-event.js';
import { startEspSimulators } from '../../support/esp-sims.js';
import {
  chaosContact,
  convergenceReport,
  figures,
  type GeneratedEvent,
  SOURCES,
  type Stack,
  sendEvents,
  startStack,
  waitForQuiescence,
} from '../../support/chaos.js';

/**
 * reliability.md §7 B10–B12 through the whole system: every event is delivered three times, in
 * a random order, by concurrent requests, to two workers. Moments collide on purpose (ties),
 * some lie slightly in the future (inside MAX_FUTURE_SKEW_MS: kept), some far in the future
 * (beyond it: clamped to the receipt time, README "moment", audited as momentClamped).
 */
const CONTACTS = 40;
const PER_CONTACT = 6;
const SKEW_MS = 60_000;
const DELIVERIES = 3;

type MomentClass = 'tie' | 'past' | 'near_future' | 'far_future';

function generate(now: number): (GeneratedEvent & { momentClass: MomentClass })[] {
  const arb = fc.record({
    kind: fc.constantFrom('marketing', 'marketing', 'marketing', 'tracking'),
    channel: fc.constantFrom('email', 'email', 'sms', 'all'),
    value: fc.constantFrom('opt_in', 'opt_out'),
    source: fc.constantFrom(...SOURCES),
    force: fc.boolean(),
    momentClass: fc.constantFrom<MomentClass>('tie', 'tie', 'past', 'near_future', 'far_future'),
    minute: fc.integer({ min: 0, max: 30 }),
    farHours: fc.integer({ min: 1, max: 72 }),
  });
  const samples = fc.sample(arb, { numRuns: CONTACTS * PER_CONTACT, seed: 20261205 });
  return samples.map((s, n) => {
    const i = Math.floor(n / PER_CONTACT);
    const moment =
      s.momentClass === 'tie'
        ? new Date(Date.UTC(2026, 10, 1, 12, 0)).toISOString() // one instant per contact: ties everywhere
        : s.momentClass === 'past'
          ? new Date(Date.UTC(2026, 10, 1, 11, s.minute)).toISOString()
          : s.momentClass === 'near_future'
            ? new Date(now + SKEW_MS / 2).toISOString()
            : new Date(now + s.farHours * 3_600_000).toISOString();
    return {
      contact: i,
      momentClass: s.momentClass,
      event: {
        eventId: `d-${i}-${n % PER_CONTACT}`,
        contact: chaosContact('d', i),
        kind: s.kind as 'marketing' | 'tracking',
        ...(s.kind === 'marketing' ? { channel: s.channel } : {}),
        value: s.value as 'opt_in' | 'opt_out',
        source: s.source,
        force: s.force,
        moment,
      },
    };
  });
}

/** Requests of up to `size` deliveries, none repeating an eventId (the API refuses that as a client bug). */
function spread(deliveries: readonly WireConsentEventInput[], size: number): WireConsentEventInput[][] {
  const batches: WireConsentEventInput[][] = [];
  for (const d of deliveries) {
    const target = batches.find((b) => b.length < size && !b.some((e) => e.eventId === d.eventId));
    if (target) target.push(d);
    else batches.push([d]);
  }
  return batches;
}

describe('chaos: duplicates, random order, equal and future moments', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      workers: 2,
      startSims: () => startEspSimulators([]),
      extra: { MAX_FUTURE_SKEW_MS: String(SKEW_MS), APPLY_CONCURRENCY: '10' },
    });
  });
  afterAll(async () => stack?.stop());

  it('final state equals the pure resolution of the clamped events; one audit record per event', { timeout: 120_000 }, async () => {
    const sendStart = Date.now();
    const generated = generate(sendStart);
    const deliveries = fc.sample(
      fc.shuffledSubarray(
        generated.flatMap((g) => Array.from({ length: DELIVERIES }, () => g.event)),
        { minLength: generated.length * DELIVERIES },
      ),
      { numRuns: 1, seed: 7 },
    )[0]!;
    const load = await sendEvents(stack.url, [], { batches: spread(deliveries, 30), inFlight: 4 });
    const sendEnd = Date.now();
    await waitForQuiescence(stack.ctx, { timeoutMs: 90_000 });
    const report = await convergenceReport(stack, generated, load.acked);

    const audits = report.auditsById;
    const clampProblems: string[] = [];
    for (const g of generated) {
      const a = audits.get(g.event.eventId);
      if (!a) continue;
      if (g.momentClass === 'far_future') {
        const at = Date.parse(a.moment);
        if (!a.momentClamped || at < sendStart || at > sendEnd) clampProblems.push(`${g.event.eventId}: ${JSON.stringify(a)} (sent ${g.event.moment})`);
      } else if (a.momentClamped || a.moment !== g.event.moment) {
        clampProblems.push(`${g.event.eventId}: ${JSON.stringify(a)} (sent ${g.event.moment})`);
      }
    }
    const ties = generated.filter((g) => g.momentClass === 'tie').length;
    figures('duplicates-order', {
      events: generated.length,
      deliveries: deliveries.length,
      requests: load.requests,
      answers: load.answers,
      ties,
      nearFuture: generated.filter((g) => g.momentClass === 'near_future').length,
      farFutureClamped: generated.filter((g) => g.momentClass === 'far_future').length,
      audits: report.audits,
      wrongState: report.wrongState.length,
      doubleApplied: report.doubleApplied.length,
    });

    expect(load.acked.size).toBe(generated.length);
    // each event accepted once; the two re-deliveries are answered `duplicate`
    expect(load.answers).toEqual({ accepted: generated.length, duplicate: generated.length * (DELIVERIES - 1) });
    expect(report.events).toBe(generated.length);
    expect(report.audits).toBe(generated.length);
    expect(report.distinctAudits).toBe(generated.length);
    expect(report.lost).toEqual([]);
    expect(report.doubleApplied).toEqual([]);
    expect(clampProblems).toEqual([]);
    expect(report.wrongState).toEqual([]);
  });
});

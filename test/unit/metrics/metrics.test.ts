import { describe, expect, it, vi } from 'vitest';
import type { AppContext } from '../../../src/app/context.js';
import {
  createMetrics,
  METRIC_NAMES,
  oldestOptOutSince,
  pendingOptOutAgeSeconds,
  QUEUE_STATES,
} from '../../../src/metrics/metrics.js';
import { attemptSeconds } from '../../../src/metrics/worker.js';
import { fakeContacts } from './fake-contacts.js';

const at = (iso: string) => new Date(iso);

describe('oldestOptOutSince (pure)', () => {
  const esps = ['crossengage', 'ometria'];

  it('is the earliest `since` among opt-out entries of the given ESPs', () => {
    const outboxes = [
      { crossengage: { version: 1, since: at('2026-11-20T10:00:00Z'), optOut: true } },
      {
        ometria: { version: 2, since: at('2026-11-20T08:00:00Z'), optOut: true },
        crossengage: { version: 2, since: at('2026-11-20T07:00:00Z'), optOut: false },
      },
      { crossengage: { version: 1, since: at('2026-11-20T09:00:00Z'), optOut: true } },
    ];
    expect(oldestOptOutSince(outboxes, esps)).toEqual(at('2026-11-20T08:00:00Z'));
  });

  it('ignores entries without an opt-out, of other ESPs, and missing or invalid dates', () => {
    const outboxes = [
      { crossengage: { version: 1, since: at('2026-11-01T00:00:00Z'), optOut: false } },
      { actito: { version: 1, since: at('2026-10-01T00:00:00Z'), optOut: true } },
      { ometria: { version: 1, optOut: true } },
      { ometria: { version: 1, since: 'not a date' as unknown as Date, optOut: true } },
      { ometria: null },
      null,
      undefined,
      {},
    ];
    expect(oldestOptOutSince(outboxes, esps)).toBeUndefined();
  });

  it('accepts dates serialised as strings or epoch numbers', () => {
    const outboxes = [
      { crossengage: { version: 1, since: '2026-11-20T10:00:00Z' as unknown as Date, optOut: true } },
      { ometria: { version: 1, since: Date.parse('2026-11-20T09:00:00Z') as unknown as Date, optOut: true } },
    ];
    expect(oldestOptOutSince(outboxes, esps)).toEqual(at('2026-11-20T09:00:00Z'));
  });
});

describe('pendingOptOutAgeSeconds (pure)', () => {
  const now = at('2026-11-21T10:00:00Z');
  it('is 0 when nothing is pending', () => expect(pendingOptOutAgeSeconds(undefined, now)).toBe(0));
  it('is the age in seconds', () =>
    expect(pendingOptOutAgeSeconds(at('2026-11-20T10:00:00Z'), now)).toBe(86_400));
  it('never goes negative on clock skew', () =>
    expect(pendingOptOutAgeSeconds(at('2026-11-21T10:00:05Z'), now)).toBe(0));
});

describe('attemptSeconds', () => {
  it('measures processedOn → finishedOn, or → now while retrying', () => {
    expect(attemptSeconds({ processedOn: 1_000, finishedOn: 3_500 }, 9_999)).toBe(2.5);
    expect(attemptSeconds({ processedOn: 1_000, finishedOn: undefined }, 2_000)).toBe(1);
    expect(attemptSeconds({ processedOn: undefined, finishedOn: 2_000 }, 3_000)).toBeUndefined();
    expect(attemptSeconds({ processedOn: 5_000, finishedOn: 4_000 }, 3_000)).toBeUndefined();
    expect(attemptSeconds(undefined, 1)).toBeUndefined();
  });
});

describe('createMetrics: names and label sets', () => {
  it('registers exactly the documented metrics (plus Node defaults under their standard names) in its own registry', async () => {
    const metrics = createMetrics();
    const json = await metrics.registry.getMetricsAsJSON();
    const names = json.map((m) => m.name);
    for (const name of Object.values(METRIC_NAMES)) expect(names).toContain(name);
    const ours = names.filter((n) => n.startsWith('consent_sync_'));
    expect(ours.sort()).toEqual(Object.values(METRIC_NAMES).sort());
    // Stock Node.js dashboards query these names; a prefix breaks them.
    expect(names).toContain('process_cpu_user_seconds_total');
    expect(names).toContain('nodejs_heap_size_used_bytes');
    expect(names.filter((n) => !n.startsWith('consent_sync_')).every((n) => /^(process|nodejs)_/.test(n))).toBe(true);
    const custom = json.filter((m) => (Object.values(METRIC_NAMES) as string[]).includes(m.name));
    expect(Object.fromEntries(custom.map((m) => [m.name, m.type]))).toEqual({
      consent_sync_queue_jobs: 'gauge',
      consent_sync_job_duration_seconds: 'histogram',
      consent_sync_esp_push_total: 'counter',
      consent_sync_outbox_pending: 'gauge',
      consent_sync_oldest_pending_seconds: 'gauge',
      consent_sync_oldest_pending_optout_seconds: 'gauge',
      consent_sync_drift_total: 'gauge',
      consent_sync_reconcile_drift_total: 'counter',
      consent_sync_events_total: 'counter',
      consent_sync_esp_queue_paused: 'gauge',
      consent_sync_producer_guard_total: 'counter',
      consent_sync_schedules_restored_total: 'counter',
      consent_sync_dead_letters: 'gauge',
      consent_sync_esp_bulk_mode: 'gauge',
      consent_sync_esp_bulks_total: 'counter',
      consent_sync_esp_bulk_contacts_total: 'counter',
    });
  });

  it('several instances coexist (no global registry)', async () => {
    const a = createMetrics();
    const b = createMetrics({ defaultMetrics: false });
    a.eventApplied('applied');
    expect(await a.registry.metrics()).toContain('consent_sync_events_total{outcome="applied"} 1');
    expect(await b.registry.metrics()).not.toContain('outcome="applied"');
    expect(await b.registry.metrics()).not.toContain('process_cpu');
  });

  it('records counters, histogram, drift and pause with their labels', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.espPush('crossengage', 'email', 'acked');
    metrics.espPush('crossengage', 'email', 'acked');
    metrics.espPush('ometria', 'sms', 'rejected');
    metrics.eventApplied('duplicate');
    metrics.jobDuration('consent-apply', 0.2);
    metrics.jobDuration('consent-apply', Number.NaN); // ignored
    metrics.jobDuration('consent-apply', -1); // ignored
    metrics.setDrift('ometria', 'unsubscribed_at_esp', 3);
    metrics.setDrift('ometria', 'unsubscribed_at_esp', 1); // latest reconciliation wins
    metrics.setEspPaused('crossengage', true);
    metrics.reconcileDrift('ometria', 'sms', 'push_not_stuck');
    metrics.reconcileDrift('ometria', 'sms', 'push_not_stuck');
    const text = await metrics.registry.metrics();
    expect(text).toContain('consent_sync_esp_push_total{esp="crossengage",channel="email",outcome="acked"} 2');
    expect(text).toContain('consent_sync_esp_push_total{esp="ometria",channel="sms",outcome="rejected"} 1');
    expect(text).toContain('consent_sync_events_total{outcome="duplicate"} 1');
    expect(text).toContain('consent_sync_job_duration_seconds_count{queue="consent-apply"} 1');
    expect(text).toContain('consent_sync_job_duration_seconds_bucket{le="0.25",queue="consent-apply"} 1');
    expect(text).toContain('consent_sync_drift_total{esp="ometria",type="unsubscribed_at_esp"} 1');
    expect(text).toContain('consent_sync_reconcile_drift_total{esp="ometria",channel="sms",kind="push_not_stuck"} 2');
    expect(text).toContain('consent_sync_esp_queue_paused{esp="crossengage"} 1');
    // Gauges read from the stores have no series before the first collect (a failed first read is absent, not 0)
    expect(text).not.toMatch(/^consent_sync_oldest_pending_optout_seconds/m);
    expect(text).not.toMatch(/^consent_sync_outbox_pending/m);
  });
});

/** An AppContext with in-memory queues and contacts; counts calls so caching is visible. */
function fakeContext(opts: { failRedis?: boolean } = {}) {
  const calls = { getJobCounts: 0, countDocuments: 0, find: 0 };
  const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);
  const paused = new Set(['esp-sync-ometria']);
  const queue = (name: string) => ({
    getJobCounts: async (...states: string[]) => {
      calls.getJobCounts++;
      if (opts.failRedis) throw new Error('redis down');
      return Object.fromEntries(states.map((s, i) => [s, name === 'consent-apply' ? i + 1 : 0]));
    },
    isPaused: async () => paused.has(name),
  });
  const entry = (lane: 1 | 2 | 3 | undefined, hours: number, optOut: boolean) => ({
    version: 1,
    since: hoursAgo(hours),
    optOut,
    ...(lane ? { lane } : {}),
  });
  // crossengage: lane 1 ×2 (oldest 1 h), lane 2 ×1 (3 h), bulk ×2 (one without a lane, 30 h, an opt-out;
  // one opt-in 50 h). ometria: bulk ×2 (opt-ins, 2 h and 5 h). actito (disabled): a lane 1 opt-out of 100 h.
  const contacts = fakeContacts(
    [
      { _id: 'a', outbox: { crossengage: entry(1, 1, true), ometria: entry(3, 2, false) } },
      { _id: 'b', outbox: { crossengage: entry(1, 0.5, true) } },
      { _id: 'c', outbox: { crossengage: entry(2, 3, true), ometria: entry(3, 5, false) } },
      { _id: 'd', outbox: { crossengage: entry(undefined, 30, true) } },
      { _id: 'e', outbox: { crossengage: entry(3, 50, false) } },
      { _id: 'f', outbox: { actito: entry(1, 100, true) } },
      { _id: 'g', outbox: {}, deadLetters: { ometria: { version: 2, reason: 'invalid email', at: hoursAgo(4) } } },
      { _id: 'h', outbox: {}, deadLetters: { ometria: { version: 1, reason: 'invalid email', at: hoursAgo(1) }, actito: { version: 1, reason: 'x', at: hoursAgo(1) } } },
    ],
    calls,
  );
  const warn = vi.fn();
  const ctx = {
    config: {
      esps: {
        crossengage: { esp: 'crossengage', enabled: true },
        ometria: { esp: 'ometria', enabled: true },
        actito: { esp: 'actito', enabled: false },
      },
    },
    runtime: { queue },
    models: { contacts },
    log: { warn },
  } as unknown as AppContext;
  return { ctx, calls, warn, paused };
}

describe('createMetrics: collect', () => {
  it('refreshes every queue state, outbox and the opt-out age for the enabled ESPs', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const { ctx } = fakeContext();
    await metrics.collect(ctx);
    const text = await metrics.registry.metrics();
    for (const [i, state] of QUEUE_STATES.entries()) {
      expect(text).toContain(`consent_sync_queue_jobs{queue="consent-apply",state="${state}"} ${i + 1}`);
    }
    for (const queue of ['esp-sync-crossengage', 'esp-sync-ometria', 'reconcile', 'maintenance']) {
      expect(text).toContain(`consent_sync_queue_jobs{queue="${queue}",state="waiting"} 0`);
    }
    expect(text).not.toContain('actito');
    const pendingPerLane = { crossengage: [2, 1, 2], ometria: [0, 0, 2] };
    for (const [esp, counts] of Object.entries(pendingPerLane)) {
      for (const [i, n] of counts.entries()) {
        expect(text).toContain(`consent_sync_outbox_pending{esp="${esp}",lane="${i + 1}"} ${n}`);
      }
    }
    expect(text).toContain('consent_sync_esp_queue_paused{esp="ometria"} 1');
    expect(text).toContain('consent_sync_esp_queue_paused{esp="crossengage"} 0');
    const hours = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Math.round(Number(line.slice(series.length + 1)) / 36) / 100;
    };
    expect(hours('consent_sync_oldest_pending_seconds{esp="crossengage",lane="1"}')).toBe(1);
    expect(hours('consent_sync_oldest_pending_seconds{esp="crossengage",lane="2"}')).toBe(3);
    expect(hours('consent_sync_oldest_pending_seconds{esp="crossengage",lane="3"}')).toBe(50);
    expect(hours('consent_sync_oldest_pending_seconds{esp="ometria",lane="1"}')).toBe(0);
    expect(hours('consent_sync_oldest_pending_seconds{esp="ometria",lane="3"}')).toBe(5);
    expect(hours('consent_sync_oldest_pending_optout_seconds{lane="1"}')).toBe(1);
    expect(hours('consent_sync_oldest_pending_optout_seconds{lane="2"}')).toBe(3);
    expect(hours('consent_sync_oldest_pending_optout_seconds{lane="3"}')).toBe(30);
    expect(text).not.toMatch(/^consent_sync_oldest_pending_optout_seconds /m);
    // Dead letters per enabled ESP (actito's is not connected, so not reported).
    expect(text).toContain('consent_sync_dead_letters{esp="ometria"} 2');
    expect(text).toContain('consent_sync_dead_letters{esp="crossengage"} 0');
  });

  it('a queue paused here or in Redis reads as paused', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const { ctx, paused } = fakeContext();
    paused.clear();
    metrics.setEspPaused('crossengage', true);
    await metrics.collect(ctx);
    const text = await metrics.registry.metrics();
    expect(text).toContain('consent_sync_esp_queue_paused{esp="crossengage"} 1');
    expect(text).toContain('consent_sync_esp_queue_paused{esp="ometria"} 0');
  });

  it('caches: concurrent and quick repeated scrapes cost one round of queries', async () => {
    let clock = 1_000_000;
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => clock);
    try {
      const metrics = createMetrics({ defaultMetrics: false, cacheMs: 2_000 });
      const { ctx, calls } = fakeContext();
      await Promise.all([metrics.collect(ctx), metrics.collect(ctx), metrics.collect(ctx)]);
      // one job count per queue (apply, two per enabled ESP, reconcile, maintenance);
      // per enabled ESP (2) and lane (3): one count, the oldest entry and the oldest opt-out;
      // per enabled ESP: one count of dead letters
      expect(calls).toEqual({ getJobCounts: 7, countDocuments: 8, find: 12 });
      clock += 1_999;
      await metrics.collect(ctx);
      expect(calls.getJobCounts).toBe(7);
      clock += 1;
      await metrics.collect(ctx);
      expect(calls).toEqual({ getJobCounts: 14, countDocuments: 16, find: 24 });
    } finally {
      spy.mockRestore();
    }
  });

  it('keeps serving when a store fails, and logs it', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const { ctx, warn } = fakeContext({ failRedis: true });
    await expect(metrics.collect(ctx)).resolves.toBeUndefined();
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ source: 'redis' }),
      'metrics collection failed',
    );
    expect(await metrics.registry.metrics()).toContain('consent_sync_outbox_pending{esp="crossengage",lane="1"} 2');
  });
});

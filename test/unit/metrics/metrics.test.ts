import { describe, expect, it, vi } from 'vitest';
import type { AppContext } from '../../../src/lib/context.js';
import {
  createMetrics,
  METRIC_NAMES,
  oldestOptOutSince,
  pendingOptOutAgeSeconds,
  QUEUE_STATES,
} from '../../../src/metrics/metrics.js';
import { attemptSeconds } from '../../../src/metrics/worker.js';

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
  it('registers exactly the documented metrics (plus prefixed defaults) in its own registry', async () => {
    const metrics = createMetrics();
    const json = await metrics.registry.getMetricsAsJSON();
    const names = json.map((m) => m.name);
    for (const name of Object.values(METRIC_NAMES)) expect(names).toContain(name);
    expect(names.every((n) => n.startsWith('consent_sync_'))).toBe(true);
    expect(names).toContain('consent_sync_process_cpu_user_seconds_total');
    const custom = json.filter((m) => (Object.values(METRIC_NAMES) as string[]).includes(m.name));
    expect(Object.fromEntries(custom.map((m) => [m.name, m.type]))).toEqual({
      consent_sync_queue_jobs: 'gauge',
      consent_sync_job_duration_seconds: 'histogram',
      consent_sync_esp_push_total: 'counter',
      consent_sync_outbox_pending: 'gauge',
      consent_sync_oldest_pending_optout_seconds: 'gauge',
      consent_sync_drift_total: 'gauge',
      consent_sync_events_total: 'counter',
      consent_sync_esp_queue_paused: 'gauge',
      consent_sync_producer_guard_total: 'counter',
      consent_sync_schedules_restored_total: 'counter',
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
    metrics.espPush('crossengage', 'acked');
    metrics.espPush('crossengage', 'acked');
    metrics.espPush('ometria', 'rejected');
    metrics.eventApplied('duplicate');
    metrics.jobDuration('consent-apply', 0.2);
    metrics.jobDuration('consent-apply', Number.NaN); // ignored
    metrics.jobDuration('consent-apply', -1); // ignored
    metrics.setDrift('ometria', 'unsubscribed_at_esp', 3);
    metrics.setDrift('ometria', 'unsubscribed_at_esp', 1); // latest reconciliation wins
    metrics.setEspPaused('crossengage', true);
    const text = await metrics.registry.metrics();
    expect(text).toContain('consent_sync_esp_push_total{esp="crossengage",outcome="acked"} 2');
    expect(text).toContain('consent_sync_esp_push_total{esp="ometria",outcome="rejected"} 1');
    expect(text).toContain('consent_sync_events_total{outcome="duplicate"} 1');
    expect(text).toContain('consent_sync_job_duration_seconds_count{queue="consent-apply"} 1');
    expect(text).toContain('consent_sync_job_duration_seconds_bucket{le="0.25",queue="consent-apply"} 1');
    expect(text).toContain('consent_sync_drift_total{esp="ometria",type="unsubscribed_at_esp"} 1');
    expect(text).toContain('consent_sync_esp_queue_paused{esp="crossengage"} 1');
    expect(text).toContain('consent_sync_oldest_pending_optout_seconds 0');
  });
});

/** An AppContext with in-memory queues and contacts; counts calls so caching is visible. */
function fakeContext(opts: { failRedis?: boolean } = {}) {
  const calls = { getJobCounts: 0, countDocuments: 0, find: 0 };
  const paused = new Set(['esp-sync-ometria']);
  const queue = (name: string) => ({
    getJobCounts: async (...states: string[]) => {
      calls.getJobCounts++;
      if (opts.failRedis) throw new Error('redis down');
      return Object.fromEntries(states.map((s, i) => [s, name === 'consent-apply' ? i + 1 : 0]));
    },
    isPaused: async () => paused.has(name),
  });
  const oldest: Record<string, Date> = { crossengage: new Date(Date.now() - 3_600_000) };
  const contacts = {
    countDocuments: async (filter: Record<string, unknown>) => {
      calls.countDocuments++;
      return Object.keys(filter)[0] === 'outbox.crossengage' ? 5 : 2;
    },
    find: (filter: Record<string, unknown>) => {
      calls.find++;
      const esp = Object.keys(filter)[0]!.split('.')[1]!;
      const docs = oldest[esp]
        ? [{ _id: 'c', outbox: { [esp]: { version: 1, since: oldest[esp], optOut: true } } }]
        : [];
      const chain = { sort: () => chain, limit: () => chain, lean: async () => docs };
      return chain;
    },
  };
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
    expect(text).toContain('consent_sync_outbox_pending{esp="crossengage"} 5');
    expect(text).toContain('consent_sync_outbox_pending{esp="ometria"} 2');
    expect(text).toContain('consent_sync_esp_queue_paused{esp="ometria"} 1');
    expect(text).toContain('consent_sync_esp_queue_paused{esp="crossengage"} 0');
    const age = Number(/^consent_sync_oldest_pending_optout_seconds (\S+)$/m.exec(text)?.[1]);
    expect(age).toBeGreaterThanOrEqual(3_600);
    expect(age).toBeLessThan(3_610);
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
      expect(calls).toEqual({ getJobCounts: 5, countDocuments: 2, find: 2 });
      clock += 1_999;
      await metrics.collect(ctx);
      expect(calls.getJobCounts).toBe(5);
      clock += 1;
      await metrics.collect(ctx);
      expect(calls).toEqual({ getJobCounts: 10, countDocuments: 4, find: 4 });
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
    expect(await metrics.registry.metrics()).toContain('consent_sync_outbox_pending{esp="crossengage"} 5');
  });
});

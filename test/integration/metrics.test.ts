import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import type { ContactDoc } from '../../src/persistence/models.js';
import { registerMetricsRoutes } from '../../src/web/metrics.routes.js';
import { createTestContext } from '../support/integration.js';
import { waitFor } from '../support/wait-for.js';

type Ctx = Awaited<ReturnType<typeof createTestContext>>;

const ESP_ENV = { CROSSENGAGE_API_KEY: 'crossengage-test-key', OMETRIA_API_KEY: 'ometria-test-key' };

/**
 * The metrics route on its own Fastify instance over a real context (Redis + MongoDB), so the test
 * owns the Metrics object whatever createApp wires in.
 */
async function startMetricsApp(env: Record<string, string> = {}) {
  const ctx = await createTestContext({ ...ESP_ENV, ...env });
  const app = Fastify();
  const metrics = createMetrics({ cacheMs: 300 });
  registerMetricsRoutes(app, ctx, metrics);
  await app.ready();
  return { ctx, app, metrics };
}

/** Value of one sample line, e.g. sample(text, 'consent_sync_outbox_pending{esp="ometria"}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** consent_sync_outbox_pending of `esp` for lanes 1, 2, 3. */
function pendingPerLane(text: string, esp: string): (number | undefined)[] {
  return [1, 2, 3].map((lane) => sample(text, `consent_sync_outbox_pending{esp="${esp}",lane="${lane}"}`));
}

/** An age gauge is `seconds` (within the test's run time; exactly 0 when nothing is pending). */
function expectAge(text: string, series: string, seconds: number): void {
  const value = sample(text, series);
  if (seconds === 0) expect(value, series).toBe(0);
  else {
    expect(value, series).toBeGreaterThanOrEqual(seconds);
    expect(value, series).toBeLessThan(seconds + 60);
  }
}

function contact(id: string, outbox: ContactDoc['outbox']): Partial<ContactDoc> {
  const now = new Date();
  return {
    _id: id,
    identities: { externalId: id },
    listings: [],
    effective: {
      marketing: {},
      tracking: { state: 'unknown', authoritative: false },
    } as unknown as ContactDoc['effective'],
    version: 1,
    rev: 1,
    outbox,
    sync: {},
    journal: [],
    createdAt: now,
    updatedAt: now,
  };
}

describe('GET /metrics', () => {
  let ctx: Ctx;
  let app: FastifyInstance;
  let metrics: Metrics;
  const ago = (seconds: number) => new Date(Date.now() - seconds * 1000);

  beforeAll(async () => {
    ({ ctx, app, metrics } = await startMetricsApp());
    const apply = ctx.runtime.queue('consent-apply');
    await apply.addBulk([1, 2, 3].map((i) => ({ name: 'apply-consent-event', data: { eventId: `e${i}` } })));
    await ctx.runtime.queue('esp-sync-crossengage').add('push', { contactId: 'c1' }, { delay: 60_000 });
    await ctx.runtime.queue('esp-sync-ometria').pause();
    await ctx.models.contacts.insertMany([
      contact('c1', {
        crossengage: { version: 1, since: ago(3_600), optOut: true, lane: 1 },
        ometria: { version: 1, since: ago(60), optOut: false, lane: 3 },
      }),
      // Written before lanes existed: counted as bulk
      contact('c2', { crossengage: { version: 2, since: ago(100), optOut: false } }),
      contact('c3', { ometria: { version: 1, since: ago(7_200), optOut: true, lane: 2 } }),
      contact('c4', {}),
      // An ESP without credentials is not synced, so its entries are not counted
      contact('c5', { actito: { version: 1, since: ago(90_000), optOut: true, lane: 1 } }),
      contact('c6', { crossengage: { version: 3, since: ago(600), optOut: true, lane: 1 } }),
      // An import waiting two days: old, but in the bulk lane
      contact('c7', { crossengage: { version: 1, since: ago(172_800), optOut: false, lane: 3 } }),
    ]);
    metrics.espPush('crossengage', 'email', 'acked');
    metrics.espPush('crossengage', 'email', 'acked');
    metrics.espPush('ometria', 'sms', 'auth_failed');
    metrics.eventApplied('applied');
    metrics.jobDuration('consent-apply', 0.042);
    metrics.setDrift('crossengage', 'unsubscribed_at_esp', 4);
  });
  afterAll(async () => {
    await app?.close();
    await ctx?.dispose();
  });

  it('serves the Prometheus text format with queue, outbox, SLO and counter values', async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = res.body;
    expect(sample(text, 'consent_sync_queue_jobs{queue="consent-apply",state="waiting"}')).toBe(3);
    expect(sample(text, 'consent_sync_queue_jobs{queue="consent-apply",state="active"}')).toBe(0);
    expect(sample(text, 'consent_sync_queue_jobs{queue="esp-sync-crossengage",state="delayed"}')).toBe(1);
    expect(sample(text, 'consent_sync_queue_jobs{queue="reconcile",state="failed"}')).toBe(0);
    expect(sample(text, 'consent_sync_queue_jobs{queue="maintenance",state="completed"}')).toBe(0);
    expect(sample(text, 'consent_sync_esp_queue_paused{esp="ometria"}')).toBe(1);
    expect(sample(text, 'consent_sync_esp_queue_paused{esp="crossengage"}')).toBe(0);
    expect(pendingPerLane(text, 'crossengage')).toEqual([2, 0, 2]);
    expect(pendingPerLane(text, 'ometria')).toEqual([0, 1, 1]);
    expect(text).not.toContain('esp="actito"');
    // Age of the oldest entry per ESP and lane
    expectAge(text, 'consent_sync_oldest_pending_seconds{esp="crossengage",lane="1"}', 3_600);
    expectAge(text, 'consent_sync_oldest_pending_seconds{esp="crossengage",lane="2"}', 0);
    expectAge(text, 'consent_sync_oldest_pending_seconds{esp="crossengage",lane="3"}', 172_800);
    expectAge(text, 'consent_sync_oldest_pending_seconds{esp="ometria",lane="1"}', 0);
    expectAge(text, 'consent_sync_oldest_pending_seconds{esp="ometria",lane="2"}', 7_200);
    expectAge(text, 'consent_sync_oldest_pending_seconds{esp="ometria",lane="3"}', 60);
    // The SLO gauge per lane, over every synced ESP
    expectAge(text, 'consent_sync_oldest_pending_optout_seconds{lane="1"}', 3_600);
    expectAge(text, 'consent_sync_oldest_pending_optout_seconds{lane="2"}', 7_200);
    expectAge(text, 'consent_sync_oldest_pending_optout_seconds{lane="3"}', 0);
    expect(sample(text, 'consent_sync_esp_push_total{esp="crossengage",channel="email",outcome="acked"}')).toBe(2);
    expect(sample(text, 'consent_sync_esp_push_total{esp="ometria",channel="sms",outcome="auth_failed"}')).toBe(1);
    expect(sample(text, 'consent_sync_events_total{outcome="applied"}')).toBe(1);
    expect(sample(text, 'consent_sync_job_duration_seconds_count{queue="consent-apply"}')).toBe(1);
    expect(sample(text, 'consent_sync_job_duration_seconds_bucket{le="0.05",queue="consent-apply"}')).toBe(1);
    expect(sample(text, 'consent_sync_drift_total{esp="crossengage",type="unsubscribed_at_esp"}')).toBe(4);
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    expect(text).not.toMatch(/^(?!consent_sync_|process_|nodejs_)[a-z_]+(\{.*\})? /m);
  });

  it('refreshes after the cache period and answers concurrent scrapes', async () => {
    await ctx.models.contacts.deleteOne({ _id: 'c3' });
    await ctx.runtime.queue('esp-sync-ometria').resume();
    const scrapes = await Promise.all(
      Array.from({ length: 10 }, () => app.inject({ method: 'GET', url: '/metrics' })),
    );
    expect(scrapes.every((r) => r.statusCode === 200)).toBe(true);
    // The cache (300 ms here) expires and a later scrape sees the change
    const text = await waitFor(async () => {
      const body = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      return sample(body, 'consent_sync_outbox_pending{esp="ometria",lane="2"}') === 0 ? body : undefined;
    });
    expect(sample(text, 'consent_sync_esp_queue_paused{esp="ometria"}')).toBe(0);
    expect(pendingPerLane(text, 'ometria')).toEqual([0, 0, 1]);
    expectAge(text, 'consent_sync_oldest_pending_optout_seconds{lane="1"}', 3_600);
    expectAge(text, 'consent_sync_oldest_pending_optout_seconds{lane="2"}', 0);
    expectAge(text, 'consent_sync_oldest_pending_seconds{esp="ometria",lane="2"}', 0);
  });

  it('follows the next oldest opt-out of a lane, and reports 0 once none is pending', async () => {
    await ctx.models.contacts.updateOne({ _id: 'c1' }, { $unset: { 'outbox.crossengage': '' } });
    let text = await waitFor(async () => {
      const body = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      return sample(body, 'consent_sync_outbox_pending{esp="crossengage",lane="1"}') === 1 ? body : undefined;
    });
    expectAge(text, 'consent_sync_oldest_pending_optout_seconds{lane="1"}', 600);
    await ctx.models.contacts.updateOne({ _id: 'c6' }, { $unset: { 'outbox.crossengage': '' } });
    text = await waitFor(async () => {
      const body = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      return sample(body, 'consent_sync_oldest_pending_optout_seconds{lane="1"}') === 0 ? body : undefined;
    });
    expect(pendingPerLane(text, 'crossengage')).toEqual([0, 0, 2]);
    expectAge(text, 'consent_sync_oldest_pending_seconds{esp="crossengage",lane="3"}', 172_800);
  });

  it('needs no token when METRICS_TOKEN is unset', async () => {
    expect(
      (await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer anything' } }))
        .statusCode,
    ).toBe(200);
  });
});

describe('GET /metrics with METRICS_TOKEN', () => {
  let ctx: Ctx;
  let app: FastifyInstance;
  const token = 'metrics-token-0123456789';

  beforeAll(async () => {
    ({ ctx, app } = await startMetricsApp({ METRICS_TOKEN: token }));
  });
  afterAll(async () => {
    await app?.close();
    await ctx?.dispose();
  });

  it('401 without the bearer token, with a wrong one or another scheme', async () => {
    for (const authorization of [
      undefined,
      `Bearer ${token}x`,
      'Bearer ',
      `Basic ${Buffer.from(`x:${token}`).toString('base64')}`,
      token,
    ]) {
      const res = await app.inject({
        method: 'GET',
        url: '/metrics',
        headers: authorization === undefined ? {} : { authorization },
      });
      expect(res.statusCode, String(authorization)).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="metrics"');
      expect(res.body).not.toContain('consent_sync_');
    }
  });

  it('200 with it', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('consent_sync_queue_jobs{queue="consent-apply",state="waiting"} 0');
  });
});

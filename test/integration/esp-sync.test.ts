import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ESP_NAMES } from '../../src/esp/registry.js';
import type { BuiltInEspName } from '../../src/esp/registry.js';
import { espQueueName } from '../../src/queues/names.js';
import { startTestApp } from '../support/app.js';
import { startEspSimulators } from '../support/esp-sims.js';
import { REDIS_TOPOLOGIES, redisTopologyEnv, stopRedisCluster } from '../support/redis-topology.js';
import { waitFor } from '../support/wait-for.js';

type App = Awaited<ReturnType<typeof startTestApp>>;
type Sims = Awaited<ReturnType<typeof startEspSimulators>>;

interface SimState {
  recipients: Record<string, Record<string, string>>;
}

async function simState(sims: Sims, esp: BuiltInEspName): Promise<SimState> {
  return (await fetch(`${sims.urls[esp]}/__sim/state`)).json() as Promise<SimState>;
}

/** The recipient as each simulator keys it, for a full user with an email. */
function recipientKey(esp: BuiltInEspName, externalId: string, email: string): string {
  return esp === 'crossengage' ? externalId : email;
}

async function pendingOutbox(app: App, contactId: string): Promise<number> {
  const doc = await app.ctx.models.contacts.findById(contactId).lean();
  return Object.keys(doc?.outbox ?? {}).length;
}

async function record(app: App, event: Record<string, unknown>) {
  const res = await app.post('/v1/consent-events', event);
  expect(res.status).toBe(202);
}

async function viewOf(app: App, identity: string) {
  return waitFor(async () => {
    const r = await app.get(`/v1/contacts/${identity}`);
    // The contact document exists as soon as the person is known; wait for an applied event.
    return r.status === 200 && (r.body['audit'] as unknown[]).length > 0 ? r.body : undefined;
  });
}

// The core flow runs on a single Redis and on a Redis Cluster (hash-tagged queue prefixes).
describe.each(REDIS_TOPOLOGIES)('ESP sync end to end (%s Redis): API → MongoDB → all five simulators', (topology) => {
  let sims: Sims;
  let app: App;
  beforeAll(async () => {
    sims = await startEspSimulators();
    // CrossEngage users exist before we push to them (our pushes never create users there).
    await fetch(`${sims.urls.crossengage}/__sim/seed`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ users: ['ana-1', 'ben-1', 'cy-1', 'di-1', 'ed-1'].map((id) => ({ id })) }),
    });
    app = await startTestApp({ workers: 2, env: { ...sims.env, ...(await redisTopologyEnv(topology)) } });
  });
  afterAll(async () => {
    await app?.close();
    await sims?.close();
    await stopRedisCluster();
  });
  beforeEach(() => {
    for (const esp of ESP_NAMES) sims.sims[esp].setFaults({ rules: [] });
  });


  it('connects every ESP whose credentials are configured', () => {
    expect([...app.ctx.esps].sort()).toEqual([...ESP_NAMES].sort());
    expect(app.ctx.runtime.cluster).toBe(topology === 'cluster');
  });

  it('an opt-out on all channels reaches every ESP and the outbox drains', async () => {
    const email = 'ana@example.com';
    await record(app, {
      eventId: 'e2e-1', contact: { externalId: 'ana-1', email }, kind: 'marketing', channel: 'all', value: 'opt_out',
      source: 'preference_center', moment: '2026-11-20T10:00:00Z',
    });
    const view = await viewOf(app, 'externalId:ana-1');
    await waitFor(async () => (await pendingOutbox(app, view['contactId'] as string)) === 0, { what: 'outbox to drain' });
    for (const esp of ESP_NAMES) {
      const state = await simState(sims, esp);
      expect(state.recipients[recipientKey(esp, 'ana-1', email)]?.['email'], esp).toBe('opted_out');
    }
    const synced = await app.get('/v1/contacts/externalId:ana-1');
    type Entry = { status: string; version: number; reason?: string; channels: Record<string, { kind: string; reason?: string }> };
    const sync = synced.body['sync'] as Record<string, Entry>;
    for (const esp of ESP_NAMES) {
      const entry = sync[esp]!;
      expect(entry, esp).toMatchObject({ version: 1, channels: { email: { kind: 'pushed' } } });
      // Every decided channel has an outcome; `synced` only when each of them is in state.
      expect(Object.keys(entry.channels).sort(), esp).toEqual(['email', 'push', 'sms']);
      const notInState = Object.entries(entry.channels).filter(([, o]) => o.kind !== 'pushed' && o.kind !== 'already_in_state');
      expect(entry.status, esp).toBe(notInState.length === 0 ? 'synced' : 'partial');
      for (const [channel, o] of notInState) {
        expect(o.reason, `${esp} ${channel}`).toBeTruthy();
        expect(entry.reason, esp).toContain(`${channel}: ${o.kind}`);
      }
    }
    // The channels each ESP cannot hold for this contact, and why (see the README's ESP matrix).
    expect(sync['crossengage']!.status).toBe('synced');
    expect(sync['optimizely-campaign']!.status).toBe('synced');
    // dev and the simulator configure Actito's SMS subscription: the SMS opt-out is held there
    expect(sync['actito']!.channels['sms']).toEqual({ kind: 'pushed' });
    expect((await simState(sims, 'actito')).recipients[recipientKey('actito', 'ana-1', email)]?.['sms']).toBe('opted_out');
    expect(sync['actito']!.channels['push']).toMatchObject({ kind: 'not_applicable', reason: expect.stringMatching(/no push subscription/) });
    expect(sync['ometria']!.channels).toMatchObject({ sms: { kind: 'pushed' }, push: { kind: 'not_applicable' } });
    expect(sync['dynamic-yield']!.channels).toMatchObject({ sms: { kind: 'missing_identity' }, push: { kind: 'missing_identity' } });
  });

  it('a contact an ESP cannot address shows missing_identity as itself, with the reason, never as synced', async () => {
    // Unknown to CrossEngage (not seeded) and without an email or phone for the email-keyed ESPs.
    await record(app, { eventId: 'e2e-noaddr', contact: { externalId: 'noaddr-1' }, kind: 'marketing', channel: 'all', value: 'opt_out', source: 'api' });
    type Entry = { status: string; version: number; reason?: string; channels?: Record<string, { kind: string; reason?: string }> };
    const sync = await waitFor(async () => {
      const r = await app.get('/v1/contacts/externalId:noaddr-1');
      const entries = r.status === 200 ? (r.body['sync'] as Record<string, Entry>) : {};
      return ESP_NAMES.every((esp) => entries[esp]?.version === 1 && entries[esp]?.status !== 'pending') ? entries : undefined;
    });
    const missing = Object.entries(sync).flatMap(([esp, entry]) =>
      Object.entries(entry.channels ?? {})
        .filter(([, o]) => o.kind === 'missing_identity')
        .map(([channel, o]) => ({ esp, entry, channel, o })),
    );
    expect(missing.length).toBeGreaterThan(0);
    for (const { esp, entry, channel, o } of missing) {
      expect(entry.status, `${esp}: ${JSON.stringify(entry)}`).not.toBe('synced');
      expect(o.reason, `${esp} ${channel}`).toBeTruthy();
      expect(entry.reason, esp).toContain(`${channel}: missing_identity`);
    }
  });

  it('a forced re-opt-in after a list-unsubscribe reaches the ESPs that accept reactivation', async () => {
    const email = 'ben@example.com';
    const contact = { externalId: 'ben-1', email };
    await record(app, { eventId: 'e2e-2', contact, kind: 'marketing', channel: 'email', value: 'opt_out', source: 'list_unsubscribe', moment: '2026-11-01T00:00:00Z' });
    await record(app, {
      eventId: 'e2e-3', contact, kind: 'marketing', channel: 'email', value: 'opt_in', source: 'form', force: true,
      moment: '2026-11-02T00:00:00Z', proof: { doubleOptInId: 'doi-1' },
    });
    const view = await waitFor(async () => {
      const r = await app.get('/v1/contacts/externalId:ben-1');
      // Both events applied, in whichever order the workers took them: the state is the same.
      const applied = r.status === 200 && (r.body['audit'] as unknown[]).length === 2;
      return applied && (r.body['effective'] as { marketing: Record<string, string> }).marketing['email'] === 'opted_in' ? r.body : undefined;
    });
    await waitFor(async () => (await pendingOutbox(app, view['contactId'] as string)) === 0, { what: 'outbox to drain' });
    const ometria = await simState(sims, 'ometria');
    expect(ometria.recipients[email]?.['email']).toBe('opted_in');
    const sync = (await app.get('/v1/contacts/externalId:ben-1')).body['sync'] as Record<string, { outcome: string }>;
    for (const esp of ESP_NAMES) expect(['pushed', 'already_in_state', 'reactivation_blocked', 'not_applicable']).toContain(sync[esp]?.outcome);
  });

  it('status matrix: 503 three times, then success → retried and delivered', async () => {
    sims.sims.ometria.setFaults({ rules: [{ method: 'POST', path: '/v2/push', steps: [{ status: 503 }, { status: 503 }, { status: 503 }] }] });
    await record(app, { eventId: 'e2e-4', contact: { externalId: 'cy-1', email: 'cy@example.com' }, kind: 'marketing', channel: 'email', value: 'opt_out', source: 'api' });
    const view = await viewOf(app, 'externalId:cy-1');
    await waitFor(async () => (await pendingOutbox(app, view['contactId'] as string)) === 0, { what: 'outbox to drain', timeoutMs: 30_000 });
    expect((await simState(sims, 'ometria')).recipients['cy@example.com']?.['email']).toBe('opted_out');
    const failures = sims.sims.ometria.requests().filter((r) => r.path === '/v2/push' && r.status === 503);
    expect(failures.length).toBe(3);
  });

  it('status matrix: 400 → no retry, dead letter with the reason in the contact view; replay pushes again', async () => {
    sims.sims['dynamic-yield'].setFaults({ rules: [{ path: '*', steps: [{ status: 400, body: { error: 'bad request' } }] }] });
    await record(app, { eventId: 'e2e-5', contact: { externalId: 'di-1', email: 'di@example.com' }, kind: 'marketing', channel: 'email', value: 'opt_out', source: 'api' });
    const view = await viewOf(app, 'externalId:di-1');
    const dead = await waitFor(async () => {
      const r = await app.get('/v1/contacts/externalId:di-1');
      const s = (r.body['sync'] as Record<string, { status: string; reason?: string }>)['dynamic-yield'];
      return s?.status === 'dead_letter' ? s : undefined;
    });
    expect(dead.reason).toMatch(/400/);
    expect(sims.sims['dynamic-yield'].requests().filter((r) => r.status === 400)).toHaveLength(1);
    const replayed = await app.ctx.services.replayDeadLetters(['dynamic-yield']);
    expect(replayed['dynamic-yield']).toEqual([view['contactId']]);
    await waitFor(async () => {
      const r = await app.get('/v1/contacts/externalId:di-1');
      return (r.body['sync'] as Record<string, { status: string }>)['dynamic-yield']?.status === 'synced';
    });
    expect((await simState(sims, 'dynamic-yield')).recipients['di@example.com']?.['email']).toBe('opted_out');
  });

  it('status matrix: 401 → that ESP queue pauses, nothing is lost, delivery resumes after the fix', async () => {
    sims.sims.crossengage.setFaults({ rules: [{ path: '/events', steps: Array.from({ length: 20 }, () => ({ status: 401 })) }] });
    await record(app, { eventId: 'e2e-6', contact: { externalId: 'ed-1', email: 'ed@example.com' }, kind: 'marketing', channel: 'sms', value: 'opt_out', source: 'sms_stop' });
    const view = await viewOf(app, 'externalId:ed-1');
    const queue = app.ctx.runtime.queue(espQueueName('crossengage'));
    await waitFor(async () => queue.isPaused(), { what: 'crossengage queue paused' });
    // other ESPs are unaffected meanwhile
    const pending = await waitFor(
      async () => {
        const doc = await app.ctx.models.contacts.findById(view['contactId']).lean();
        return doc && Object.keys(doc.outbox).length === 1 ? doc : undefined;
      },
      { what: 'every other ESP delivered' },
    );
    expect(Object.keys(pending.outbox)).toEqual(['crossengage']);
    expect(await queue.isPaused()).toBe(true);
    sims.sims.crossengage.setFaults({ rules: [] });
    await app.ctx.services.resumeEsp('crossengage');
    await waitFor(async () => (await app.ctx.models.contacts.findById(view['contactId']).lean())?.outbox['crossengage'] === undefined, {
      what: 'crossengage entry delivered after resume',
      timeoutMs: 90_000,
    });
    expect((await simState(sims, 'crossengage')).recipients['ed-1']?.['sms']).toBe('opted_out');
  });
});

describe('metrics after end-to-end traffic', () => {
  it('exposes the dashboard metrics with plausible values', async () => {
    const sims = await startEspSimulators();
    const app = await startTestApp({ workers: 1, env: sims.env });
    try {
      await fetch(`${sims.urls.crossengage}/__sim/seed`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ users: [{ id: 'm-1' }] }) });
      await record(app, { eventId: 'm-1', contact: { externalId: 'm-1', email: 'm1@example.com' }, kind: 'marketing', channel: 'all', value: 'opt_out', source: 'list_unsubscribe' });
      const view = await viewOf(app, 'externalId:m-1');
      await waitFor(async () => (await pendingOutbox(app, view['contactId'] as string)) === 0, { what: 'outbox drained' });
      const text = await (await fetch(`${app.url}/metrics`)).text();
      const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
      expect(value(/consent_sync_events_total\{outcome="applied"\} (\d+)/)).toBe(1);
      expect(value(/consent_sync_esp_push_total\{esp="ometria",channel="email",outcome="pushed"\} (\d+)/)).toBe(1);
      expect(value(/consent_sync_esp_push_total\{esp="ometria",channel="sms",outcome="pushed"\} (\d+)/)).toBe(1);
      expect(value(/consent_sync_esp_push_total\{esp="ometria",channel="push",outcome="not_applicable"\} (\d+)/)).toBe(1);
      for (const lane of [1, 2, 3]) {
        expect(value(new RegExp(`consent_sync_outbox_pending\\{esp="ometria",lane="${lane}"\\} (\\d+)`))).toBe(0);
        expect(value(new RegExp(`consent_sync_oldest_pending_optout_seconds\\{lane="${lane}"\\} (\\d+)`))).toBe(0);
      }
      // a list-unsubscribe is a person's opt-out: lane 1, the ESP's first-lane queue
      expect(value(/consent_sync_queue_jobs\{queue="esp-sync-first-ometria",state="completed"\} (\d+)/)).toBeGreaterThanOrEqual(1);
      expect(value(/consent_sync_job_duration_seconds_count\{queue="consent-apply"\} (\d+)/)).toBeGreaterThanOrEqual(1);
      expect(text).toContain('consent_sync_drift_total');
      expect(text).not.toMatch(/m1@example\.com/);
    } finally {
      await app.close();
      await sims.close();
    }
  });
});

describe('ordering: many concurrent changes for one contact across several workers', () => {
  let sims: Sims;
  let app: App;
  beforeAll(async () => {
    sims = await startEspSimulators();
    app = await startTestApp({ workers: 3, env: sims.env });
  });
  afterAll(async () => {
    await app?.close();
    await sims?.close();
  });

  it('each ESP receives non-decreasing versions, one push in flight, and ends in the final state', async () => {
    const seen: Record<string, number[]> = {};
    const inFlight: Record<string, number> = {};
    let overlaps = 0;
    for (const esp of app.ctx.esps) {
      const adapter = app.ctx.adapters[esp]!;
      const push = adapter.push.bind(adapter);
      // A spy on the real adapter: records what each ESP is sent, in send order.
      (adapter as { push: typeof push }).push = async (contacts, signal) => {
        for (const c of contacts) {
          inFlight[`${esp}:${c.contactId}`] = (inFlight[`${esp}:${c.contactId}`] ?? 0) + 1;
          if (inFlight[`${esp}:${c.contactId}`]! > 1) overlaps++;
          seen[esp] = [...(seen[esp] ?? []), c.version];
        }
        try {
          return await push(contacts, signal);
        } finally {
          for (const c of contacts) inFlight[`${esp}:${c.contactId}`]! -= 1;
        }
      };
    }
    const contact = { externalId: 'ord-1', email: 'ord@example.com' };
    const events = Array.from({ length: 50 }, (_, i) => ({
      eventId: `ord-${i}`, contact, kind: 'marketing', channel: i % 3 === 0 ? 'all' : 'email', value: i % 2 === 0 ? 'opt_out' : 'opt_in',
      source: ['api', 'form', 'preference_center'][i % 3], force: i % 5 === 0,
      moment: new Date(Date.UTC(2026, 10, 1, 0, i)).toISOString(),
    }));
    await Promise.all(events.map((e) => app.post('/v1/consent-events', e)));
    await waitFor(async () => (await app.ctx.models.events.countDocuments({ status: 'pending' })) === 0, { timeoutMs: 60_000 });
    const view = await viewOf(app, 'externalId:ord-1');
    await waitFor(async () => (await pendingOutbox(app, view['contactId'] as string)) === 0, { timeoutMs: 60_000, what: 'outbox drained' });
    expect(overlaps).toBe(0);
    for (const esp of app.ctx.esps) {
      const versions = seen[esp] ?? [];
      expect(versions.length, esp).toBeGreaterThan(0);
      expect(versions, esp).toEqual([...versions].sort((a, b) => a - b));
      expect(versions.at(-1), esp).toBe(view['version']);
    }
    const finalEmail = (view['effective'] as { marketing: Record<string, string> }).marketing['email'];
    const ometria = await simState(sims, 'ometria');
    expect(ometria.recipients['ord@example.com']?.['email']).toBe(finalEmail);
  });
});

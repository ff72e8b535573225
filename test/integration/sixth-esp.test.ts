/**
 * Adding an ESP = one folder and one line in the registry: a sixth ESP that lives only in a test
 * fixture (test/fixtures/esp/acme-mail/) joins the configured list and is picked up by
 * configuration, push delivery, metrics, webhooks, reconciliation and the simulator harness
 * without any file of src/ naming it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/index.js';
import { compareEspsWithMongo } from '../../src/dev/esp-comparison.js';
import { simulatorConnectionEnv } from '../../src/dev/simulator-env.js';
import { BUILT_IN_ESPS } from '../../src/esp/registry.js';
import type { ContactDoc } from '../../src/persistence/models.js';
import { signedHeaders } from '../../src/ingest/webhook-verify.js';
import { formatSimulatorTable } from '../../src/simulators/cli.js';
import { type RunningSimulators, type SimulatorHandle, startSimulators } from '../../src/simulators/index.js';
import { acmeMail } from '../fixtures/esp/acme-mail/acme-mail.module.js';
import { startTestApp } from '../support/app.js';
import { isolatedEnv } from '../support/integration.js';
import { waitFor } from '../support/wait-for.js';

const ESPS = [...BUILT_IN_ESPS, acmeMail];
const WEBHOOK_SECRET = 'acme-mail-webhook-secret-0123456789';

type App = Awaited<ReturnType<typeof startTestApp>>;

function configProblems(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(isolatedEnv(env), { esps: ESPS });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('a sixth ESP from a test fixture (acme-mail)', () => {
  let sims: RunningSimulators;
  let acme: SimulatorHandle;
  let app: App;

  const recipients = () => acme.state().recipients;
  /** A person's email consent, recorded through the API; `externalId` doubles as the eventId's stem. */
  async function recordEmail(externalId: string, email: string, value: 'opt_in' | 'opt_out', moment: string) {
    const event = { eventId: `${externalId}-${value}`, contact: { externalId, email }, kind: 'marketing', channel: 'email', value, source: 'form', moment };
    expect((await app.post('/v1/consent-events', event)).status).toBe(202);
  }
  async function emailOf(email: string) {
    const view = (await app.get(`/v1/contacts/email:${email}`)).body;
    return {
      state: (view['effective'] as { marketing: Record<string, string> } | undefined)?.marketing['email'],
      sources: ((view['audit'] as { source: string; outcome: string }[] | undefined) ?? []).map((a) => `${a.source} ${a.outcome}`),
      sync: (view['sync'] as Record<string, { status: string }> | undefined)?.['acme-mail']?.status,
    };
  }

  /** Waits until the contact's email is opted out by an event whose source is Acme Mail (audit included: it is written just after). */
  async function optedOutByAcme(email: string) {
    await waitFor(
      async () => {
        const v = await emailOf(email);
        return v.state === 'opted_out' && v.sources.includes('esp:acme-mail applied');
      },
      { what: `${email} opted out by esp:acme-mail` },
    );
  }

  beforeAll(async () => {
    sims = await startSimulators({ esps: ESPS, webhookSecret: WEBHOOK_SECRET });
    acme = sims.sims['acme-mail']!;
    // Only Acme Mail is connected: the five built-in ESPs are configured but disabled (no credentials).
    const env = {
      ...simulatorConnectionEnv('acme-mail', sims.urls['acme-mail']!, ESPS),
      ESP_RETRY_BASE_MS: '5',
      ESP_BACKOFF_MS: '50',
      WEBHOOK_SECRET_ACME_MAIL: WEBHOOK_SECRET,
      RECONCILE_PAGE_SIZE: '10',
    };
    app = await startTestApp({ workers: 1, env, esps: ESPS });
  });
  afterAll(async () => {
    await app?.close();
    await sims?.close();
  });

  describe('configuration', () => {
    it('validates its variables with the others: a bad one is named with its rule', () => {
      expect(configProblems({ ACME_MAIL_API_KEY: 'k', ACME_MAIL_BASE_URL: 'not a url' })).toEqual([
        expect.stringMatching(/^ACME_MAIL_BASE_URL: .*URL/i),
      ]);
      // Its lane-1 reserve comes from the registry's rules, not from code that knows it.
      expect(configProblems({ ACME_MAIL_FIRST_LANE_RESERVE: '95', ACME_MAIL_MAX_BATCH: '500' })).toEqual([
        expect.stringMatching(/^ACME_MAIL_MAX_BATCH: .*50/),
        expect.stringMatching(/^ACME_MAIL_FIRST_LANE_RESERVE: .*90/),
      ]);
    });

    it('builds its settings, enabled with its key and disabled (naming the variable) without', () => {
      expect(app.ctx.config.esps['acme-mail']).toMatchObject({
        esp: 'acme-mail',
        enabled: true,
        baseUrl: sims.urls['acme-mail'],
        maxBatch: 50,
        firstLaneReservePercent: 20,
      });
      const without = loadConfig(isolatedEnv(), { esps: ESPS }).esps['acme-mail'];
      expect(without).toMatchObject({ enabled: false, disabledReason: 'missing ACME_MAIL_API_KEY' });
      // Without the module in the list its variables mean nothing.
      expect(loadConfig(isolatedEnv({ ACME_MAIL_API_KEY: 'k' })).esps['acme-mail']).toBeUndefined();
    });

    it('refuses a second module of the same name', () => {
      expect(() => loadConfig(isolatedEnv(), { esps: [...ESPS, acmeMail] })).toThrow(/two ESP modules are named "acme-mail"/);
    });

    it('connects it in the context, beside the configured but disabled built-in ESPs, with its contact indexes', async () => {
      expect(app.ctx.esps).toEqual(['acme-mail']);
      expect(app.ctx.adapters['acme-mail']?.maxBatch).toBe(50);
      const indexes = (await app.ctx.models.contacts.collection.indexes()).map((i) => Object.keys(i.key).join(','));
      expect(indexes).toContain('outbox.acme-mail.lane,outbox.acme-mail.since');
      expect(indexes).toContain('deadLetters.acme-mail.at');
    });
  });

  describe('simulator harness', () => {
    it('starts its simulator with the built-in ones, in the order of the list, and lists it with its credentials', async () => {
      expect(Object.keys(sims.urls)).toEqual(ESPS.map((m) => m.name));
      const state = (await (await fetch(`${sims.urls['acme-mail']}/__sim/state`)).json()) as { recipients: object };
      expect(state.recipients).toBeTypeOf('object');
      const table = formatSimulatorTable(sims.urls, ESPS);
      expect(table.find((line) => line.startsWith('acme-mail'))).toContain('X-Acme-Key: sim-acme-mail-key');
      // Its routes check the credentials it was started with.
      const refused = await fetch(`${sims.urls['acme-mail']}/v1/suppressions`, { headers: { 'X-Acme-Key': 'wrong' } });
      expect(refused.status).toBe(401);
    });
  });

  describe('push delivery and metrics', () => {
    it('an ingested opt-out reaches its simulator, and its push counters and queues carry its label', async () => {
      await recordEmail('acme-1', 'ann@example.com', 'opt_out', '2026-11-20T10:00:00Z');
      await waitFor(() => recipients()['ann@example.com']?.email === 'opted_out', { what: 'the opt-out at acme-mail' });
      expect(acme.requests().some((r) => r.method === 'POST' && r.path === '/v1/contacts/batch')).toBe(true);
      await waitFor(async () => (await emailOf('ann@example.com')).sync === 'synced', { what: 'the push acknowledged' });

      const metrics = (await app.get('/metrics')).text;
      expect(metrics).toMatch(/consent_sync_esp_push_total\{esp="acme-mail",channel="email",outcome="pushed"\} [1-9]/);
      expect(metrics).toContain('queue="esp-sync-first-acme-mail"');
      expect(metrics).toContain('queue="esp-sync-acme-mail"');

      // The demo's and the chaos tests' comparison of simulator state with ours reads it too.
      const contacts = await app.ctx.models.contacts.find({}).lean<ContactDoc[]>();
      const comparison = await compareEspsWithMongo(sims, ['acme-mail'], contacts, ESPS);
      expect(comparison.compared).toBeGreaterThan(0);
      expect(comparison.mismatches).toEqual([]);
    });
  });

  describe('webhooks', () => {
    it("an unsubscribe at Acme Mail, delivered to its webhook, becomes an esp:acme-mail opt-out", async () => {
      await recordEmail('acme-2', 'bo@example.com', 'opt_in', '2026-11-01T00:00:00Z');
      await waitFor(() => recipients()['bo@example.com']?.email === 'opted_in', { what: 'the opt-in at acme-mail' });
      acme.setWebhookTarget(`${app.url}/v1/webhooks/acme-mail`);
      try {
        const acted = await acme.unsubscribe({ recipient: 'bo@example.com', type: 'unsubscribe_link' });
        expect(acted.webhook).toBe(true);
        await optedOutByAcme('bo@example.com');
      } finally {
        acme.setWebhookTarget(undefined);
      }
      expect(JSON.stringify(acme.state()['webhooks'])).toContain('"status":202');
    });

    it('an unsigned delivery is refused (401) and a malformed one names the field (400)', async () => {
      const malformed = JSON.stringify({ events: [{ id: 'x1', type: 'contact.unsubscribed', at: '2026-11-20T10:00:00Z' }] });
      expect((await app.post('/v1/webhooks/acme-mail', malformed)).status).toBe(401);
      const refused = await app.post('/v1/webhooks/acme-mail', malformed, signedHeaders(WEBHOOK_SECRET, malformed));
      expect(refused.status).toBe(400);
      expect(JSON.stringify(refused.body)).toContain('events.0.email');
    });
  });

  describe('reconciliation', () => {
    it('reads its suppression list back: an unsubscribe we never heard of is ingested', async () => {
      await recordEmail('acme-3', 'cy@example.com', 'opt_in', '2026-11-01T00:00:00Z');
      await waitFor(() => recipients()['cy@example.com']?.email === 'opted_in', { what: 'the opt-in at acme-mail' });
      // No webhook target: only a read-back can learn of this one.
      await acme.unsubscribe({ recipient: 'cy@example.com', type: 'spam_complaint' });
      expect((await emailOf('cy@example.com')).state).toBe('opted_in');

      const started = await app.post('/v1/reconciliation/runs', { esp: 'acme-mail' });
      expect(started.status).toBe(202);
      const runId = (started.body['runs'] as { runId: string }[])[0]?.runId;
      const run = await waitFor(
        async () => {
          const r = (await app.get(`/v1/reconciliation/runs/${runId}`)).body;
          return r['status'] === 'done' || r['status'] === 'failed' ? r : undefined;
        },
        { what: 'the acme-mail run' },
      );
      expect(run).toMatchObject({ status: 'done', esp: 'acme-mail', readBack: 'list' });
      expect((run['counts'] as Record<string, number>)['esp_unsubscribed']).toBe(1);
      await optedOutByAcme('cy@example.com');
    });
  });
});

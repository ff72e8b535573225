import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createPolicy, identityKeys } from '../src/domain/index.js';
import type { BuiltInEspName } from '../src/esp/registry.js';
import type { Models } from '../src/persistence/models.js';
import type { ReconcileRunDoc } from '../src/persistence/reconcile-run.model.js';
import { openModels } from './baselines.js';
import type { E2eSetup } from './e2e.js';
import { appEnv } from './lib/env.js';
import { contactEmail } from './lib/events.js';
import { forkChild } from './lib/ipc.js';
import { type ProcessFigures, ProcessSampler, procfileNodeFlags, round } from './lib/proc.js';
import { total } from './lib/redis-stats.js';
import { seedContacts } from './lib/seed.js';

/**
 * Reconciliation of Optimizely Campaign (a list read-back: the ESP's unsubscribe list is paged
 * and every entry is compared with our contact) in a `reconcile` child process running
 * services.reconcileInline, as `consent-sync reconcile` does. Seed: `contacts` people inserted
 * directly into MongoDB (insertMany, batches of 2,000), every one unsubscribed at the ESP;
 * 1% of them opted in on our side (drift: the ESP's unsubscribe is ingested as an opt-out event).
 */

const ESP: BuiltInEspName = 'optimizely-campaign';

export interface ReconcileResult {
  esp: BuiltInEspName;
  contacts: number;
  drift_contacts: number;
  page_size: number;
  seed_contacts_per_s: number;
  compared: number;
  duration_s: number;
  contacts_per_s: number;
  peak_rss_mb: number;
  complete: boolean;
  note?: string;
  counts: Record<string, number>;
  actions: Record<string, number>;
  mongo_cmds_per_contact: number;
  mongo_cmds_top: Record<string, number>;
  http_requests: number;
  processes: Record<string, ProcessFigures>;
  /**
   * Ways to resolve identities to contacts (identity key → contact, two `_id` reads) on the
   * seeded collection, lookups per second: one entry at a time (the engine before it read a page
   * at once), concurrent point reads, and `$in` queries per page (the engine).
   */
  lookup_strategies: Record<string, number>;
  /** With --cpu-prof: the folder of the reconciler's .cpuprofile files (written when it stops). */
  cpu_profile?: string;
}

/** Contacts found per second by three ways of resolving `n` email identities to contacts. */
async function lookupStrategies(models: Models, contacts: number, n: number): Promise<Record<string, number>> {
  const key = (i: number) => identityKeys({ email: contactEmail((i * 7919) % contacts) })[0]!;
  const one = async (i: number) => {
    const owner = await models.identities.findById(key(i)).lean();
    if (owner) await models.contacts.findById(owner.contactId).lean();
  };
  const perSecond = (count: number, ms: number) => round((count / ms) * 1000);
  let t = performance.now();
  for (let i = 0; i < n; i++) await one(i);
  const sequential = perSecond(n, performance.now() - t);
  t = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < n) await one(next++);
    }),
  );
  const concurrent = perSecond(n, performance.now() - t);
  // One page the way the engine reads it: two `$in` queries for 500 entries.
  t = performance.now();
  const keys = Array.from({ length: 500 }, (_, i) => key(n + i));
  const owners = await models.identities.find({ _id: { $in: keys } }).lean();
  await models.contacts.find({ _id: { $in: owners.map((o) => o.contactId) } }).lean();
  const batched = perSecond(500, performance.now() - t);
  return {
    'sequential findById pairs (one entry at a time)': sequential,
    '16 concurrent findById pairs': concurrent,
    'two $in queries per page of 500 (the engine)': batched,
  };
}

export async function runReconcile(
  setup: E2eSetup,
  opts: { label: string; contacts: number; deadlineS: number; pageSize: number; log: (line: string) => void },
): Promise<ReconcileResult> {
  const database = `bench_${opts.label}_${Date.now().toString(36)}`;
  const drift = (i: number) => i % 100 === 0;
  const { conn, models } = await openModels(setup.mongoUri, database);
  try {
    const seedStarted = performance.now();
    let lastLog = 0;
    await seedContacts(models, createPolicy(), opts.contacts, drift, (done) => {
      if (performance.now() - lastLog > 10_000) {
        lastLog = performance.now();
        opts.log(`  seeded ${done.toLocaleString('en')} / ${opts.contacts.toLocaleString('en')} contacts`);
      }
    });
    const seedMs = performance.now() - seedStarted;
    await setup.sims.request('reset');
    for (let from = 0; from < opts.contacts; from += 50_000) {
      await setup.sims.request('seedOptimizelyUnsubscribes', { from, to: Math.min(opts.contacts, from + 50_000) }, 600_000);
    }

    const env = appEnv({
      ...setup,
      database,
      prefix: `bench_${opts.label}_${Date.now().toString(36)}`,
      esps: [ESP],
      extra: { RECONCILE_PAGE_SIZE: String(opts.pageSize) },
    });
    // --cpu-prof profiles the reconciler too (one file per thread; the main thread's is the largest).
    const cpuProfDir = process.argv.includes('--cpu-prof') ? join(setup.logDir, `profiles-${opts.label}`) : undefined;
    const child = forkChild(`${opts.label}-reconciler`, join(setup.here, 'children', 'app.ts'), {
      env: { ...env, BENCH_ROLE: 'reconcile' },
      logDir: setup.logDir,
      // Reconciliation pages run in the worker process: the same node flags as the Procfile's worker.
      nodeFlags: [
        ...procfileNodeFlags(join(setup.here, '..', 'Procfile'), 'worker'),
        ...(cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : []),
      ],
    });
    let progress = { compared: 0, pages: 0 };
    child.onEvent('progress', (p) => {
      progress = p as typeof progress;
    });
    try {
      await child.waitEvent('ready', 60_000);
      await child.request('reset');
      const simsBefore = await setup.sims.request<{ tallies: Record<string, { total: number }> }>('stats');
      const sampler = new ProcessSampler()
        .add('reconciler', child.pid)
        .add('simulators', setup.sims.pid)
        .add('mongo', setup.serverPids.mongo)
        .start();
      const started = performance.now();
      type Outcome = { run: ReconcileRunDoc; ms: number; mongoCommands: Record<string, number>; maxRssKb: number };
      const outcome = await Promise.race([
        child.request<Outcome>('reconcile', { esp: ESP }, opts.deadlineS * 1000 + 60_000),
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), opts.deadlineS * 1000).unref()),
      ]);
      const elapsedMs = performance.now() - started;
      const stats: Omit<Outcome, 'run' | 'ms'> = outcome
        ? outcome
        : await child
            .request<Omit<Outcome, 'run' | 'ms'>>('stats')
            .catch(() => ({ mongoCommands: {} as Record<string, number>, maxRssKb: 0 }));
      const simsAfter = await setup.sims.request<{ tallies: Record<string, { total: number }> }>('stats');
      const figures = sampler.stop();
      const compared = outcome ? outcome.run.compared : progress.compared;
      const ms = outcome ? outcome.ms : elapsedMs;
      const peakKb = Math.max(stats.maxRssKb, (figures['reconciler']?.peak_rss_mb ?? 0) * 1024);
      const http = (simsAfter.tallies[ESP]?.total ?? 0) - (simsBefore.tallies[ESP]?.total ?? 0);
      return {
        esp: ESP,
        contacts: opts.contacts,
        drift_contacts: Math.ceil(opts.contacts / 100),
        page_size: opts.pageSize,
        seed_contacts_per_s: round((opts.contacts / seedMs) * 1000),
        compared,
        duration_s: round(ms / 1000, 1),
        contacts_per_s: round((compared / ms) * 1000),
        peak_rss_mb: round(peakKb / 1024, 1),
        complete: outcome !== undefined && outcome.run.status === 'done',
        ...(outcome
          ? {}
          : {
              note: `stopped at the ${opts.deadlineS} s deadline after ${compared.toLocaleString('en')} of ${opts.contacts.toLocaleString('en')} contacts; the rate is over the part that ran`,
            }),
        counts: outcome?.run.counts ?? {},
        actions: outcome?.run.actions ?? {},
        mongo_cmds_per_contact: round(total(stats.mongoCommands) / Math.max(1, compared), 2),
        mongo_cmds_top: Object.fromEntries(
          Object.entries(stats.mongoCommands)
            .sort((a, b) => b[1] - a[1])
            .slice(0, 8)
            .map(([k, v]) => [k, round(v / Math.max(1, compared), 3)]),
        ),
        http_requests: http,
        processes: figures,
        lookup_strategies: await lookupStrategies(models, opts.contacts, 2_000),
        ...(cpuProfDir ? { cpu_profile: cpuProfDir } : {}),
      };
    } finally {
      await child.stop(5_000);
    }
  } finally {
    await conn.dropDatabase().catch(() => {});
    await conn.close();
  }
}

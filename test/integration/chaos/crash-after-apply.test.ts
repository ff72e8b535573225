import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../config/index.js';
import { startEspSimulators } from '../../support/esp-sims.js';
import {
  AppProcess,
  chaosContact,
  convergenceReport,
  figures,
  generateEvents,
  type Stack,
  sendEvents,
  startStack,
  superviseRestarts,
  waitForQuiescence,
} from '../../support/chaos.js';

/**
 * reliability.md §7 A2 (issue 8 item 2): the worker dies between the MongoDB write of an apply
 * and the enqueue of its ESP pushes. FAULT_EXIT_AFTER_APPLY_EVERY=N makes each worker process
 * SIGKILL itself after its Nth state-changing apply, at exactly that point (src/app/context.ts);
 * a process manager (superviseRestarts) starts it again, as often as it dies. The contact's
 * outbox entries are stored with the write, so the retried job (the event is done: no push
 * enqueued) must be covered by the outbox sweeper: every affected contact reaches every ESP.
 * CHAOS_EVENTS / CHAOS_CONTACTS / CHAOS_EXIT_EVERY scale it.
 */
const EVENTS = Number(process.env['CHAOS_EVENTS'] ?? 100);
const CONTACTS = Number(process.env['CHAOS_CONTACTS'] ?? 60);
const EXIT_EVERY = Number(process.env['CHAOS_EXIT_EVERY'] ?? 2);
const WORKERS = 2;
const MIN_CRASHES = 10;
/** After this many crashes the workers are restarted without the fault (the run ends in bounded time). */
const CRASH_BUDGET = 12;
const FAULT_LINE = /fault injection FAULT_EXIT_AFTER_APPLY_EVERY: SIGKILL after applying event (\S+),/;

describe('chaos: worker crash between the MongoDB write and the ESP push', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      workers: 0,
      startSims: () => startEspSimulators(),
      crossEngageUsers: Array.from({ length: CONTACTS }, (_, i) => chaosContact('x', i).externalId),
      extra: {
        // few jobs in flight per crash: each contact lease a crash leaves behind blocks its contact for 30 s
        APPLY_CONCURRENCY: '4',
        WORKER_LOCK_DURATION_MS: '2000',
        WORKER_STALLED_INTERVAL_MS: '1000',
        SWEEP_DELAY_MS: '3000',
        SWEEP_INTERVAL_MS: '1500',
      },
    });
    // Only the workers carry the fault; web, scheduler and the observer run normally.
    for (let i = 0; i < WORKERS; i++) {
      stack.workers.push(new AppProcess('worker', { ...stack.env, FAULT_EXIT_AFTER_APPLY_EVERY: String(EXIT_EVERY) }));
    }
    await Promise.all(stack.workers.map((w) => w.start()));
  });
  afterAll(async () => stack?.stop());

  it('is a validated setting that production refuses', () => {
    const problems = (env: Record<string, string>): readonly string[] => {
      try {
        loadConfig(env);
        return [];
      } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
      }
    };
    expect(loadConfig({ ...stack.env, FAULT_EXIT_AFTER_APPLY_EVERY: '3' }).faults.exitAfterApplyEvery).toBe(3);
    expect(loadConfig(stack.env).faults.exitAfterApplyEvery).toBe(0);
    // production: whatever else it asks for, the fault setting adds exactly its own refusal
    const production = { ...stack.env, NODE_ENV: 'production' };
    const without = problems(production);
    expect(without.some((p) => p.startsWith('FAULT_'))).toBe(false);
    const withFault = problems({ ...production, FAULT_EXIT_AFTER_APPLY_EVERY: '3' });
    expect(withFault.filter((p) => !without.includes(p))).toEqual(['FAULT_EXIT_AFTER_APPLY_EVERY: fault injection is refused with NODE_ENV=production']);
    expect(problems({ ...stack.env, FAULT_EXIT_AFTER_APPLY_EVERY: '-1' })).toEqual([expect.stringMatching(/^FAULT_EXIT_AFTER_APPLY_EVERY:/)]);
  });

  it('every affected contact is pushed after the restarts; every ESP equals MongoDB; nothing lost', { timeout: 240_000 }, async () => {
    const { ctx } = stack;
    const generated = generateEvents({ prefix: 'x', events: EVENTS, contacts: CONTACTS, seed: 20261202 });
    const started = Date.now();
    const supervisor = superviseRestarts(stack.workers, {
      beforeRestart: (worker, s) => {
        if (s.exits.length >= CRASH_BUDGET) worker.env['FAULT_EXIT_AFTER_APPLY_EVERY'] = '0';
      },
    });
    let quietAt = 0;
    try {
      const load = await sendEvents(
        stack.url,
        generated.map((g) => g.event),
        // Small requests: each is one apply job, and each job can be interrupted on its own.
        { batch: 5, inFlight: 2 },
      );
      const loaded = Date.now();
      await waitForQuiescence(ctx, { timeoutMs: 200_000 });
      quietAt = Date.now();
      await supervisor.stop();

      if (process.env['CHAOS_LOG_FILE']) writeFileSync(process.env['CHAOS_LOG_FILE'], stack.logs()); // every process's lines, for a post-mortem
      const crashedEvents = stack
        .logs()
        .split('\n')
        .flatMap((l) => FAULT_LINE.exec(l)?.[1] ?? []);
      const selfKills = supervisor.exits.filter((e) => e.signal === 'SIGKILL').length;
      const report = await convergenceReport(stack, generated, load.acked);

      // Every contact whose apply was cut off before its push enqueue: no outbox entry left, and
      // every ESP acknowledged its current version.
      const affected = await ctx.models.events.find({ _id: { $in: crashedEvents } }, { contactId: 1 }).lean();
      const affectedIds = [...new Set(affected.map((e) => e.contactId).filter((id): id is string => id !== undefined))];
      const contacts = await ctx.models.contacts.find({ _id: { $in: affectedIds } }).lean();
      const notPushed = contacts.flatMap((c) =>
        ctx.esps
          .filter((esp) => c.outbox[esp] !== undefined || c.sync[esp]?.version !== c.version)
          .map((esp) => `${c._id} ${esp}: outbox ${JSON.stringify(c.outbox[esp] ?? null)}, sync ${JSON.stringify(c.sync[esp] ?? null)}, version ${c.version}`),
      );

      figures('crash-after-apply', {
        events: EVENTS,
        contacts: CONTACTS,
        exitEvery: EXIT_EVERY,
        workers: WORKERS,
        acked: load.acked.size,
        crashes: selfKills,
        faultLines: crashedEvents.length,
        restarts: supervisor.restarts,
        restartSecondsMean: (supervisor.startMs.reduce((a, b) => a + b, 0) / Math.max(1, supervisor.startMs.length) / 1000).toFixed(1),
        failedStarts: supervisor.failedStarts,
        crashSeconds: supervisor.exits.map((e) => Math.round((e.at - started) / 1000)),
        affectedContacts: affectedIds.length,
        lost: report.lost.length,
        doubleApplied: report.doubleApplied.length,
        wrongState: report.wrongState.length,
        notPushed: notPushed.length,
        espCompared: report.esp.compared,
        espMismatches: report.esp.mismatches.length,
        espExplained: report.esp.explained.length,
        failedExplained: report.failedExplained.length,
        failedUnexplained: report.failedUnexplained.length,
        loadSeconds: ((loaded - started) / 1000).toFixed(1),
        quiescenceSeconds: ((quietAt - loaded) / 1000).toFixed(1),
        totalSeconds: ((Date.now() - started) / 1000).toFixed(1),
      });

      expect(selfKills).toBeGreaterThanOrEqual(MIN_CRASHES);
      // each exit is a worker that died by its own SIGKILL at the hook, and was started again
      expect(supervisor.exits.map((e) => e.signal)).toEqual(supervisor.exits.map(() => 'SIGKILL'));
      expect(crashedEvents.length).toBe(selfKills);
      expect(supervisor.restarts).toBe(selfKills);
      expect(supervisor.failedStarts).toEqual([]);
      expect(affected.length).toBe(new Set(crashedEvents).size);
      expect(load.acked.size).toBe(EVENTS);
      expect(report.events).toBe(EVENTS);
      expect(report.lost).toEqual([]);
      expect(report.audits).toBe(EVENTS);
      expect(report.distinctAudits).toBe(EVENTS);
      expect(report.doubleApplied).toEqual([]);
      expect(report.wrongState.slice(0, 5)).toEqual([]);
      expect(notPushed.slice(0, 10)).toEqual([]);
      expect(report.esp.mismatches.slice(0, 10)).toEqual([]);
      expect(report.failedUnexplained).toEqual([]);
    } finally {
      await supervisor.stop();
    }
  });
});

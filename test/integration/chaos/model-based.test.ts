import { writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WireConsentEventInput } from '../../../src/contracts/consent-event.js';
import { ESP_NAMES } from '../../../src/esp/registry.js';
import type { BuiltInEspName } from '../../../src/esp/registry.js';
import { startEspSimulators } from '../../support/esp-sims.js';
import {
  type AppProcess,
  chaosContact,
  convergenceReport,
  type EventSpec,
  eventFromSpec,
  eventSpecArb,
  figures,
  type GeneratedEvent,
  type Stack,
  sendEvents,
  startStack,
  superviseRestarts,
  waitForQuiescence,
} from '../../support/chaos.js';

/**
 * reliability.md §7 (issue 8 item 9): a model-based test of the whole deployment. fast-check
 * generates command sequences of 8–15 commands (one whose precondition fails is skipped by
 * asyncModelRun): enqueue events through the API, re-deliver an earlier event, SIGKILL the
 * worker, restart it, make one ESP simulator fail its next requests (503, 500 or a reset
 * connection), run both sweepers, quiesce. They run against web, scheduler and one worker
 * process on the integration servers. After each quiescence MongoDB must equal the model (the
 * pure resolution, src/domain, of every accepted event) and every simulator must equal MongoDB,
 * with one audit record per event and none applied twice; every run ends restarted and quiesced.
 *
 * The model is the list of accepted events of the whole file: runs share the stack and a pool of
 * four contacts, so events collide within and across runs. MODEL_SEED / MODEL_RUNS reproduce or
 * widen a run (the seed is printed); MODEL_SHRINK=1 shrinks a failure (slow: each step replays
 * processes and quiescences), otherwise the failing sequence is reported as found.
 */
const POOL = 4;
const RUNS = Number(process.env['MODEL_RUNS'] ?? 5);
const MIN_COMMANDS = 8;
const MAX_COMMANDS = 15;
const SEED = Number(process.env['MODEL_SEED'] ?? Math.floor(Math.random() * 2 ** 31));

interface Model {
  workerUp: boolean;
  /** Events sent so far (any run): what a duplicate can pick from. */
  sent: number;
}

interface Real {
  stack: Stack;
  /** Every event the API accepted: the model's input. */
  accepted: GeneratedEvent[];
  sent: WireConsentEventInput[];
}

const stats = {
  commands: {} as Record<string, number>,
  events: 0,
  duplicates: 0,
  crashes: 0,
  restarts: 0,
  espFaults: 0,
  sweeps: 0,
  sweptEvents: 0,
  sweptOutbox: 0,
  /** Workers that died by the fault hook (after an apply's write, before its push enqueue). */
  faultExits: 0,
  quiescences: 0,
  maxQuiescenceMs: 0,
  /** Summed over every check: each must stay 0. */
  lost: 0,
  doubleApplied: 0,
  wrongState: 0,
  espMismatches: 0,
  espCompared: 0,
};
let nextEventId = 0;

const eventSpec = eventSpecArb({ contacts: POOL, minutes: 10 });

function toEvent(s: EventSpec): GeneratedEvent {
  return eventFromSpec('mb', `mb-e${String(nextEventId++).padStart(4, '0')}`, s);
}

const count = (name: string) => {
  stats.commands[name] = (stats.commands[name] ?? 0) + 1;
};

/** Waits for quiescence (the worker must run) and checks MongoDB against the model and every ESP against MongoDB. */
async function quiesceAndCheck(r: Real): Promise<void> {
  const started = Date.now();
  // A worker started with the fault hook dies at its next state-changing apply: a process
  // manager starts it again, without the fault, until the system is quiet.
  const supervisor = superviseRestarts(r.stack.workers, { beforeRestart: (w) => setFault(w, false) });
  try {
    await waitForQuiescence(r.stack.ctx, { timeoutMs: 45_000 });
  } finally {
    await supervisor.stop();
  }
  stats.restarts += supervisor.restarts;
  expect(supervisor.exits.map((e) => e.signal)).toEqual(supervisor.exits.map(() => 'SIGKILL'));
  stats.quiescences++;
  stats.maxQuiescenceMs = Math.max(stats.maxQuiescenceMs, Date.now() - started);
  const acked = new Set(r.accepted.map((g) => g.event.eventId));
  const report = await convergenceReport(r.stack, r.accepted, acked);
  stats.lost += report.lost.length;
  stats.doubleApplied += report.doubleApplied.length;
  stats.wrongState += report.wrongState.length;
  stats.espMismatches += report.esp.mismatches.length;
  stats.espCompared += report.esp.compared;
  expect(report.events).toBe(r.accepted.length);
  expect(report.lost).toEqual([]);
  expect(report.distinctAudits).toBe(r.accepted.length);
  expect(report.audits).toBe(r.accepted.length);
  expect(report.doubleApplied).toEqual([]);
  expect(report.wrongState).toEqual([]);
  expect(report.esp.mismatches).toEqual([]);
  expect(report.esp.explained).toEqual([]); // no dead letter: every fault stays within the retry budget
  expect(report.failedUnexplained).toEqual([]);
}

class Enqueue implements fc.AsyncCommand<Model, Real> {
  constructor(readonly specs: EventSpec[]) {}
  check = () => true;
  async run(m: Model, r: Real) {
    count('enqueue');
    const generated = this.specs.map(toEvent);
    const load = await sendEvents(
      r.stack.url,
      generated.map((g) => g.event),
      { batch: generated.length, inFlight: 1, deadlineMs: 30_000 },
    );
    expect(load.answers).toEqual({ accepted: generated.length });
    r.accepted.push(...generated);
    r.sent.push(...generated.map((g) => g.event));
    m.sent += generated.length;
    stats.events += generated.length;
  }
  toString = () => `enqueue(${JSON.stringify(this.specs.map((s) => [s.contact, s.kind, s.kind === 'marketing' ? s.channel : '-', s.value, s.force ? 'force' : '', s.minute]))})`;
}

class Duplicate implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>) => m.sent > 0;
  async run(_m: Model, r: Real) {
    count('duplicate');
    const event = r.sent[this.pick % r.sent.length]!;
    const load = await sendEvents(r.stack.url, [event], { deadlineMs: 30_000 });
    // the same eventId and content again: acknowledged as a duplicate, never applied twice
    expect(load.answers).toEqual({ duplicate: 1 });
    stats.duplicates++;
  }
  toString = () => `duplicate(#${this.pick})`;
}

class CrashWorker implements fc.AsyncCommand<Model, Real> {
  check = (m: Readonly<Model>) => m.workerUp;
  async run(m: Model, r: Real) {
    count('crash');
    const exit = await r.stack.workers[0]!.kill();
    expect(exit.signal).toBe('SIGKILL');
    m.workerUp = false;
    stats.crashes++;
  }
  toString = () => 'crashWorker';
}

/** FAULT_EXIT_AFTER_APPLY_EVERY=1 on the worker's next start: it dies between its first state-changing apply's write and push enqueue. */
function setFault(worker: AppProcess, on: boolean): void {
  worker.env['FAULT_EXIT_AFTER_APPLY_EVERY'] = on ? '1' : '0';
}

class RestartWorker implements fc.AsyncCommand<Model, Real> {
  constructor(readonly faulty: boolean) {}
  check = (m: Readonly<Model>) => !m.workerUp;
  async run(m: Model, r: Real) {
    count(this.faulty ? 'restartFaulty' : 'restart');
    const worker = r.stack.workers[0]!;
    setFault(worker, this.faulty);
    await worker.start();
    m.workerUp = true;
    stats.restarts++;
  }
  toString = () => (this.faulty ? 'restartWorker(exit after the next apply)' : 'restartWorker');
}

type Fault = '503' | '500' | 'reset';

class EspFails implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly esp: BuiltInEspName,
    readonly faults: Fault[],
  ) {}
  check = () => true;
  async run(_m: Model, r: Real) {
    count('espFails');
    // the next requests to this simulator (any path) fail, one fault each; well within the retry budget
    const steps = this.faults.map((f) => (f === 'reset' ? { reset: true } : { status: Number(f) }));
    r.stack.sims.sims[this.esp].setFaults({ rules: [{ path: '*', steps }] });
    stats.espFaults += steps.length;
  }
  toString = () => `espFails(${this.esp}, ${this.faults.join(',')})`;
}

class Sweep implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(_m: Model, r: Real) {
    count('sweep');
    const events = await r.stack.ctx.services.sweepPendingEvents();
    const outbox = await r.stack.ctx.services.sweepOutbox();
    stats.sweeps++;
    stats.sweptEvents += events.requeued;
    stats.sweptOutbox += Object.values(outbox.requeued).reduce((a, b) => a + b, 0);
  }
  toString = () => 'sweep';
}

class Quiesce implements fc.AsyncCommand<Model, Real> {
  check = (m: Readonly<Model>) => m.workerUp;
  async run(_m: Model, r: Real) {
    count('quiesce');
    await quiesceAndCheck(r);
  }
  toString = () => 'quiesce';
}

/**
 * Weighted: mostly traffic, regularly a crash. The next restart comes with a later command or
 * the run's end; half the restarts carry the fault hook (the worker then dies by itself).
 */
const commandArb = fc.oneof(
  { weight: 4, arbitrary: fc.array(eventSpec, { minLength: 1, maxLength: 4 }).map((specs) => new Enqueue(specs)) },
  { weight: 2, arbitrary: fc.nat().map((pick) => new Duplicate(pick)) },
  { weight: 2, arbitrary: fc.constant(new CrashWorker()) },
  { weight: 2, arbitrary: fc.boolean().map((faulty) => new RestartWorker(faulty)) },
  {
    weight: 2,
    arbitrary: fc
      .record({ esp: fc.constantFrom(...ESP_NAMES), faults: fc.array(fc.constantFrom<Fault>('503', '500', 'reset'), { minLength: 1, maxLength: 4 }) })
      .map(({ esp, faults }) => new EspFails(esp, faults)),
  },
  { weight: 1, arbitrary: fc.constant(new Sweep()) },
  { weight: 2, arbitrary: fc.constant(new Quiesce()) },
);

describe('chaos: model-based (enqueue, duplicate, crash, restart, ESP faults, sweep, quiesce)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      workers: 1,
      startSims: () => startEspSimulators(),
      crossEngageUsers: Array.from({ length: POOL }, (_, i) => chaosContact('mb', i).externalId),
      extra: {
        WORKER_LOCK_DURATION_MS: '1000',
        WORKER_STALLED_INTERVAL_MS: '500',
        SWEEP_DELAY_MS: '1000',
        SWEEP_INTERVAL_MS: '1000',
      },
    });
  });
  afterAll(async () => {
    if (process.env['CHAOS_LOG_FILE'] && stack) writeFileSync(process.env['CHAOS_LOG_FILE'], stack.logs()); // for a post-mortem
    await stack?.stop();
  });

  it('after each quiescence MongoDB equals the model and every simulator equals MongoDB', { timeout: 150_000 }, async () => {
    const started = Date.now();
    const real: Real = { stack, accepted: [], sent: [] };
    const worker = stack.workers[0]!;
    console.log(`[chaos] model-based: seed=${SEED} runs=${RUNS} (MODEL_SEED=${SEED} reproduces it)`);
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(commandArb, { minLength: MIN_COMMANDS, maxLength: MAX_COMMANDS }), async (cmds) => {
        runs++;
        await fc.asyncModelRun(() => ({ model: { workerUp: worker.running, sent: real.sent.length }, real }), cmds);
        // every run ends with the worker up, quiesced and checked
        if (!worker.running) {
          setFault(worker, false);
          await worker.start();
          stats.restarts++;
        }
        await quiesceAndCheck(real);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: process.env['MODEL_SHRINK'] !== '1', verbose: true },
    );
    stats.faultExits = (worker.output().match(/fault injection FAULT_EXIT_AFTER_APPLY_EVERY: SIGKILL/g) ?? []).length;
    figures('model-based', {
      seed: SEED,
      runs,
      ...stats,
      acceptedEvents: real.accepted.length,
      contacts: POOL,
      wallSeconds: ((Date.now() - started) / 1000).toFixed(1),
    });
    expect(runs).toBe(RUNS);
    expect(stats.quiescences).toBeGreaterThanOrEqual(RUNS);
    expect(real.accepted.length).toBeGreaterThan(0);
  });
});

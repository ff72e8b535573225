/**
 * Harness of the chaos tests (test/integration/chaos): killable Redis and MongoDB-protocol
 * servers as child processes on fixed ports and data directories, the web / worker / scheduler
 * entry points as child processes, a load generator that retries until the API acknowledges,
 * quiescence, and the checks every chaos test shares (one audit record per event, MongoDB ==
 * the pure resolution, every simulator == MongoDB).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { type Config, loadConfig } from '../../config/index.js';
import type { WireConsentEventInput } from '../../src/contracts/consent-event.js';
import { freePort, type StartedChild } from '../../src/dev/child.js';
import { compareEspsWithMongo, type EspComparison } from '../../src/dev/esp-comparison.js';
import { type JavaMongo, startJavaMongo } from '../../src/dev/java-mongo.js';
import { withDatabase } from '../../src/dev/mongo-server.js';
import { type LocalRedisCluster, startLocalRedisCluster } from '../../src/dev/redis-cluster.js';
import { type LocalRedis, startLocalRedis } from '../../src/dev/redis-server.js';
import { applyEvent, type ConsentEvent, type ConsentPolicy, type Listing, resolve } from '../../src/domain/index.js';
import { type AppContext, createContext } from '../../src/app/context.js';
import { createLogger } from '../../src/lib/logger.js';
import type { ContactDoc } from '../../src/persistence/models.js';
import { allQueueNames, espQueueNames, QUEUE_APPLY } from '../../src/queues/names.js';
import type { startEspSimulators } from './esp-sims.js';
import { isolatedEnv } from './integration.js';
import { type SpawnedProcess, spawnEntry } from './processes.js';
import { waitFor } from './wait-for.js';

export type Sims = Awaited<ReturnType<typeof startEspSimulators>>;
type Env = Record<string, string>;

/** tmpfs when there is one: a killed server's files survive (only the process dies), and it is fast. */
async function scratchDir(prefix: string): Promise<string> {
  return mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), prefix));
}

/** The simulator-vs-MongoDB comparison lives in src/dev/ (the demo's summary uses it too). */
export { compareEspsWithMongo, type EspComparison, SIM_CHANNELS, type SimChannel, simHolds, simRecipients } from '../../src/dev/esp-comparison.js';

// ------------------------------------------------------------------------------------------------
// Killable servers

/** Debian's redis-server with AOF on, restartable on the same port and data directory. */
export class ChaosRedis {
  private constructor(
    readonly port: number,
    readonly dir: string,
    private server: LocalRedis | undefined,
  ) {}

  static async start(): Promise<ChaosRedis> {
    const dir = await scratchDir('consent-sync-chaos-redis-');
    const port = await freePort();
    const server = await startLocalRedis({ port, appendonly: true, dir });
    return new ChaosRedis(port, dir, server);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** SIGKILL: no shutdown, no final AOF rewrite; what was written before stays on disk. */
  async kill(): Promise<void> {
    if (!this.server) return;
    await killChild(this.server.child);
    this.server = undefined;
  }

  async restart(): Promise<void> {
    if (this.server) throw new Error('redis is still running');
    this.server = await startLocalRedis({ port: this.port, appendonly: true, dir: this.dir });
  }

  /**
   * Stops Redis (SIGKILL), deletes its data directory's files (AOF and RDB) and starts it again
   * on the same port: a Redis that comes back empty, as after `SHUTDOWN NOSAVE` without
   * persistence or a failover to an empty replica.
   */
  async restartEmpty(): Promise<void> {
    await this.kill();
    for (const entry of await readdir(this.dir)) await rm(join(this.dir, entry), { recursive: true, force: true });
    await this.restart();
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    this.server = undefined;
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * mongo-java-server on an H2 MVStore file in `dir`, restartable on the same port and file: what
 * it acknowledged before a SIGKILL is there after the restart (the launcher commits every command).
 */
export class ChaosMongo {
  private constructor(
    readonly port: number,
    readonly dir: string,
    private server: JavaMongo | undefined,
  ) {}

  static async start(): Promise<ChaosMongo> {
    const dir = await scratchDir('consent-sync-chaos-mongo-');
    const port = await freePort();
    const mongo = new ChaosMongo(port, dir, undefined);
    await mongo.restart();
    return mongo;
  }

  /** Server URI without a database (append one with `withDatabase`). */
  get uri(): string {
    return `mongodb://127.0.0.1:${this.port}/`;
  }

  async kill(): Promise<void> {
    if (!this.server) return;
    await killChild(this.server.server);
    this.server = undefined;
  }

  async restart(): Promise<void> {
    if (this.server) throw new Error('the MongoDB-protocol server is still running');
    this.server = await startJavaMongo({ port: this.port, file: join(this.dir, 'data.mv.db'), label: 'mongo-java-server (chaos)' });
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    this.server = undefined;
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function killChild(started: StartedChild): Promise<void> {
  const { child } = started;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  await exited;
}

// ------------------------------------------------------------------------------------------------
// Environment and processes

/**
 * Settings of one chaos test file: its own database and queue prefix (as isolatedEnv), on its own
 * servers when given. Child processes log at info so readiness and the log checks can be read.
 */
export function chaosEnv(opts: { redisUrl?: string; mongoServerUri?: string; extra?: Env } = {}): Env {
  // A killed worker's push claims end after PUSH_CLAIM_MS: the shortest allowed, so recovery
  // takes seconds here (the ESP simulators answer within their 1 s timeouts).
  const env = isolatedEnv({ LOG_LEVEL: 'info', PUSH_CLAIM_MS: '10000', ...opts.extra });
  if (opts.redisUrl) env['REDIS_URL'] = opts.redisUrl;
  if (opts.mongoServerUri) env['MONGODB_URI'] = withDatabase(opts.mongoServerUri, `chaos_${randomBytes(4).toString('hex')}`);
  return env;
}

export type Entry = 'web' | 'worker' | 'scheduler';

/**
 * One process entry point run from source as a child process, restartable. Output of every run
 * is kept (the log checks read it).
 */
export class AppProcess {
  private current: SpawnedProcess | undefined;
  private readonly past: string[] = [];
  starts = 0;
  kills = 0;
  /** Started and reported ready, and not stopped since. */
  ready = false;

  constructor(
    readonly entry: Entry,
    readonly env: Env,
  ) {}

  get pid(): number | undefined {
    return this.current?.child.pid;
  }

  get running(): boolean {
    const c = this.current?.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  /** Starts and waits for the `<entry> ready` log line (after Redis and MongoDB were reached). */
  async start(timeoutMs = 45_000): Promise<void> {
    if (this.running) throw new Error(`${this.entry} is already running`);
    if (this.current) this.past.push(this.current.output());
    const proc = spawnEntry(this.entry, this.env);
    this.current = proc;
    this.starts++;
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    void proc.exited.then((e) => {
      exited = e;
    });
    await waitFor(
      () => {
        if (exited) throw new Error(`${this.entry} exited during start-up (${JSON.stringify(exited)}):\n${proc.output().slice(-3_000)}`);
        return proc.output().includes(`"msg":"${this.entry} ready"`);
      },
      { timeoutMs, intervalMs: 50, what: `${this.entry} ready` },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${proc.output().slice(-3_000)}`);
    });
    this.ready = true;
  }

  /** Sends `signal` and waits for the exit; resolves with how it ended and how long it took. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    const proc = this.current;
    if (!proc || !this.running) return { code: proc?.child.exitCode ?? null, signal: proc?.child.signalCode ?? null, ms: 0 };
    const started = Date.now();
    this.ready = false;
    if (signal === 'SIGKILL') this.kills++;
    proc.child.kill(signal);
    const result = await proc.exited;
    return { ...result, ms: Date.now() - started };
  }

  kill() {
    return this.stop('SIGKILL');
  }

  /** How the current run ended; undefined while it runs (or before the first start). */
  get exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    const c = this.current?.child;
    if (!c || (c.exitCode === null && c.signalCode === null)) return undefined;
    return { code: c.exitCode, signal: c.signalCode };
  }

  /** Resolves once the current run's stdout and stderr are closed (its last lines read). */
  async outputClosed(): Promise<void> {
    const c = this.current?.child;
    const open = [c?.stdout, c?.stderr].filter((s) => s && !s.closed) as NodeJS.ReadableStream[];
    await Promise.all(open.map((s) => new Promise((r) => s.once('close', r))));
  }

  /** Everything every run of this process wrote to stdout and stderr. */
  output(): string {
    return [...this.past, this.current?.output() ?? ''].join('');
  }
}

export interface Supervisor {
  /** Exits the processes took on their own (not stopped or killed by the test), in order. */
  exits: { entry: Entry; code: number | null; signal: NodeJS.Signals | null; at: number }[];
  restarts: number;
  /** Starts that failed (died or not ready in time); each is tried again. */
  failedStarts: string[];
  /** Milliseconds each successful restart took until the process was ready. */
  startMs: number[];
  /** Stops watching, after the restart under way (if any) has finished. */
  stop(): Promise<void>;
}

/**
 * A process manager for `procs`: any of them that exits on its own (a crash, a fault hook) is
 * started again. Processes the test stopped or killed (stop() clears `ready`) are left alone.
 */
export function superviseRestarts(
  procs: readonly AppProcess[],
  opts: { intervalMs?: number; beforeRestart?: (p: AppProcess, s: Supervisor) => void } = {},
): Supervisor {
  let watching = true;
  const supervisor: Supervisor = {
    exits: [],
    restarts: 0,
    failedStarts: [],
    startMs: [],
    stop: async () => {
      watching = false;
      await loop;
    },
  };
  const loop = (async () => {
    while (watching) {
      for (const p of procs) {
        if (!p.ready || p.running) continue;
        const exit = p.exitStatus;
        if (exit) supervisor.exits.push({ entry: p.entry, ...exit, at: Date.now() });
        await p.outputClosed(); // the dead run's last lines belong to its output
        opts.beforeRestart?.(p, supervisor);
        const started = Date.now();
        try {
          await p.start();
          supervisor.restarts++;
          supervisor.startMs.push(Date.now() - started);
        } catch (err) {
          // still ready and not running: tried again on the next turn
          supervisor.failedStarts.push((err as Error).message.slice(0, 300));
        }
      }
      await cadence(opts.intervalMs ?? 100);
    }
  })();
  return supervisor;
}

/**
 * An in-process application context on the same servers, without workers: the test's window
 * into MongoDB and the queues (counts, sweeps, direct corruption).
 */
export async function observerContext(env: Env): Promise<AppContext & { config: Config }> {
  const config = loadConfig({ ...env, LOG_LEVEL: 'silent' });
  return createContext(config, createLogger({ level: 'silent', format: 'json' }));
}

/** Removes the file's queues and database from shared servers (chaos files on their own servers just stop them). */
export async function disposeObserver(ctx: AppContext, opts: { drop: boolean }): Promise<void> {
  if (opts.drop) {
    await Promise.all(allQueueNames(ctx.esps).map((q) => ctx.runtime.queue(q).obliterate({ force: true }).catch(() => {})));
    await ctx.mongo.dropDatabase().catch(() => {});
  }
  await ctx.close();
}

// ------------------------------------------------------------------------------------------------
// Events and load

export const SOURCES = ['api', 'form', 'import', 'list_unsubscribe', 'unsubscribe_link', 'preference_center', 'app_settings'];

export interface GeneratedEvent {
  contact: number;
  event: WireConsentEventInput & { moment: string };
}

/** A full user (externalId and email): every simulator has a key for it. */
export function chaosContact(prefix: string, i: number): { externalId: string; email: string } {
  return { externalId: `${prefix}-${i}`, email: `${prefix}.${i}@example.com` };
}

/** One random event's choices over `contacts` full users, in `minutes` distinct minutes. */
export function eventSpecArb(opts: { contacts: number; minutes?: number }) {
  return fc.record({
    contact: fc.integer({ min: 0, max: opts.contacts - 1 }),
    kind: fc.constantFrom('marketing', 'marketing', 'marketing', 'tracking'),
    channel: fc.constantFrom('email', 'email', 'sms', 'push', 'all'),
    value: fc.constantFrom('opt_in', 'opt_out'),
    source: fc.constantFrom(...SOURCES),
    force: fc.boolean(),
    minute: fc.integer({ min: 0, max: opts.minutes ?? 120 }),
  });
}
export type EventSpec = ReturnType<typeof eventSpecArb> extends fc.Arbitrary<infer T> ? T : never;

/** The event a spec describes, for contact `<prefix>-<spec.contact>`. */
export function eventFromSpec(prefix: string, eventId: string, s: EventSpec): GeneratedEvent {
  return {
    contact: s.contact,
    event: {
      eventId,
      contact: chaosContact(prefix, s.contact),
      kind: s.kind as 'marketing' | 'tracking',
      ...(s.kind === 'marketing' ? { channel: s.channel } : {}),
      value: s.value as 'opt_in' | 'opt_out',
      source: s.source,
      force: s.force,
      // few distinct minutes: equal moments (tie-breaks) are common
      moment: new Date(Date.UTC(2026, 10, 1) + s.minute * 60_000).toISOString(),
    },
  };
}

/** A reproducible event stream over `contacts` full users (fast-check's generator, fixed seed). */
export function generateEvents(opts: { prefix: string; events: number; contacts: number; seed: number; minutes?: number }): GeneratedEvent[] {
  return fc
    .sample(eventSpecArb(opts), { numRuns: opts.events, seed: opts.seed })
    .map((s, n) => eventFromSpec(opts.prefix, `${opts.prefix}-e${String(n).padStart(5, '0')}`, s));
}

export function toDomainEvent(e: WireConsentEventInput, moment: string): ConsentEvent {
  return {
    eventId: e.eventId,
    kind: e.kind,
    ...(e.channel !== undefined ? { channel: e.channel } : {}),
    value: e.value,
    source: e.source,
    force: e.force ?? false,
    moment,
  };
}

/** The pure model: each contact's events folded with the domain rules, then resolved. */
export function pureResolution(
  events: readonly { key: string; event: ConsentEvent }[],
  policy: ConsentPolicy,
): Map<string, ReturnType<typeof resolve>> {
  const listings = new Map<string, Listing[]>();
  for (const { key, event } of events) listings.set(key, applyEvent(listings.get(key) ?? [], event, policy).listings);
  return new Map([...listings].map(([key, l]) => [key, resolve(l, policy)]));
}

export interface LoadReport {
  /** eventIds the API answered 202 for. */
  acked: Set<string>;
  requests: number;
  /** Requests answered with something other than 202, or not answered; each was retried. */
  retried: number;
  statuses: Record<string, number>;
  /** Per-event answers of acknowledged batches: `accepted` (first delivery) or `duplicate`. */
  answers: Record<string, number>;
}

/**
 * Posts events in batches, `inFlight` requests at a time, as app servers would: a batch that is
 * not acknowledged (no answer, 5xx) is retried until it is, so every event ends acknowledged.
 * `onBatch` runs after each acknowledged batch (pacing hooks).
 */
export async function sendEvents(
  url: string,
  events: readonly WireConsentEventInput[],
  opts: {
    batch?: number;
    inFlight?: number;
    deadlineMs?: number;
    onBatch?: (done: number) => Promise<void> | void;
    /** Requests as given (e.g. re-deliveries spread so that no request repeats an eventId). */
    batches?: readonly (readonly WireConsentEventInput[])[];
  } = {},
): Promise<LoadReport> {
  const batch = opts.batch ?? 50;
  const report: LoadReport = { acked: new Set(), requests: 0, retried: 0, statuses: {}, answers: {} };
  const batches: (readonly WireConsentEventInput[])[] = opts.batches ? [...opts.batches] : [];
  if (!opts.batches) for (let i = 0; i < events.length; i += batch) batches.push(events.slice(i, i + batch));
  const deadline = Date.now() + (opts.deadlineMs ?? 120_000);
  let next = 0;
  let done = 0;
  const lane = async () => {
    for (;;) {
      const mine = batches[next++];
      if (!mine) return;
      for (let attempt = 0; ; attempt++) {
        report.requests++;
        let status = 'no_answer';
        try {
          const res = await fetch(`${url}/v1/consent-events`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ events: mine }),
            signal: AbortSignal.timeout(15_000),
          });
          status = String(res.status);
          const body = (await res.json().catch(() => undefined)) as { events?: { eventId: string; status: string }[] } | undefined;
          if (res.status === 202) {
            for (const e of body?.events ?? []) {
              report.acked.add(e.eventId);
              report.answers[e.status] = (report.answers[e.status] ?? 0) + 1;
            }
          }
        } catch {
          // connection refused / reset / timeout: not acknowledged, retried below
        }
        report.statuses[status] = (report.statuses[status] ?? 0) + 1;
        if (status === '202') break;
        if (status.startsWith('4')) throw new Error(`the API refused a batch with ${status}`);
        report.retried++;
        if (Date.now() > deadline) throw new Error(`a batch was still not acknowledged at the deadline (last: ${status})`);
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 1_000)));
      }
      done++;
      await opts.onBatch?.(done);
    }
  };
  await Promise.all(Array.from({ length: opts.inFlight ?? 4 }, lane));
  return report;
}

// ------------------------------------------------------------------------------------------------
// Quiescence and checks

const BUSY_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

export interface QueueSnapshot {
  pendingEvents: number;
  pendingOutbox: number;
  busy: Record<string, number>;
  failed: Record<string, number>;
}

/** The apply queue and one queue per connected ESP: the queues that carry consent. */
export function consentQueues(ctx: AppContext): string[] {
  return [QUEUE_APPLY, ...ctx.esps.flatMap(espQueueNames)];
}

export async function snapshotQueues(ctx: AppContext): Promise<QueueSnapshot> {
  const busy: Record<string, number> = {};
  const failed: Record<string, number> = {};
  for (const name of consentQueues(ctx)) {
    const counts = await ctx.runtime.queue(name).getJobCounts(...BUSY_STATES, 'failed');
    busy[name] = BUSY_STATES.reduce((sum, s) => sum + (counts[s] ?? 0), 0);
    failed[name] = counts['failed'] ?? 0;
  }
  return {
    pendingEvents: await ctx.models.events.countDocuments({ status: 'pending' }),
    pendingOutbox: await ctx.models.contacts.countDocuments({ outbox: { $ne: {} } }),
    busy,
    failed,
  };
}

function isQuiet(s: QueueSnapshot): boolean {
  return s.pendingEvents === 0 && s.pendingOutbox === 0 && Object.values(s.busy).every((n) => n === 0);
}

/** What is stuck and why: pending events with their apply job's state, and failed jobs with reasons. */
export async function diagnose(ctx: AppContext, limit = 5): Promise<string> {
  const lines: string[] = [];
  const pending = await ctx.models.events.find({ status: 'pending' }, { _id: 1 }).limit(limit).lean();
  const apply = ctx.runtime.queue(QUEUE_APPLY);
  for (const e of pending) {
    const job = await apply.getJob(`apply-${e._id}`);
    lines.push(`pending ${e._id}: apply job ${job ? `${await job.getState()} (attempts ${job.attemptsMade}, ${job.failedReason ?? ''})` : 'missing'}`);
  }
  for (const name of consentQueues(ctx)) {
    for (const job of await ctx.runtime.queue(name).getFailed(0, limit - 1)) {
      lines.push(`failed ${name} ${job.id}: ${job.failedReason}`);
    }
  }
  const outbox = await ctx.models.contacts.find({ outbox: { $ne: {} } }, { _id: 1, outbox: 1 }).limit(limit).lean();
  for (const c of outbox) lines.push(`outbox ${c._id}: ${JSON.stringify(c.outbox)}`);
  // Busy queues by state, and when their first delayed job is due: stuck workers or long delays?
  for (const name of consentQueues(ctx)) {
    const queue = ctx.runtime.queue(name);
    const counts = await queue.getJobCounts(...BUSY_STATES);
    if (Object.values(counts).every((n) => n === 0)) continue;
    const [delayed] = await queue.getDelayed(0, 0);
    const due = delayed ? ` (first delayed job due in ${Math.round((delayed.timestamp + delayed.delay - Date.now()) / 1000)} s)` : '';
    lines.push(`busy ${name}: ${JSON.stringify(counts)}${due}; workers ${(await queue.getWorkers()).length}`);
  }
  return lines.join('\n');
}

/**
 * Waits until no event is pending, no outbox entry is left and the consent queues hold no
 * waiting, active or delayed job; then runs one sweep of each kind and checks that it found
 * nothing. Throws with a diagnosis when that does not happen in time.
 */
export async function waitForQuiescence(ctx: AppContext, opts: { timeoutMs?: number; what?: string } = {}): Promise<QueueSnapshot> {
  let last: QueueSnapshot | undefined;
  try {
    return await waitFor(
      async () => {
        last = await snapshotQueues(ctx);
        if (!isQuiet(last)) return undefined;
        const events = await ctx.services.sweepPendingEvents();
        const outbox = await ctx.services.sweepOutbox();
        const requeued = events.requeued + Object.values(outbox.requeued).reduce((a, b) => a + b, 0);
        if (requeued > 0) return undefined;
        last = await snapshotQueues(ctx);
        return isQuiet(last) ? last : undefined;
      },
      { timeoutMs: opts.timeoutMs ?? 60_000, intervalMs: 500, what: opts.what ?? 'quiescence' },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\nlast snapshot: ${JSON.stringify(last)}\n${await diagnose(ctx)}`);
  }
}

/** Audit records: exactly one per eventId, and one for every acknowledged event. */
export async function auditReport(ctx: AppContext, acked: ReadonlySet<string>) {
  const audits = await ctx.models.audit
    .find({}, { _id: 1, contactId: 1, outcome: 1, version: 1, momentClamped: 1, moment: 1 })
    .lean();
  const ids = new Set(audits.map((a) => a._id));
  const missing = [...acked].filter((id) => !ids.has(id));
  const versionsByContact = new Map<string, Set<number>>();
  for (const a of audits) {
    if (!a.contactId || a.version === undefined || a.version < 1) continue;
    const set = versionsByContact.get(a.contactId) ?? new Set<number>();
    set.add(a.version);
    versionsByContact.set(a.contactId, set);
  }
  return { audits, distinct: ids.size, missing, versionsByContact };
}

/**
 * A contact's version counts the changes pushed to the ESPs (state or authority); each audit
 * record carries the version its event left. An event applied twice bumps the version twice
 * but has one audit record, so some version in 1..version is carried by no audit record (and
 * a lost update leaves the same kind of hole). Returns the contacts with such a hole.
 */
export function versionMismatches(contacts: readonly ContactDoc[], versionsByContact: ReadonlyMap<string, ReadonlySet<number>>): string[] {
  const out: string[] = [];
  for (const c of contacts) {
    const seen = versionsByContact.get(c._id) ?? new Set<number>();
    const holes = Array.from({ length: c.version }, (_, i) => i + 1).filter((v) => !seen.has(v));
    const beyond = [...seen].filter((v) => v > c.version);
    if (holes.length > 0 || beyond.length > 0) {
      out.push(`${c._id}: version ${c.version}, no audit record for ${JSON.stringify(holes)}, audit versions beyond it ${JSON.stringify(beyond)}`);
    }
  }
  return out;
}

/** Contacts whose effective state is not the pure resolution of their events. */
export function resolutionMismatches(
  contacts: readonly ContactDoc[],
  expected: ReadonlyMap<string, unknown>,
  keyOf: (c: ContactDoc) => string | undefined,
): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const c of contacts) {
    const key = keyOf(c);
    if (key === undefined) continue;
    seen.add(key);
    if (JSON.stringify(c.effective) !== JSON.stringify(expected.get(key))) {
      out.push(`${key}: got ${JSON.stringify(c.effective)} expected ${JSON.stringify(expected.get(key))}`);
    }
  }
  for (const key of expected.keys()) if (!seen.has(key)) out.push(`${key}: no contact in MongoDB`);
  return out;
}

/** CrossEngage pushes never create users: seed the full users first, as production has them. */
export async function seedCrossEngage(sims: Sims, externalIds: readonly string[]): Promise<void> {
  const res = await fetch(`${sims.urls.crossengage}/__sim/seed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ users: externalIds.map((id) => ({ id })) }),
  });
  if (!res.ok) throw new Error(`seeding CrossEngage failed: ${res.status}`);
}

/** Email- and phone-shaped text (what must never reach Redis or a log line). */
export const EMAIL_PATTERN = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/;
export const PHONE_PATTERN = /\+[1-9]\d{7,14}/;

/** Sleeps: only for a kill cadence or an outage's length, never to wait for a result (use waitFor). */
export function cadence(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ------------------------------------------------------------------------------------------------
// A whole deployment: servers, simulators, web, scheduler and workers

export interface Stack {
  env: Env;
  ctx: AppContext;
  sims: Sims;
  url: string;
  web: AppProcess;
  scheduler: AppProcess | undefined;
  workers: AppProcess[];
  redis: ChaosRedis | undefined;
  /** The stack's own 3-master Redis Cluster (AOF on), when it runs on one: masters can be killed and restarted. */
  redisCluster: LocalRedisCluster | undefined;
  mongo: ChaosMongo | undefined;
  /** Every line every process of the stack wrote. */
  logs(): string;
  stop(): Promise<void>;
}

/**
 * Starts what a chaos test needs: its own Redis and/or MongoDB-protocol server when it kills
 * them (else the shared ones, with its own database and prefix), the five simulators, an
 * observer context, and the web, scheduler and worker processes.
 */
export async function startStack(opts: {
  ownRedis?: boolean;
  /** Its own 3-master Redis Cluster with AOF on (instead of a single Redis). */
  redisCluster?: boolean;
  ownMongo?: boolean;
  workers?: number;
  scheduler?: boolean;
  extra?: Env;
  crossEngageUsers?: readonly string[];
  startSims: () => Promise<Sims>;
}): Promise<Stack> {
  const [redis, redisCluster, mongo, sims] = await Promise.all([
    opts.ownRedis && !opts.redisCluster ? ChaosRedis.start() : undefined,
    opts.redisCluster ? startLocalRedisCluster({ appendonly: true }) : undefined,
    opts.ownMongo ? ChaosMongo.start() : undefined,
    opts.startSims(),
  ]);
  if (opts.crossEngageUsers) await seedCrossEngage(sims, opts.crossEngageUsers);
  const env = chaosEnv({
    ...(redis ? { redisUrl: redis.url } : {}),
    ...(redisCluster ? { redisUrl: `redis://127.0.0.1:${redisCluster.nodes[0]!.port}` } : {}),
    ...(mongo ? { mongoServerUri: mongo.uri } : {}),
    extra: { ...sims.env, ...(redisCluster ? { REDIS_CLUSTER_NODES: redisCluster.nodesSetting } : {}), ...opts.extra },
  });
  const ctx = await observerContext(env);
  const webPort = await freePort();
  const web = new AppProcess('web', { ...env, HOST: '127.0.0.1', PORT: String(webPort) });
  const scheduler = opts.scheduler === false ? undefined : new AppProcess('scheduler', env);
  const workers = Array.from({ length: opts.workers ?? 1 }, () => new AppProcess('worker', env));
  await Promise.all([web, ...(scheduler ? [scheduler] : []), ...workers].map((p) => p.start()));
  const all = () => [web, ...(scheduler ? [scheduler] : []), ...workers];
  return {
    env,
    ctx,
    sims,
    url: `http://127.0.0.1:${webPort}`,
    web,
    scheduler,
    workers,
    redis,
    redisCluster,
    mongo,
    logs: () => all().map((p) => p.output()).join(''),
    async stop() {
      await Promise.all(all().map((p) => p.kill()));
      await disposeObserver(ctx, { drop: !(redis || redisCluster) || !mongo }).catch(() => {});
      await sims.close();
      await redis?.stop();
      await redisCluster?.stop();
      await mongo?.stop();
    },
  };
}

export interface ConvergenceReport {
  events: number;
  audits: number;
  distinctAudits: number;
  /** Acknowledged events without an audit record: lost. */
  lost: string[];
  /** Contacts whose version is not their number of state-changing events: applied twice. */
  doubleApplied: string[];
  /** Contacts whose effective state is not the pure resolution of their events. */
  wrongState: string[];
  esp: EspComparison;
  failedExplained: string[];
  failedUnexplained: string[];
  /** Each audit record's stored moment (clamped or not) and outcome. */
  auditsById: Map<string, { moment: string; momentClamped: boolean; outcome: string }>;
}

/**
 * The pass criteria every chaos test shares, measured after quiescence: one audit record per
 * event and none missing, no double application, MongoDB == the pure resolution (with the
 * moments as stored, i.e. clamped), every simulator == MongoDB, and every job in a failed set
 * explained (its event was applied, or its push delivered, afterwards).
 */
export async function convergenceReport(
  stack: Pick<Stack, 'ctx' | 'sims'>,
  generated: readonly GeneratedEvent[],
  acked: ReadonlySet<string>,
): Promise<ConvergenceReport> {
  const { ctx } = stack;
  const audit = await auditReport(ctx, acked);
  const moments = new Map(audit.audits.map((a) => [a._id, a.moment]));
  const expected = pureResolution(
    generated.map((g) => ({
      key: g.event.contact.externalId ?? '',
      event: toDomainEvent(g.event, moments.get(g.event.eventId) ?? g.event.moment),
    })),
    ctx.policy,
  );
  const contacts = await ctx.models.contacts.find({}).lean();
  const failedExplained: string[] = [];
  const failedUnexplained: string[] = [];
  const apply = ctx.runtime.queue(QUEUE_APPLY);
  for (const job of await apply.getFailed(0, -1)) {
    const eventIds = (job.data as { eventIds: string[] }).eventIds;
    const pending = await ctx.models.events.countDocuments({ _id: { $in: eventIds }, status: { $ne: 'done' } });
    (pending === 0 ? failedExplained : failedUnexplained).push(`${QUEUE_APPLY} ${job.id}: ${job.failedReason} (${pending} of ${eventIds.length} events not applied)`);
  }
  const byId = new Map(contacts.map((c) => [c._id, c]));
  for (const esp of ctx.esps) {
    const failed = (await Promise.all(espQueueNames(esp).map((name) => ctx.runtime.queue(name).getFailed(0, -1)))).flat();
    for (const job of failed) {
      // A failed push job is explained once each of its contacts was delivered by a later push.
      const undelivered = (job.data as { contactIds: string[] }).contactIds.filter((id) => {
        const contact = byId.get(id);
        return !(contact && !contact.outbox[esp] && contact.sync[esp]?.version === contact.version);
      });
      (undelivered.length === 0 ? failedExplained : failedUnexplained).push(`${esp} ${job.id}: ${job.failedReason} (${undelivered.length} contacts undelivered)`);
    }
  }
  return {
    events: await ctx.models.events.countDocuments({}),
    audits: audit.audits.length,
    distinctAudits: audit.distinct,
    lost: audit.missing,
    doubleApplied: versionMismatches(contacts, audit.versionsByContact).map((line) => `${line}; ${versionEvidence(line, byId, audit.audits)}`),
    wrongState: resolutionMismatches(contacts, expected, (c) => c.identities.externalId),
    esp: await compareEspsWithMongo(stack.sims, ctx.esps, contacts),
    failedExplained,
    failedUnexplained,
    auditsById: new Map(audit.audits.map((a) => [a._id, { moment: a.moment, momentClamped: a.momentClamped, outcome: a.outcome }])),
  };
}

/**
 * What a version hole's contact holds: its journal (oldest first) and every audit record naming
 * it. A hole is rare and timing-dependent (seen once in a CI run of mongo-kill), so the
 * failure message has to carry what is needed to tell a twice-applied event from a mislabelled
 * audit record, without a rerun.
 */
function versionEvidence(
  line: string,
  contacts: ReadonlyMap<string, ContactDoc>,
  audits: readonly { _id: string; contactId?: string; version?: number; outcome?: string }[],
): string {
  const id = line.slice(0, line.indexOf(':'));
  const journal = (contacts.get(id)?.journal ?? []).map((j) => `${j.eventId} v${j.version} ${j.outcome}`);
  const named = audits.filter((a) => a.contactId === id).map((a) => `${a._id} v${a.version ?? '-'} ${a.outcome ?? '-'}`);
  return `journal [${journal.join(', ')}]; audits [${named.join(', ')}]`;
}

/** One line for the test output: the measured figures the issue asks for. */
export function figures(name: string, values: Record<string, unknown>): void {
  console.log(`[chaos] ${name}: ${Object.entries(values).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ')}`);
}

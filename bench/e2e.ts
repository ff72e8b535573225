import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ConsentClient, type ConsentEventInput } from '../src/client/index.js';
import { ESP_NAMES } from '../src/esp/registry.js';
import type { BuiltInEspName } from '../src/esp/registry.js';
import { openModels } from './baselines.js';
import { appEnv } from './lib/env.js';
import { makeEvents } from './lib/events.js';
import { type BenchChild, forkChild } from './lib/ipc.js';
import { machineBusySeconds, type ProcessFigures, ProcessSampler, procfileNodeFlags, round } from './lib/proc.js';
import { commandDelta, type MonitorSample, total } from './lib/redis-stats.js';
import { type BenchRedis, commandStatsOf, jobsAddedByQueue, monitorSampleOf } from './lib/redis-topology.js';
import { cdf, percentiles } from './lib/stats.js';

/**
 * End to end: events from the producer client (ConsentClient → HTTP API of a `web` child
 * process) until every ESP simulator acknowledged every resulting state change (a `worker`
 * child process running all queues). Either as fast as possible (`max`), or at a fixed offered
 * rate (`rate`: a batch every 100 ms) to read latency below saturation.
 */

export interface E2eSetup {
  redisUrl: string;
  /** The single Redis at redisUrl, for counting; a run may name another (E2eOptions.redis). */
  redis: BenchRedis;
  mongoUri: string;
  simUrls: Record<BuiltInEspName, string>;
  sims: BenchChild;
  serverPids: { mongo?: number };
  logDir: string;
  here: string;
}

export interface E2eOptions {
  label: string;
  events: number;
  contacts: number;
  mode: { kind: 'max'; producers: number } | { kind: 'rate'; eventsPerSecond: number; durationS: number };
  /**
   * Events sent first, the same way (as fast as possible, or at the rate), on other people: they
   * warm the measured processes (JIT, caches, connections; a worker runs for days, its first
   * seconds are start-up, not load). Once they are delivered everywhere the counters are reset
   * and the measured events start. Their latency is reported apart as `warmup`, never dropped.
   */
  warmupEvents?: number;
  cpuProfDir?: string;
  /** Extra environment for the measured processes (experiments: --set=KEY=VALUE). */
  extraEnv?: Record<string, string>;
  seed: number;
  stallTimeoutMs: number;
  /** Worker processes, each running every queue (default 1). */
  workers?: number;
  /** The ESPs the measured processes connect (default: all five): what each one costs, by difference. */
  esps?: readonly BuiltInEspName[];
  /** The Redis of this run (default: setup.redis, the single one). */
  redis?: BenchRedis;
}

interface WorkerStats {
  mongoCommands: Record<string, number>;
  maxRssKb: number;
  cpuMs: number;
  eventLoopUtilization: number;
  counters?: Record<string, number>;
  failed?: number;
}

interface SimTally {
  total: number;
  unseen: number;
  byRoute: Record<string, number>;
  byStatus: Record<string, number>;
}

export interface E2eResult {
  label: string;
  mode: string;
  events: number;
  contacts: number;
  offered_events_per_s?: number;
  duration_s: number;
  events_per_s: number;
  ingest_events_per_s: number;
  apply_events_per_s: number;
  state_changing_events: number;
  /** State-changing events whose change (or a newer one) reached every ESP, per second of the run. */
  state_changes_per_s: number;
  /** e2e events/s per window of 10,000 events in completion order (does throughput fall as collections grow?). */
  events_per_s_by_window: { events: number; events_per_s: number }[];
  /** BullMQ jobs added during the run, by queue (each queue's `id` counter, which every add INCRs). */
  jobs_added: Record<string, number>;
  jobs_per_event: number;
  /** Contacts holding a dead letter per ESP at the end (MongoDB `deadLetters.<esp>`). */
  dead_letters: Record<string, number>;
  latency_ms: { p50?: number; p90?: number; p99?: number; max?: number };
  /** Per ESP: accepted → that ESP answered for the event's version or a newer one (which ESP makes the tail). */
  latency_ms_by_esp: Record<string, { p50?: number; p99?: number; max?: number }>;
  /** The warm-up events (E2eOptions.warmupEvents), kept out of every other figure; their latency here (processes just started). */
  warmup?: { events: number; latency_ms: { p50?: number; p99?: number; max?: number } };
  apply_latency_ms: { p50?: number; p99?: number; max?: number };
  undelivered: number;
  mongo_cmds_per_event: number;
  mongo_cmds_per_event_by_process: Record<string, number>;
  mongo_cmds_top: Record<string, number>;
  redis_cmds_per_event: number;
  redis_cmds_top: Record<string, number>;
  /** From the MONITOR sample: the share of Redis commands that are network round trips (the rest run inside Lua). */
  redis_monitor: {
    seconds: number;
    round_trip_share: number;
    round_trips_top: Record<string, number>;
  };
  http_requests_per_event: Record<string, number>;
  http_routes: Record<string, Record<string, number>>;
  http_statuses: Record<string, Record<string, number>>;
  /**
   * Per process; with several workers each is `worker 1`, `worker 2`, … and `worker` is their sum
   * (CPU) and largest (RSS). On a cluster, each master is `redis <port>`.
   */
  processes: Record<string, ProcessFigures & { cpu_ms_per_event: number }>;
  /** CPU seconds per second of the run, per process (not the `worker` sum): who saturates. */
  cores_used: Record<string, number>;
  /** The whole machine's busy CPU per second of the run (other users' processes included). */
  machine_cores_busy: number | null;
  redis_topology: 'single' | 'cluster';
  worker_processes: number;
  /** RSS right after start-up (modules loaded, connections open, no traffic yet). */
  rss_at_ready_mb: { web: number; worker: number };
  event_loop_utilization: Record<string, number>;
  outcomes: Record<string, number>;
  job_failures: number;
  outbox_left: number;
  /** Contacts changed by the run (version > 0) and ESP answers observed (contact versions). */
  contacts_changed: number;
  esp_answers: number;
  timeline: { second: number; accepted: number; applied: number; delivered: number }[];
  latency_cdf: [number, number][];
  cpu_profile?: string;
}

/** What the worker child streams (bench/children/app.ts). */
export interface WorkerRecords {
  applied: [string, number][];
  /** [contactId, espIndex, version, answeredAtMs, deadLetter 0|1] */
  deliveries: [string, number, number, number, number][];
}
interface Progress {
  applied: number;
  deliveries: number;
  failed: number;
}

/**
 * What each ESP answered for, per contact: the versions it received (not dead-lettered) and
 * when, and the newest version it dead-lettered. Answers arrive in time order per ESP.
 */
export class DeliveryLog {
  private readonly received = new Map<string, [number, number][][]>();
  private readonly dead = new Map<string, number[]>();
  answers = 0;
  constructor(private readonly esps: number) {}

  add(records: readonly [string, number, number, number, number][]) {
    for (const [c, i, v, t, dead] of records) {
      this.answers++;
      if (dead) {
        const row = this.dead.get(c) ?? new Array<number>(this.esps).fill(-1);
        row[i] = Math.max(row[i]!, v);
        this.dead.set(c, row);
        continue;
      }
      let lists = this.received.get(c);
      if (!lists) {
        lists = Array.from({ length: this.esps }, () => []);
        this.received.set(c, lists);
      }
      lists[i]!.push([v, t]);
    }
  }

  /** When ESP number `esp` first answered for `version` or a newer one, not with a dead letter. */
  answeredAt(contactId: string, version: number, esp: number): number | undefined {
    return this.received.get(contactId)?.[esp]?.find(([v]) => v >= version)?.[1];
  }

  /** When the last ESP first answered for `version` or a newer one, not with a dead letter. */
  deliveredAt(contactId: string, version: number): number | undefined {
    if (!this.received.has(contactId)) return undefined;
    let at = 0;
    for (let esp = 0; esp < this.esps; esp++) {
      const answered = this.answeredAt(contactId, version, esp);
      if (answered === undefined) return undefined;
      at = Math.max(at, answered);
    }
    return at;
  }

  /** Like deliveredAt, but a dead letter at `version` or newer also settles an ESP (time: now-ish, 0). */
  settledAt(contactId: string, version: number): number | undefined {
    const lists = this.received.get(contactId);
    const dead = this.dead.get(contactId);
    let at = 0;
    for (let i = 0; i < this.esps; i++) {
      if ((dead?.[i] ?? -1) >= version) continue;
      const hit = lists?.[i]?.find(([v]) => v >= version);
      if (!hit) return undefined;
      at = Math.max(at, hit[1]);
    }
    return at;
  }
}

/**
 * The events that moved their contact's version (what ESPs receive changed). An audit record
 * carries the version after its event; events that changed nothing carry the version they
 * found. Per (contact, version) the changer is the one whose state summary changed, else (an
 * authority-only change) the earliest applied one.
 */
export function changingEvents(
  audits: readonly { _id: string; contactId?: string; version?: number; previous?: unknown; next?: unknown; applied: Date }[],
  indexOf: (eventId: string) => number,
): Set<string> {
  const byVersion = new Map<string, (typeof audits)[number][]>();
  for (const a of audits) {
    if (!a.contactId || a.version === undefined || a.version <= 0) continue;
    const key = `${a.contactId}\u0000${a.version}`;
    const list = byVersion.get(key) ?? [];
    list.push(a);
    byVersion.set(key, list);
  }
  const out = new Set<string>();
  for (const list of byVersion.values()) {
    const changed = list.find((a) => JSON.stringify(a.previous) !== JSON.stringify(a.next));
    const first = changed ?? [...list].sort((x, y) => x.applied.getTime() - y.applied.getTime() || indexOf(x._id) - indexOf(y._id))[0]!;
    out.add(first._id);
  }
  return out;
}

/** events/s per window of `size` events, in the order they completed (applied, and delivered if they changed state). */
export function windows(doneTimes: readonly number[], started: number, size: number): { events: number; events_per_s: number }[] {
  const sorted = Float64Array.from(doneTimes).sort();
  const out: { events: number; events_per_s: number }[] = [];
  let from = started;
  for (let i = 0; i < sorted.length; i += size) {
    const end = Math.min(sorted.length, i + size);
    const to = sorted[end - 1]!;
    out.push({ events: end, events_per_s: round(((end - i) / Math.max(1, to - from)) * 1000) });
    from = to;
  }
  return out;
}

/** The workers' counts added up: commands and CPU summed, RSS the largest, utilisation the mean. */
function sumWorkerStats(all: readonly WorkerStats[]): WorkerStats {
  const add = (pick: (w: WorkerStats) => Record<string, number> | undefined) => {
    const out: Record<string, number> = {};
    for (const w of all) for (const [k, v] of Object.entries(pick(w) ?? {})) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  return {
    mongoCommands: add((w) => w.mongoCommands),
    counters: add((w) => w.counters),
    maxRssKb: Math.max(...all.map((w) => w.maxRssKb)),
    cpuMs: all.reduce((n, w) => n + w.cpuMs, 0),
    eventLoopUtilization: all.reduce((n, w) => n + w.eventLoopUtilization, 0) / all.length,
    failed: all.reduce((n, w) => n + (w.failed ?? 0), 0),
  };
}

function top(counts: Record<string, number>, n: number, per: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(counts)
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => [k, round(v / per, 3)]),
  );
}

/** Per key, `after - before` (keys only in `after` as they are). */
function difference(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) > 0) out[k] = v - (before[k] ?? 0);
  return out;
}

/** The simulators' request tallies of the measured part only (the warm-up's taken off). */
function talliesSince(before: Record<string, SimTally>, after: Record<string, SimTally>): Record<string, SimTally> {
  const out: Record<string, SimTally> = {};
  for (const [esp, t] of Object.entries(after)) {
    const b = before[esp];
    out[esp] = {
      total: t.total - (b?.total ?? 0),
      unseen: t.unseen - (b?.unseen ?? 0),
      byRoute: difference(t.byRoute, b?.byRoute ?? {}),
      byStatus: difference(t.byStatus, b?.byStatus ?? {}),
    };
  }
  return out;
}

export async function runE2e(setup: E2eSetup, opts: E2eOptions): Promise<E2eResult> {
  const tag = `${opts.label}-${Date.now().toString(36)}`;
  const database = `bench_${opts.label}_${Date.now().toString(36)}`;
  const redis = opts.redis ?? setup.redis;
  const workerCount = Math.max(1, opts.workers ?? 1);
  const env = appEnv({ ...setup, database, prefix: `bench_${tag}`, esps: opts.esps, extra: { ...redis.env, ...opts.extraEnv } });
  const script = join(setup.here, 'children', 'app.ts');
  await setup.sims.request('reset');

  const procfile = join(setup.here, '..', 'Procfile');
  const workerLabels = workerCount === 1 ? ['worker'] : Array.from({ length: workerCount }, (_, i) => `worker ${i + 1}`);
  const workers = workerLabels.map((label) =>
    forkChild(`${opts.label}-${label.replace(' ', '-')}`, script, {
      env: { ...env, BENCH_ROLE: 'worker' },
      logDir: setup.logDir,
      nodeFlags: [
        ...procfileNodeFlags(procfile, 'worker'),
        // One profile per thread (tsx runs its loader in a worker thread); the main thread's is the largest.
        ...(opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : []),
      ],
    }),
  );
  const web = forkChild(`${opts.label}-web`, script, {
    env: { ...env, BENCH_ROLE: 'web' },
    logDir: setup.logDir,
    nodeFlags: procfileNodeFlags(procfile, 'web'),
  });
  const children = [...workers, web];
  try {
    const [readies, { url, rssKb: webReadyKb }] = await Promise.all([
      Promise.all(workers.map((w) => w.waitEvent<{ esps: BuiltInEspName[]; rssKb: number }>('ready', 60_000))),
      web.waitEvent<{ url: string; rssKb: number }>('ready', 60_000),
    ]);
    const workerReadyKb = Math.max(...readies.map((r) => r.rssKb));
    const client = new ConsentClient({ baseUrl: url, maxBatch: 500, timeoutMs: 120_000 });
    const count = opts.mode.kind === 'max' ? opts.events : Math.round(opts.mode.eventsPerSecond * opts.mode.durationS);
    // Warm-up events come first (indexes below warmupCount), on people the measured events never
    // name, so the measured events meet the same fresh contacts as without a warm-up.
    const warmupCount = Math.max(0, Math.round(opts.warmupEvents ?? 0));
    const endMs = Date.now() - 60_000;
    const warmupEvents = makeEvents({ count: warmupCount, contacts: opts.contacts, tag, seed: opts.seed + 1, endMs, firstPerson: opts.contacts });
    const events = makeEvents({ count, contacts: opts.contacts, tag, seed: opts.seed, endMs, firstIndex: warmupCount });
    const acceptedAt = new Float64Array(warmupCount + count);
    const indexOf = (eventId: string) => Number(eventId.slice(tag.length + 1));

    // The worker numbers the ESPs it connected in its own order (bench/children/app.ts).
    const nEsp = readies[0]!.esps.length;
    const log = new DeliveryLog(nEsp);
    const appliedAt = new Map<string, number>();
    // An event applied by two workers (a re-delivered job) counts once: the first moment wins.
    for (const worker of workers) {
      worker.onEvent('records', (r) => {
        const batch = r as WorkerRecords;
        for (const [id, t] of batch.applied) if (!appliedAt.has(id)) appliedAt.set(id, t);
        log.add(batch.deliveries);
      });
    }
    /** Resolves once `applied` events are applied and no ESP has answered for 500 ms. */
    const quietAfter = async (applied: number) => {
      let deliveries = -1;
      let since = Date.now();
      for (;;) {
        const replies = await Promise.all(workers.map((w) => w.request<Progress>('progress')));
        const now = replies.reduce((n, r) => n + r.deliveries, 0);
        if (now !== deliveries) {
          deliveries = now;
          since = Date.now();
        } else if (appliedAt.size >= applied && Date.now() - since >= 500) return;
        if (Date.now() - since > opts.stallTimeoutMs) throw new Error(`${opts.label}: the warm-up did not settle (applied ${appliedAt.size}/${applied})`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const send = async (batch: ConsentEventInput[]) => {
      await client.recordMany(batch);
      const now = Date.now();
      for (const e of batch) acceptedAt[indexOf(e.eventId)] = now;
    };
    const produce = (list: readonly ConsentEventInput[]): Promise<unknown> => {
      if (opts.mode.kind === 'max') {
        const batches: ConsentEventInput[][] = [];
        for (let i = 0; i < list.length; i += 500) batches.push(list.slice(i, i + 500));
        let next = 0;
        return Promise.all(
          Array.from({ length: opts.mode.producers }, async () => {
            while (next < batches.length) await send(batches[next++]!);
          }),
        );
      }
      // Open loop: a batch every 100 ms whatever the answers' speed, so queues show up as latency.
      const perTick = opts.mode.eventsPerSecond / 10;
      return new Promise<void>((resolve, reject) => {
        const inflight: Promise<void>[] = [];
        let sent = 0;
        let tick = 0;
        const timer = setInterval(() => {
          tick++;
          const due = Math.min(list.length, Math.round(perTick * tick));
          while (sent < due) {
            const batch = list.slice(sent, Math.min(due, sent + 500));
            sent += batch.length;
            inflight.push(send(batch));
          }
          if (sent >= list.length) {
            clearInterval(timer);
            Promise.all(inflight).then(() => resolve(), reject);
          }
        }, 100);
      });
    };
    if (warmupCount > 0) {
      await produce(warmupEvents);
      await quietAfter(warmupCount);
    }

    await Promise.all(children.map((c) => c.request('reset')));
    const simsBefore = await setup.sims.request<{ tallies: Record<string, SimTally> }>('stats');
    const jobsBefore = await jobsAddedByQueue(redis, env['QUEUE_PREFIX']!);
    const redisLabels = redis.nodes.map((n) => (redis.kind === 'single' ? 'redis' : `redis ${new URL(n.url).port}`));
    const sampler = new ProcessSampler().add('web', web.pid);
    for (const [i, w] of workers.entries()) sampler.add(workerLabels[i]!, w.pid);
    sampler.add('simulators', setup.sims.pid);
    for (const [i, n] of redis.nodes.entries()) sampler.add(redisLabels[i]!, n.pid);
    sampler.add('mongo', setup.serverPids.mongo).add('bench (producer)', process.pid).start();
    const redisBefore = await commandStatsOf(redis);
    const machineBusyBefore = machineBusySeconds();
    const started = Date.now();
    const t0 = performance.now();

    // A 3 s MONITOR sample from the second second on: round trips vs Lua-internal commands.
    const monitoring = new Promise<MonitorSample>((resolve, reject) =>
      setTimeout(() => monitorSampleOf(redis, 3_000).then(resolve, reject), 2_000),
    );
    await produce(events);
    const ingestMs = performance.now() - t0;

    // Done when every event is applied and every ESP has answered for every contact's final
    // version. Once every event is applied the versions are final: they are read once from
    // MongoDB (by the orchestrator, so the measured processes' command counts stay theirs).
    const { conn, models } = await openModels(setup.mongoUri, database);
    let last = { applied: -1, deliveries: -1 };
    let lastChange = Date.now();
    let finalVersions: Map<string, number> | undefined;
    let pending: Set<string> | undefined;
    for (;;) {
      // Each reply comes after that worker's pending records (one ordered IPC channel per child).
      const replies = await Promise.all(workers.map((w) => w.request<Progress>('progress')));
      const p: Progress = {
        applied: appliedAt.size,
        deliveries: replies.reduce((n, r) => n + r.deliveries, 0),
        failed: replies.reduce((n, r) => n + r.failed, 0),
      };
      if (!finalVersions && p.applied >= warmupCount + count) {
        finalVersions = new Map();
        const docs = await models.contacts.find({ version: { $gt: 0 } }, { version: 1 }).lean();
        for (const d of docs) finalVersions.set(d._id, d.version);
        pending = new Set(finalVersions.keys());
      }
      if (pending && finalVersions) {
        for (const c of pending) if (log.settledAt(c, finalVersions.get(c)!) !== undefined) pending.delete(c);
        if (pending.size === 0) break;
      }
      if (p.applied !== last.applied || p.deliveries !== last.deliveries) {
        last = p;
        lastChange = Date.now();
      } else if (Date.now() - lastChange > opts.stallTimeoutMs) {
        await conn.close();
        throw new Error(
          `${opts.label}: no progress for ${opts.stallTimeoutMs} ms (applied ${p.applied - warmupCount}/${count}, contacts not yet at their final version everywhere ${pending?.size ?? '?'}, failed jobs ${p.failed}); see ${workers.map((w) => w.logFile).join(', ')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const observedMs = performance.now() - t0;
    const monitor = await monitoring;
    const redisCmds = commandDelta(redisBefore, await commandStatsOf(redis));
    const jobsAdded = difference(await jobsAddedByQueue(redis, env['QUEUE_PREFIX']!), jobsBefore);
    const [eachWorkerStats, webStats, simsAfter] = await Promise.all([
      Promise.all(workers.map((w) => w.request<WorkerStats>('stats'))),
      web.request<WorkerStats>('stats'),
      setup.sims.request<{ tallies: Record<string, SimTally> }>('stats'),
    ]);
    const simStats = { tallies: talliesSince(simsBefore.tallies, simsAfter.tallies) };
    const workerStats = sumWorkerStats(eachWorkerStats);
    const dumps = await Promise.all(workers.map((w) => w.request<{ esps: BuiltInEspName[] }>('dump')));
    const esps = dumps[0]!.esps;
    const figures = sampler.stop();
    const machineBusyAfter = machineBusySeconds();
    // The clock stops at the last record the finish needed (the observer polls every 50 ms).
    let lastRecord = started;
    for (const t of appliedAt.values()) lastRecord = Math.max(lastRecord, t);
    for (const c of finalVersions!.keys()) lastRecord = Math.max(lastRecord, log.settledAt(c, finalVersions!.get(c)!) ?? 0);
    const totalMs = Math.min(observedMs, Math.max(1, lastRecord - started));

    // Which contact version each event produced, and whether it changed what ESPs receive,
    // from the audit records (one per event), read after the clock stopped.
    const audits = await models.audit
      .find({}, { contactId: 1, version: 1, previous: 1, next: 1, applied: 1 })
      .lean<{ _id: string; contactId?: string; version?: number; previous?: unknown; next?: unknown; applied: Date }[]>();
    const changers = changingEvents(audits, indexOf);

    // Latency: accepted (the 202 reached the producer) → the last ESP answered (not with a dead
    // letter) for a version at least as new as the one this event produced.
    const latencies: number[] = [];
    const warmupLatencies: number[] = [];
    const espLatencies: number[][] = Array.from({ length: nEsp }, () => []);
    const applyLatencies: number[] = [];
    const doneTimes: number[] = [];
    let delivered = 0;
    let undelivered = 0;
    const timeline = new Map<number, { accepted: number; applied: number; delivered: number }>();
    const bucket = (t: number) => {
      const sec = Math.floor((t - started) / 1000);
      const b = timeline.get(sec) ?? { accepted: 0, applied: 0, delivered: 0 };
      timeline.set(sec, b);
      return b;
    };
    for (const t of acceptedAt.subarray(warmupCount)) bucket(t).accepted++;
    let lastApplied = started;
    const measuredContacts = new Set<string>();
    for (const a of audits) {
      const i = indexOf(a._id);
      const applied = appliedAt.get(a._id);
      const accepted = acceptedAt[i] ?? started;
      if (applied === undefined) continue;
      const doneAt = changers.has(a._id) && a.contactId && a.version !== undefined ? log.deliveredAt(a.contactId, a.version) : undefined;
      if (i < warmupCount) {
        // The warm-up is only reported for its latency; every other figure is the measured part's.
        if (doneAt !== undefined) warmupLatencies.push(Math.max(0, doneAt - accepted));
        continue;
      }
      if (a.contactId && (a.version ?? 0) > 0) measuredContacts.add(a.contactId);
      lastApplied = Math.max(lastApplied, applied);
      applyLatencies.push(Math.max(0, applied - accepted));
      bucket(applied).applied++;
      if (!changers.has(a._id) || !a.contactId || a.version === undefined) {
        doneTimes.push(applied);
        continue;
      }
      if (doneAt === undefined) {
        undelivered++;
        doneTimes.push(applied);
        continue;
      }
      delivered++;
      latencies.push(Math.max(0, doneAt - accepted));
      for (let e = 0; e < nEsp; e++) {
        const answered = log.answeredAt(a.contactId, a.version, e);
        if (answered !== undefined) espLatencies[e]!.push(Math.max(0, answered - accepted));
      }
      doneTimes.push(Math.max(applied, doneAt));
      bucket(doneAt).delivered++;
    }
    const [p50, p90, p99, max] = percentiles(latencies, [50, 90, 99, 100]);
    const shortLatency = (list: readonly number[]) => {
      const [l50, l99, lmax] = percentiles(list, [50, 99, 100]);
      return { p50: l50, p99: l99, max: lmax };
    };

    // Cross-check in MongoDB: outbox entries left behind, and dead letters (never counted as delivered).
    const outboxLeft =
      esps.length === 0 ? 0 : await models.contacts.countDocuments({ $or: esps.map((esp) => ({ [`outbox.${esp}`]: { $exists: true } })) });
    const deadLetters: Record<string, number> = {};
    for (const esp of esps) deadLetters[esp] = await models.contacts.countDocuments({ [`deadLetters.${esp}`]: { $exists: true } });
    await conn.close();

    const mongoTotal = total(workerStats.mongoCommands) + total(webStats.mongoCommands);
    const allMongo: Record<string, number> = { ...webStats.mongoCommands };
    for (const [k, v] of Object.entries(workerStats.mongoCommands)) allMongo[k] = (allMongo[k] ?? 0) + v;
    const processes: E2eResult['processes'] = {};
    const coresUsed: Record<string, number> = {};
    for (const [label, f] of Object.entries(figures)) {
      processes[label] = { ...f, cpu_ms_per_event: round((f.cpu_s * 1000) / count, 2) };
      coresUsed[label] = round(f.cpu_s / (totalMs / 1000), 2);
    }
    if (workerCount > 1) {
      const each = workerLabels.map((l) => figures[l]).filter((f) => f !== undefined);
      const cpuS = each.reduce((n, f) => n + f.cpu_s, 0);
      processes['worker'] = {
        peak_rss_mb: Math.max(...each.map((f) => f.peak_rss_mb)),
        cpu_s: round(cpuS, 2),
        cpu_ms_per_event: round((cpuS * 1000) / count, 2),
      };
    }
    const outcomes: Record<string, number> = {};
    for (const [k, v] of Object.entries(workerStats.counters ?? {})) outcomes[k] = v;
    const seconds = [...timeline.keys()].sort((a, b) => a - b);
    return {
      label: opts.label,
      mode: opts.mode.kind === 'max' ? `max (${opts.mode.producers} producers, batches of 500)` : 'fixed rate',
      events: count,
      contacts: opts.contacts,
      ...(opts.mode.kind === 'rate' ? { offered_events_per_s: round(opts.mode.eventsPerSecond) } : {}),
      duration_s: round(totalMs / 1000, 2),
      events_per_s: round((count / totalMs) * 1000),
      ingest_events_per_s: round((count / ingestMs) * 1000),
      apply_events_per_s: round((count / Math.max(1, lastApplied - started)) * 1000),
      state_changing_events: delivered + undelivered,
      state_changes_per_s: round((delivered / totalMs) * 1000),
      events_per_s_by_window: windows(doneTimes, started, 10_000),
      jobs_added: jobsAdded,
      jobs_per_event: round(total(jobsAdded) / count, 3),
      dead_letters: deadLetters,
      latency_ms: { p50, p90, p99, max },
      latency_ms_by_esp: Object.fromEntries(esps.map((esp, e) => [esp, shortLatency(espLatencies[e]!)])),
      ...(warmupCount > 0
        ? { warmup: { events: warmupCount, latency_ms: shortLatency(warmupLatencies) } }
        : {}),
      apply_latency_ms: shortLatency(applyLatencies),
      undelivered,
      mongo_cmds_per_event: round(mongoTotal / count, 2),
      mongo_cmds_per_event_by_process: {
        web: round(total(webStats.mongoCommands) / count, 3),
        worker: round(total(workerStats.mongoCommands) / count, 2),
      },
      mongo_cmds_top: top(allMongo, 14, count),
      redis_cmds_per_event: round(total(redisCmds) / count, 2),
      redis_cmds_top: top(redisCmds, 10, count),
      redis_monitor: {
        seconds: monitor.seconds,
        round_trip_share: round(total(monitor.client) / Math.max(1, total(monitor.client) + total(monitor.lua)), 3),
        round_trips_top: top(monitor.client, 8, Math.max(1, total(monitor.client)) / 1),
      },
      http_requests_per_event: Object.fromEntries(ESP_NAMES.map((esp) => [esp, round((simStats.tallies[esp]?.total ?? 0) / count, 3)])),
      http_routes: Object.fromEntries(Object.entries(simStats.tallies).map(([esp, t]) => [esp, t.byRoute])),
      http_statuses: Object.fromEntries(Object.entries(simStats.tallies).map(([esp, t]) => [esp, t.byStatus])),
      processes,
      cores_used: coresUsed,
      machine_cores_busy:
        machineBusyBefore === undefined || machineBusyAfter === undefined
          ? null
          : round((machineBusyAfter - machineBusyBefore) / (observedMs / 1000), 2),
      redis_topology: redis.kind,
      worker_processes: workerCount,
      rss_at_ready_mb: { web: round(webReadyKb / 1024, 1), worker: round(workerReadyKb / 1024, 1) },
      event_loop_utilization: {
        web: round(webStats.eventLoopUtilization, 2),
        worker: round(workerStats.eventLoopUtilization, 2),
      },
      outcomes,
      job_failures: workerStats.failed ?? 0,
      outbox_left: outboxLeft,
      contacts_changed: measuredContacts.size,
      esp_answers: log.answers,
      timeline: seconds.map((s) => ({ second: s, ...timeline.get(s)! })),
      latency_cdf: cdf(latencies),
      ...(opts.cpuProfDir ? { cpu_profile: opts.cpuProfDir } : {}),
    };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
}

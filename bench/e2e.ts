import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { ConsentClient, type ConsentEventInput } from '../src/client/index.js';
import type { EspName } from '../src/esp/types.js';
import { openModels } from './baselines.js';
import { appEnv } from './lib/env.js';
import { makeEvents } from './lib/events.js';
import { type BenchChild, forkChild } from './lib/ipc.js';
import { type ProcessFigures, ProcessSampler, procfileNodeFlags, round } from './lib/proc.js';
import { commandDelta, commandStats, type MonitorSample, monitorSample, total } from './lib/redis-stats.js';
import { cdf, percentiles } from './lib/stats.js';

/**
 * End to end: events from the producer client (ConsentClient → HTTP API of a `web` child
 * process) until every ESP simulator acknowledged every resulting state change (a `worker`
 * child process running all queues). Either as fast as possible (`max`), or at a fixed offered
 * rate (`rate`: a batch every 100 ms) to read latency below saturation.
 */

export interface E2eSetup {
  redisUrl: string;
  mongoUri: string;
  simUrls: Record<EspName, string>;
  sims: BenchChild;
  stats: Redis;
  serverPids: { redis?: number; mongo?: number };
  logDir: string;
  here: string;
}

export interface E2eOptions {
  label: string;
  events: number;
  contacts: number;
  mode: { kind: 'max'; producers: number } | { kind: 'rate'; eventsPerSecond: number; durationS: number };
  cpuProfDir?: string;
  /** Extra environment for the measured processes (experiments: --set=KEY=VALUE). */
  extraEnv?: Record<string, string>;
  seed: number;
  stallTimeoutMs: number;
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
  latency_ms: { p50?: number; p90?: number; p99?: number; max?: number };
  apply_latency_ms: { p50?: number; p99?: number; max?: number };
  undelivered: number;
  mongo_cmds_per_event: number;
  mongo_cmds_per_event_by_process: Record<string, number>;
  mongo_cmds_top: Record<string, number>;
  redis_cmds_per_event: number;
  redis_cmds_top: Record<string, number>;
  /** From the MONITOR sample: shares of Redis commands that are round trips, and lease attempts per event. */
  redis_monitor: {
    seconds: number;
    round_trip_share: number;
    round_trips_top: Record<string, number>;
    contact_lease_attempts_share_of_round_trips: number;
  };
  http_requests_per_event: Record<string, number>;
  http_routes: Record<string, Record<string, number>>;
  http_statuses: Record<string, Record<string, number>>;
  processes: Record<string, ProcessFigures & { cpu_ms_per_event: number }>;
  /** RSS right after start-up (modules loaded, connections open, no traffic yet). */
  rss_at_ready_mb: { web: number; worker: number };
  event_loop_utilization: Record<string, number>;
  outcomes: Record<string, number>;
  job_failures: number;
  outbox_left: number;
  timeline: { second: number; accepted: number; applied: number; delivered: number }[];
  latency_cdf: [number, number][];
  cpu_profile?: string;
}

function top(counts: Record<string, number>, n: number, per: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(counts)
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => [k, round(v / per, 3)]),
  );
}

export async function runE2e(setup: E2eSetup, opts: E2eOptions): Promise<E2eResult> {
  const tag = `${opts.label}-${Date.now().toString(36)}`;
  const database = `bench_${opts.label}_${Date.now().toString(36)}`;
  const env = appEnv({ ...setup, database, prefix: `bench_${tag}`, extra: opts.extraEnv ?? {} });
  const script = join(setup.here, 'children', 'app.ts');
  await setup.sims.request('reset');

  const procfile = join(setup.here, '..', 'Procfile');
  const worker = forkChild(`${opts.label}-worker`, script, {
    env: { ...env, BENCH_ROLE: 'worker' },
    logDir: setup.logDir,
    nodeFlags: [
      ...procfileNodeFlags(procfile, 'worker'),
      // One profile per thread (tsx runs its loader in a worker thread); the main thread's is the largest.
      ...(opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : []),
    ],
  });
  const web = forkChild(`${opts.label}-web`, script, {
    env: { ...env, BENCH_ROLE: 'web' },
    logDir: setup.logDir,
    nodeFlags: procfileNodeFlags(procfile, 'web'),
  });
  const children = [worker, web];
  try {
    const [{ rssKb: workerReadyKb }, { url, rssKb: webReadyKb }] = await Promise.all([
      worker.waitEvent<{ esps: EspName[]; rssKb: number }>('ready', 60_000),
      web.waitEvent<{ url: string; rssKb: number }>('ready', 60_000),
    ]);
    const client = new ConsentClient({ baseUrl: url, maxBatch: 500, timeoutMs: 120_000 });
    const count = opts.mode.kind === 'max' ? opts.events : Math.round(opts.mode.eventsPerSecond * opts.mode.durationS);
    const events = makeEvents({ count, contacts: opts.contacts, tag, seed: opts.seed, endMs: Date.now() - 60_000 });
    const acceptedAt = new Float64Array(count);
    const indexOf = (eventId: string) => Number(eventId.slice(tag.length + 1));

    let progress = { applied: 0, pending: 0, acks: 0, failed: 0 };
    worker.onEvent('progress', (p) => {
      progress = p as typeof progress;
    });
    const records = { applied: [] as [string, [string, number, number, number]][], acks: [] as [string, number, number, number][] };
    worker.onEvent('records', (r) => {
      const batch = r as typeof records;
      for (const a of batch.applied) records.applied.push(a);
      for (const a of batch.acks) records.acks.push(a);
    });

    await Promise.all(children.map((c) => c.request('reset')));
    const sampler = new ProcessSampler()
      .add('web', web.pid)
      .add('worker', worker.pid)
      .add('simulators', setup.sims.pid)
      .add('redis', setup.serverPids.redis)
      .add('mongo', setup.serverPids.mongo)
      .add('bench (producer)', process.pid)
      .start();
    const redisBefore = await commandStats(setup.stats);
    const started = Date.now();
    const t0 = performance.now();

    const send = async (batch: ConsentEventInput[]) => {
      await client.recordMany(batch);
      const now = Date.now();
      for (const e of batch) acceptedAt[indexOf(e.eventId)] = now;
    };
    // A 3 s MONITOR sample from the second second on: round trips vs Lua-internal commands.
    const monitoring = new Promise<MonitorSample>((resolve, reject) =>
      setTimeout(() => monitorSample(setup.redisUrl, 3_000).then(resolve, reject), 2_000),
    );
    let producing: Promise<unknown>;
    if (opts.mode.kind === 'max') {
      const batches: ConsentEventInput[][] = [];
      for (let i = 0; i < count; i += 500) batches.push(events.slice(i, i + 500));
      let next = 0;
      producing = Promise.all(
        Array.from({ length: opts.mode.producers }, async () => {
          while (next < batches.length) await send(batches[next++]!);
        }),
      );
    } else {
      // Open loop: a batch every 100 ms whatever the answers' speed, so queues show up as latency.
      const perTick = opts.mode.eventsPerSecond / 10;
      const inflight: Promise<void>[] = [];
      let sent = 0;
      producing = new Promise<void>((resolve, reject) => {
        let tick = 0;
        const timer = setInterval(() => {
          tick++;
          const due = Math.min(count, Math.round(perTick * tick));
          while (sent < due) {
            const batch = events.slice(sent, Math.min(due, sent + 500));
            sent += batch.length;
            inflight.push(send(batch));
          }
          if (sent >= count) {
            clearInterval(timer);
            Promise.all(inflight).then(() => resolve(), reject);
          }
        }, 100);
      });
    }
    await producing;
    const ingestMs = performance.now() - t0;

    // Done when every event is applied and every ESP acknowledged every resulting version.
    let last = { ...progress };
    let lastChange = Date.now();
    for (;;) {
      const p = await worker.request<typeof progress>('progress');
      if (p.applied >= count && p.pending === 0) break;
      if (p.applied !== last.applied || p.acks !== last.acks) {
        last = p;
        lastChange = Date.now();
      } else if (Date.now() - lastChange > opts.stallTimeoutMs) {
        throw new Error(
          `${opts.label}: no progress for ${opts.stallTimeoutMs} ms (applied ${p.applied}/${count}, ESP pushes pending ${p.pending}, failed jobs ${p.failed}); see ${worker.logFile}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const totalMs = performance.now() - t0;
    const monitor = await monitoring;
    const redisCmds = commandDelta(redisBefore, await commandStats(setup.stats));
    const [workerStats, webStats, simStats] = await Promise.all([
      worker.request<WorkerStats>('stats'),
      web.request<WorkerStats>('stats'),
      setup.sims.request<{ tallies: Record<string, SimTally> }>('stats'),
    ]);
    const { esps: dumpedEsps } = await worker.request<{ esps: EspName[] }>('dump');
    const dump = { esps: dumpedEsps, ...records };
    const figures = sampler.stop();

    // Latency: accepted (the 202 reached the producer) → the last ESP acknowledged a version
    // at least as new as the one this event produced.
    const acksBy = new Map<string, [number, number][]>();
    for (const [c, i, v, t] of dump.acks) {
      const key = `${c}\u0000${i}`;
      const list = acksBy.get(key) ?? [];
      list.push([v, t]);
      acksBy.set(key, list);
    }
    const latencies: number[] = [];
    const applyLatencies: number[] = [];
    let undelivered = 0;
    const timeline = new Map<number, { accepted: number; applied: number; delivered: number }>();
    const bucket = (t: number) => {
      const s = Math.floor((t - started) / 1000);
      const b = timeline.get(s) ?? { accepted: 0, applied: 0, delivered: 0 };
      timeline.set(s, b);
      return b;
    };
    for (const t of acceptedAt) bucket(t).accepted++;
    let lastApplied = started;
    for (const [eventId, [contactId, version, changed, appliedAt]] of dump.applied) {
      lastApplied = Math.max(lastApplied, appliedAt);
      const accepted = acceptedAt[indexOf(eventId)] ?? started;
      applyLatencies.push(Math.max(0, appliedAt - accepted));
      bucket(appliedAt).applied++;
      if (!changed) continue;
      let doneAt = 0;
      for (let i = 0; i < dump.esps.length; i++) {
        // The first acknowledgement of this version or a newer one (a newer push carries this change too).
        const ack = acksBy.get(`${contactId}\u0000${i}`)?.find(([v]) => v >= version);
        if (!ack) {
          doneAt = Number.NaN;
          break;
        }
        doneAt = Math.max(doneAt, ack[1]);
      }
      if (Number.isNaN(doneAt)) {
        undelivered++;
        continue;
      }
      latencies.push(Math.max(0, doneAt - accepted));
      bucket(doneAt).delivered++;
    }
    const [p50, p90, p99, max] = percentiles(latencies, [50, 90, 99, 100]);
    const [a50, a99, amax] = percentiles(applyLatencies, [50, 99, 100]);

    // Cross-check in MongoDB: no outbox entry left behind.
    const { conn, models } = await openModels(setup.mongoUri, database);
    const outboxLeft = await models.contacts.countDocuments({
      $or: dump.esps.map((esp) => ({ [`outbox.${esp}`]: { $exists: true } })),
    });
    await conn.close();

    const mongoTotal = total(workerStats.mongoCommands) + total(webStats.mongoCommands);
    const allMongo: Record<string, number> = { ...webStats.mongoCommands };
    for (const [k, v] of Object.entries(workerStats.mongoCommands)) allMongo[k] = (allMongo[k] ?? 0) + v;
    const processes: E2eResult['processes'] = {};
    for (const [label, f] of Object.entries(figures)) {
      processes[label] = { ...f, cpu_ms_per_event: round((f.cpu_s * 1000) / count, 2) };
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
      state_changing_events: latencies.length + undelivered,
      latency_ms: { p50, p90, p99, max },
      apply_latency_ms: { p50: a50, p99: a99, max: amax },
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
        contact_lease_attempts_share_of_round_trips: round(monitor.contactLeaseAttempts / Math.max(1, total(monitor.client)), 3),
      },
      http_requests_per_event: Object.fromEntries(
        Object.entries(simStats.tallies).map(([esp, t]) => [esp, round(t.total / count, 3)]),
      ),
      http_routes: Object.fromEntries(Object.entries(simStats.tallies).map(([esp, t]) => [esp, t.byRoute])),
      http_statuses: Object.fromEntries(Object.entries(simStats.tallies).map(([esp, t]) => [esp, t.byStatus])),
      processes,
      rss_at_ready_mb: { web: round(webReadyKb / 1024, 1), worker: round(workerReadyKb / 1024, 1) },
      event_loop_utilization: {
        web: round(webStats.eventLoopUtilization, 2),
        worker: round(workerStats.eventLoopUtilization, 2),
      },
      outcomes,
      job_failures: workerStats.failed ?? 0,
      outbox_left: outboxLeft,
      timeline: seconds.map((s) => ({ second: s, ...timeline.get(s)! })),
      latency_cdf: cdf(latencies),
      ...(opts.cpuProfDir ? { cpu_profile: opts.cpuProfDir } : {}),
    };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
}

/**
 * One consent-sync process under measurement, wired exactly as src/bin/{web,worker}.ts wire it
 * (createContext + createApp / startWorkers), plus read-only instrumentation:
 * - MongoDB commands counted as the driver sends them (lib/mongo-commands.ts; not the driver's
 *   command monitoring, which decodes every reply once more and cost the worker ~8% of its CPU);
 * - in the worker, a wrapper around services.applyEvents that records when the apply job carrying
 *   each event finished, and one around each ESP adapter's push() that records which contact
 *   versions it sent and when the ESP answered (for latency and for knowing when every ESP has
 *   every contact's final version, without polling Redis); services.pushContacts is wrapped
 *   only to count its results.
 * BENCH_ROLE = web | worker | reconcile.
 */
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../../config/index.js';
import type { BuiltInEspName } from '../../src/esp/registry.js';
import { createContext } from '../../src/app/context.js';
import { createLogger } from '../../src/lib/logger.js';
import { startWorkers } from '../../src/app/workers.js';
import { createApp } from '../../src/web/app.js';
import { emit, serve } from '../lib/ipc.js';
import { countMongoCommands } from '../lib/mongo-commands.js';

const role = process.env['BENCH_ROLE'] ?? 'worker';
const config = loadConfig(process.env);
const log = createLogger({ level: config.log.level, format: 'json', name: `bench-${role}` });
const ctx = await createContext(config, log);

let mongoCommands: Record<string, number> = {};
countMongoCommands((name, target) => {
  const key = typeof target === 'string' ? `${name} ${target}` : name;
  mongoCommands[key] = (mongoCommands[key] ?? 0) + 1;
});
let eluBase = performance.eventLoopUtilization();
let cpuBase = process.cpuUsage();

function stats() {
  const cpu = process.cpuUsage(cpuBase);
  return {
    mongoCommands,
    maxRssKb: process.resourceUsage().maxRSS,
    rssKb: Math.round(process.memoryUsage().rss / 1024),
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    eventLoopUtilization: performance.eventLoopUtilization(eluBase).utilization,
  };
}
function reset() {
  mongoCommands = {};
  eluBase = performance.eventLoopUtilization();
  cpuBase = process.cpuUsage();
}

const stops: (() => Promise<unknown>)[] = [];

if (role === 'web') {
  const app = await createApp(ctx);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  stops.push(() => app.close());
  serve({
    stats: () => stats(),
    reset: () => {
      reset();
      return true;
    },
    stop: async () => {
      for (const s of stops) await s();
      await ctx.close();
      process.exit(0);
    },
  });
  emit('ready', { url: `http://127.0.0.1:${port}`, rssKb: Math.round(process.memoryUsage().rss / 1024) });
} else if (role === 'worker') {
  const esps = ctx.esps;
  // Records leave for the orchestrator with every progress tick (and before every 'progress'
  // reply) instead of piling up here: the worker runs under the Procfile's heap cap.
  const appliedIds = new Set<string>();
  /** [eventId, appliedAtMs]: the moment the apply job carrying the event finished. */
  let appliedOut: [string, number][] = [];
  /** [contactId, espIndex, version, answeredAtMs, deadLetter 0|1]: a contact version an ESP answered for. */
  let deliveriesOut: [string, number, number, number, number][] = [];
  let deliveries = 0;
  const sendRecords = () => {
    if (appliedOut.length === 0 && deliveriesOut.length === 0) return;
    emit('records', { applied: appliedOut, deliveries: deliveriesOut });
    appliedOut = [];
    deliveriesOut = [];
  };
  const counters: Record<string, number> = {};
  const count = (k: string, n = 1) => {
    counters[k] = (counters[k] ?? 0) + n;
  };

  const applyEvents = ctx.services.applyEvents;
  ctx.services.applyEvents = async (eventIds, lane) => {
    const result = await applyEvents(eventIds, lane);
    const now = Date.now();
    for (const id of eventIds) {
      if (appliedIds.has(id)) continue;
      appliedIds.add(id);
      appliedOut.push([id, now]);
    }
    count('apply:jobs');
    for (const [outcome, n] of Object.entries(result.outcomes)) count(`apply:${outcome}`, n);
    if (result.unknownEvents > 0) count('apply:unknown_event', result.unknownEvents);
    return result;
  };
  const pushContacts = ctx.services.pushContacts;
  ctx.services.pushContacts = async (esp, lane, contactIds) => {
    const result = await pushContacts(esp, lane, contactIds);
    count(`push_job:${esp}:lane${lane}`);
    count(`push_job:${esp}:contacts`, contactIds.length);
    if (result.superseded) count(`push:${esp}:superseded`, result.superseded);
    if (result.contended) count(`push:${esp}:contended`, result.contended);
    if (result.nothingPending) count(`push:${esp}:nothing_pending`, result.nothingPending);
    return result;
  };
  // Delivery is observed where it happens: each adapter's push(), which is handed the contact
  // versions it sends and resolves when the ESP has answered for each of them.
  esps.forEach((esp, i) => {
    const adapter = ctx.adapters[esp]!;
    const push = adapter.push.bind(adapter);
    adapter.push = async (contacts, signal) => {
      const outcomes = await push(contacts, signal);
      const now = Date.now();
      for (const c of contacts) {
        const o = outcomes.get(c.contactId);
        const dead = !o || o.kind === 'dead_letter';
        deliveriesOut.push([c.contactId, i, c.version, now, dead ? 1 : 0]);
        deliveries++;
        count(`esp:${esp}:${o?.kind ?? 'no_outcome'}`);
      }
      return outcomes;
    };
  });

  const workers = startWorkers(ctx);
  let failed = 0;
  for (const w of workers) w.on('failed', () => failed++);
  const progressNow = () => ({ applied: appliedIds.size, deliveries, failed });
  const progress = setInterval(() => {
    sendRecords();
    emit('progress', progressNow());
  }, 200);
  stops.push(async () => clearInterval(progress));
  serve({
    stats: () => ({ ...stats(), counters, failed }),
    // After a warm-up: what follows is counted alone (the delivery records keep flowing).
    reset: () => {
      reset();
      for (const k of Object.keys(counters)) delete counters[k];
      failed = 0;
      return true;
    },
    // The records not yet sent go out before this reply (one ordered IPC channel).
    progress: () => {
      sendRecords();
      return progressNow();
    },
    dump: () => {
      sendRecords();
      return { esps };
    },
    stop: async () => {
      for (const s of stops) await s();
      await ctx.close();
      process.exit(0);
    },
  });
  emit('ready', { esps, rssKb: Math.round(process.memoryUsage().rss / 1024) });
} else if (role === 'reconcile') {
  serve({
    stats: () => stats(),
    reset: () => {
      reset();
      return true;
    },
    reconcile: async (payload) => {
      const { esp } = payload as { esp: BuiltInEspName };
      const started = performance.now();
      const run = await ctx.services.reconcileInline(esp, (r) => emit('progress', { compared: r.compared, pages: r.pages }));
      return { run, ms: performance.now() - started, ...stats() };
    },
    stop: async () => {
      await ctx.close();
      process.exit(0);
    },
  });
  emit('ready', { esps: ctx.esps });
}


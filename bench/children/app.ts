/**
 * One consent-sync process under measurement, wired exactly as src/bin/{web,worker}.ts wire it
 * (createContext + createApp / startWorkers), plus read-only instrumentation:
 * - MongoDB driver command monitoring (the URI carries monitorCommands=true), counted here;
 * - in the worker, wrappers around services.applyEvent / services.pushContact that record when
 *   each event was applied and when each ESP acknowledged each contact version (for latency and
 *   for knowing when every outbox is drained, without polling Redis or MongoDB).
 * BENCH_ROLE = web | worker | reconcile.
 */
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../../config/index.js';
import type { EspName } from '../../src/esp/types.js';
import { createContext } from '../../src/lib/context.js';
import { createLogger } from '../../src/lib/logger.js';
import { startWorkers } from '../../src/lib/workers.js';
import { createApp } from '../../src/web/app.js';
import { emit, serve } from '../lib/ipc.js';

const role = process.env['BENCH_ROLE'] ?? 'worker';
const config = loadConfig(process.env);
const log = createLogger({ level: config.log.level, format: 'json', name: `bench-${role}` });
const ctx = await createContext(config, log);

let mongoCommands: Record<string, number> = {};
ctx.mongo.getClient().on('commandStarted', (e) => {
  const target = e.command[e.commandName];
  const key = typeof target === 'string' ? `${e.commandName} ${target}` : e.commandName;
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
  const espIndex = new Map<EspName, number>(esps.map((e, i) => [e, i]));
  // Records leave for the orchestrator with every progress tick instead of piling up here: the
  // worker runs under the Procfile's heap cap, which 50,000 events' records would exhaust.
  const appliedIds = new Set<string>();
  /** [eventId, [contactId, version, stateChanged, appliedAtMs]] not yet sent */
  let appliedOut: [string, [string, number, number, number]][] = [];
  /** [contactId, espIndex, version, ackedAtMs] not yet sent */
  let acksOut: [string, number, number, number][] = [];
  let ackCount = 0;
  const sendRecords = () => {
    if (appliedOut.length === 0 && acksOut.length === 0) return;
    emit('records', { applied: appliedOut, acks: acksOut });
    appliedOut = [];
    acksOut = [];
  };
  const need = new Map<string, number[]>();
  const acked = new Map<string, number[]>();
  let pending = 0;
  const counters: Record<string, number> = {};
  const count = (k: string) => {
    counters[k] = (counters[k] ?? 0) + 1;
  };
  const isPending = (c: string, i: number) => (need.get(c)?.[i] ?? -1) > (acked.get(c)?.[i] ?? -1);
  const bump = (map: Map<string, number[]>, c: string, i: number, v: number) => {
    const row = map.get(c) ?? esps.map(() => -1);
    map.set(c, row);
    if (v > row[i]!) row[i] = v;
  };

  const applyEvent = ctx.services.applyEvent;
  ctx.services.applyEvent = async (eventId) => {
    const result = await applyEvent(eventId);
    const changed = result.stateChanged && result.contactId !== undefined && result.version !== undefined;
    if (!appliedIds.has(eventId)) {
      appliedIds.add(eventId);
      appliedOut.push([eventId, [result.contactId ?? '', result.version ?? -1, changed ? 1 : 0, Date.now()]]);
    }
    count(`apply:${result.outcome}`);
    if (changed) {
      for (let i = 0; i < esps.length; i++) {
        const before = isPending(result.contactId!, i);
        bump(need, result.contactId!, i, result.version!);
        if (!before && isPending(result.contactId!, i)) pending++;
      }
    }
    return result;
  };
  const pushContact = ctx.services.pushContact;
  ctx.services.pushContact = async (esp, contactId) => {
    const result = await pushContact(esp, contactId);
    count(`push:${esp}:${result.result}`);
    if (result.result === 'acked') {
      const i = espIndex.get(esp)!;
      if (result.outcome === 'dead_letter') count(`dead_letter:${esp}`);
      acksOut.push([contactId, i, result.version, Date.now()]);
      ackCount++;
      const before = isPending(contactId, i);
      bump(acked, contactId, i, result.version);
      if (before && !isPending(contactId, i)) pending--;
    }
    return result;
  };

  const workers = startWorkers(ctx);
  let failed = 0;
  for (const w of workers) w.on('failed', () => failed++);
  const progress = setInterval(() => {
    sendRecords();
    emit('progress', { applied: appliedIds.size, pending, acks: ackCount, failed });
  }, 200);
  stops.push(async () => clearInterval(progress));
  serve({
    stats: () => ({ ...stats(), counters, failed }),
    reset: () => {
      reset();
      return true;
    },
    progress: () => ({ applied: appliedIds.size, pending, acks: ackCount, failed }),
    // The records not yet sent go out before this reply (one ordered IPC channel).
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
      const { esp } = payload as { esp: EspName };
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


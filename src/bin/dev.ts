#!/usr/bin/env node
/**
 * `npm run dev`: everything on embedded defaults in one command — local Redis and a
 * MongoDB-protocol server (unless REDIS_URL / MONGODB_URI are set), the ESP simulators, then
 * web, worker and scheduler. Ctrl-C stops all of it, in reverse order of start.
 *
 * Quiet unless something needs attention: the processes log at `warn` unless LOG_LEVEL says
 * otherwise, and dev itself prints the addresses, the configuration once, and `ready`.
 * `npm run --silent dev -- --print-env` prints the running stack's settings for `eval`.
 *
 * `--demo` (`npm run demo`) also sends sample traffic for `--demo-seconds=N` (60; 0 = until
 * Ctrl-C), lets the pipeline drain, and prints a per-ESP summary (again on Ctrl-C); with
 * `--demo-exit` it then stops everything.
 */
import { type Config, ConfigError, describeConfig, fullEnvSchema, loadConfig } from '../../config/index.js';
import { type AppContext, createContext } from '../app/context.js';
import { collectDemoSummary, formatDemoSummary, waitForDrain } from '../dev/demo-summary.js';
import { formatDevEnv, readDevEnv, removeDevEnv, writeDevEnv } from '../dev/dev-env.js';
import { withDatabase } from '../dev/mongo-server.js';
import { projectRoot } from '../dev/project-root.js';
import { startDevServices } from '../dev/services.js';
import { simulatorConnectionEnv } from '../dev/simulator-env.js';
import { type Supervised, startEntry, stopInReverse } from '../dev/supervisor.js';
import { startTraffic, type Traffic } from '../dev/traffic.js';
import { BUILT_IN_ESPS } from '../esp/registry.js';
import type { EspName } from '../esp/types.js';
import { createLogger } from '../lib/logger.js';
import { startSimulators } from '../simulators/index.js';

const say = (msg: string) => process.stdout.write(`[dev] ${msg}\n`);
const root = projectRoot();

if (process.argv.includes('--print-env')) {
  const shared = readDevEnv(root);
  if (!shared) {
    process.stderr.write('[dev] no `npm run dev` is running here (no .consent-sync/dev.env); start it first\n');
    process.exit(1);
  }
  process.stdout.write(formatDevEnv(shared, 'export '));
  process.exit(0);
}

const demoSecondsArg = process.argv.find((a) => a.startsWith('--demo-seconds='))?.slice('--demo-seconds='.length);
const demoSeconds = demoSecondsArg === undefined ? 60 : Number(demoSecondsArg);
if (!/^\d+$/.test(demoSecondsArg ?? '0') || demoSeconds > 86_400) {
  process.stderr.write('[dev] --demo-seconds must be a whole number of seconds (0 = until Ctrl-C)\n');
  process.exit(2);
}
const demoExit = process.argv.includes('--demo-exit');
const demo = process.argv.includes('--demo') || demoSecondsArg !== undefined || demoExit;
/** How long the pipeline gets to deliver what the demo sent before the summary is printed. */
const DEMO_DRAIN_MS = 60_000;

const services = await startDevServices(process.env, say, { ownProcessGroup: true }).catch((err: Error) => {
  process.stderr.write(`[dev] could not start local services: ${err.message}\n`);
  process.exit(1);
});
const port = Number(process.env['PORT'] ?? 3000);
const childEnv: NodeJS.ProcessEnv = {
  ...process.env,
  NODE_ENV: process.env['NODE_ENV'] ?? 'development',
  LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn',
  REDIS_URL: services.redisUrl,
  MONGODB_URI: process.env['MONGODB_URI'] ?? withDatabase(services.mongoUri, 'consent-sync'),
  PORT: String(port),
  // Every process's counters somewhere: web on PORT, worker on PORT+1, scheduler on PORT+2.
  WORKER_METRICS_PORT: process.env['WORKER_METRICS_PORT'] ?? String(port + 1),
  SCHEDULER_METRICS_PORT: process.env['SCHEDULER_METRICS_PORT'] ?? String(port + 2),
};
say(`redis ${services.redisUrl}; mongodb (${services.mongoKind}) ${services.mongoUri}`);

// The built-in ESP simulators on SIM_PORT, SIM_PORT+1…; an ESP with real settings is left alone.
const simPort = Number(process.env['SIM_PORT'] ?? 4101);
const simulators = await startSimulators({ basePort: simPort }).catch(async (err: Error) => {
  process.stderr.write(`[dev] could not start the ESP simulators on ${simPort}-${simPort + BUILT_IN_ESPS.length - 1}: ${err.message}\n`);
  await services.stop();
  process.exit(1);
});
const simulated: Partial<Record<EspName, string>> = {};
for (const { name: esp, simulator } of BUILT_IN_ESPS) {
  if (process.env[simulator.realCredentialVariable]) {
    say(`${esp}: using the configured ${simulator.realCredentialVariable}`);
    continue;
  }
  Object.assign(childEnv, simulatorConnectionEnv(esp, simulators.urls[esp]));
  simulated[esp] = simulators.urls[esp];
  say(`${esp}: simulator at ${simulators.urls[esp]}`);
}

let config: Config;
try {
  config = loadConfig(childEnv);
} catch (err) {
  process.stderr.write(`[dev] ${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
  await simulators.close();
  await services.stop();
  process.exit(2);
}
// Once, here, instead of once per process: the three share it.
say(`configuration (secrets masked): ${JSON.stringify(describeConfig(config))}`);

const processes: Supervised[] = [
  startEntry('web', 'src/bin/web.ts', childEnv),
  startEntry('worker', 'src/bin/worker.ts', childEnv),
  startEntry('scheduler', 'src/bin/scheduler.ts', childEnv),
];

let stopping = false;
let traffic: Traffic | undefined;
let observer: AppContext | undefined;
/** Set once the demo's timer printed the summary: Ctrl-C afterwards does not repeat it. */
let summarized = false;

/** The demo's per-ESP summary, read from the simulators and the stack's MongoDB and Redis. */
async function printDemoSummary(): Promise<void> {
  try {
    observer ??= await createContext(config, createLogger({ level: 'silent', format: 'json' }));
    const summary = await collectDemoSummary(observer, { urls: simulated });
    for (const line of formatDemoSummary(summary, traffic?.counts())) say(line);
  } catch (err) {
    say(`demo summary unavailable: ${(err as Error).message}`);
  }
}

async function endDemo(): Promise<void> {
  await traffic?.stop();
  if (stopping) return;
  say('demo traffic stopped; letting the pipeline deliver what it has…');
  observer ??= await createContext(config, createLogger({ level: 'silent', format: 'json' }));
  await waitForDrain(observer, DEMO_DRAIN_MS);
  if (stopping) return;
  await printDemoSummary();
  summarized = true;
  if (demoExit) void shutdown(0);
  else say('dev keeps running; Ctrl-C stops everything');
}

async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  if (traffic && !summarized) {
    // Ctrl-C during the demo: what happened so far, without waiting for the pipeline.
    await traffic.stop();
    await printDemoSummary();
  }
  say('stopping…');
  await observer?.close().catch(() => {});
  removeDevEnv(root);
  await stopInReverse(processes, config.shutdownGraceMs + 5_000, (name, stoppedByUs) =>
    say(stoppedByUs ? `${name} stopped` : `${name} had exited before it was asked to stop`),
  );
  await simulators.close();
  if (services.redisExited()) say('redis had exited before the processes using it stopped');
  await services.stop();
  say('stopped');
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
process.on('SIGHUP', () => void shutdown(0));
for (const p of processes) {
  p.child.once('exit', (code) => {
    if (!stopping) {
      say(`${p.name} exited with code ${code}; stopping everything`);
      void shutdown(1);
    }
  });
}

const local = `http://127.0.0.1:${port}`;
for (let i = 0; i < 600 && !stopping; i++) {
  const ok = await fetch(`${local}/readyz`).then((r) => r.ok).catch(() => false);
  if (ok) {
    // Log settings stay each terminal's own; everything else a process here was given is shared.
    const known = new Set(Object.keys(fullEnvSchema.shape).filter((name) => !name.startsWith('LOG_')));
    const shared = Object.fromEntries(
      Object.entries(childEnv).filter((e): e is [string, string] => known.has(e[0]) && e[1] !== undefined),
    );
    const file = writeDevEnv(root, shared);
    say(`ready: ${local}  (listening on ${config.http.host}; Ctrl-C stops everything)`);
    say(`Bull Board: ${local}/admin/queues  user ${config.board.username} / password ${childEnv['BOARD_PASSWORD'] ?? 'admin'}`);
    say(
      `metrics: web ${local}/metrics, worker http://127.0.0.1:${childEnv['WORKER_METRICS_PORT']}/metrics, scheduler http://127.0.0.1:${childEnv['SCHEDULER_METRICS_PORT']}/metrics`,
    );
    say(`settings for a second terminal in ${file} (the consent-sync CLI reads it; or: eval "$(npm run --silent dev -- --print-env)")`);
    if (demo) {
      // The demo producer uses the first configured key, so `npm run dev -- --demo` works with auth on.
      const apiKey = config.producer.keys[0]?.secret;
      traffic = startTraffic({
        ...(apiKey ? { apiKey } : {}),
        baseUrl: local,
        simulatorUrls: simulators.urls,
        intervalMs: 500,
        log: (line) => say(`demo: ${line}`),
      });
      say(
        `demo traffic running${demoSeconds > 0 ? ` for ${demoSeconds} s` : ''}: opt-outs, forced re-opt-ins, tracking refusals, bad events, ESP faults`,
      );
      if (demoSeconds > 0) {
        setTimeout(() => {
          endDemo().catch((err: Error) => say(`demo: ${err.message}`));
        }, demoSeconds * 1_000);
      }
    }
    break;
  }
  await new Promise((r) => setTimeout(r, 200));
}

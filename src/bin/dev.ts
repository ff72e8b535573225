#!/usr/bin/env node
/**
 * `npm run dev`: everything on embedded defaults in one command — local Redis and a
 * MongoDB-protocol server (unless REDIS_URL / MONGODB_URI are set), then web, worker and
 * scheduler. Ctrl-C stops all of it.
 */
import { withDatabase } from '../dev/mongo-server.js';
import { startDevServices } from '../dev/services.js';
import { REAL_CREDENTIAL_VARS, simulatorConnectionEnv } from '../dev/simulator-env.js';
import { ESP_NAMES } from '../esp/types.js';
import { startSimulators } from '../simulators/index.js';
import { startTraffic } from '../dev/traffic.js';
import { loadConfig } from '../../config/index.js';

const demo = process.argv.includes('--demo');
import { type Supervised, startEntry, stopAll } from '../dev/supervisor.js';

const say = (msg: string) => process.stdout.write(`[dev] ${msg}\n`);

const services = await startDevServices(process.env, say).catch((err: Error) => {
  process.stderr.write(`[dev] could not start local services: ${err.message}\n`);
  process.exit(1);
});
const port = process.env['PORT'] ?? '3000';
const childEnv: NodeJS.ProcessEnv = {
  ...process.env,
  NODE_ENV: process.env['NODE_ENV'] ?? 'development',
  REDIS_URL: services.redisUrl,
  MONGODB_URI: process.env['MONGODB_URI'] ?? withDatabase(services.mongoUri, 'consent-sync'),
  PORT: port,
};
say(`redis ${services.redisUrl}; mongodb (${services.mongoKind}) ${services.mongoUri}`);

// The five ESP simulators on SIM_PORT…SIM_PORT+4; an ESP with real settings is left alone.
const simPort = Number(process.env['SIM_PORT'] ?? 4101);
const simulators = await startSimulators({ basePort: simPort }).catch(async (err: Error) => {
  process.stderr.write(`[dev] could not start the ESP simulators on ${simPort}-${simPort + 4}: ${err.message}\n`);
  await services.stop();
  process.exit(1);
});
for (const esp of ESP_NAMES) {
  if (process.env[REAL_CREDENTIAL_VARS[esp]]) {
    say(`${esp}: using the configured ${REAL_CREDENTIAL_VARS[esp]}`);
    continue;
  }
  Object.assign(childEnv, simulatorConnectionEnv(esp, simulators.urls[esp]));
  say(`${esp}: simulator at ${simulators.urls[esp]}`);
}

const processes: Supervised[] = [
  startEntry('web', 'src/bin/web.ts', childEnv),
  startEntry('worker', 'src/bin/worker.ts', childEnv),
  startEntry('scheduler', 'src/bin/scheduler.ts', childEnv),
];

let stopping = false;
async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  say('stopping…');
  await stopAll(processes, 15_000);
  await simulators.close();
  await services.stop();
  say('stopped');
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
for (const p of processes) {
  p.child.once('exit', (code) => {
    if (!stopping) {
      say(`${p.name} exited with code ${code}; stopping everything`);
      void shutdown(1);
    }
  });
}

const readyUrl = `http://127.0.0.1:${port}/readyz`;
for (let i = 0; i < 600 && !stopping; i++) {
  const ok = await fetch(readyUrl).then((r) => r.ok).catch(() => false);
  if (ok) {
    say(`ready: http://127.0.0.1:${port}  (readyz: ${readyUrl}; Ctrl-C stops everything)`);
    const board = `http://127.0.0.1:${port}/admin/queues`;
    say(`Bull Board: ${board}  user ${childEnv['BOARD_USERNAME'] ?? 'admin'} / password ${childEnv['BOARD_PASSWORD'] ?? 'admin'}`);
    if (demo) {
      // The demo producer uses the first configured key, so `npm run dev -- --demo` works with auth on.
      const apiKey = loadConfig(childEnv).producer.keys[0]?.secret;
      const traffic = startTraffic({
        ...(apiKey ? { apiKey } : {}),
        baseUrl: `http://127.0.0.1:${port}`,
        simulatorUrls: simulators.urls,
        intervalMs: 500,
        log: (line) => say(`demo: ${line}`),
      });
      process.once('SIGINT', () => traffic.stop());
      process.once('SIGTERM', () => traffic.stop());
      say('demo traffic running: opt-outs, forced re-opt-ins, tracking refusals, bad events, ESP faults');
    }
    break;
  }
  await new Promise((r) => setTimeout(r, 200));
}

#!/usr/bin/env node
/**
 * `npm run dev`: everything on embedded defaults in one command — local Redis and a
 * MongoDB-protocol server (unless REDIS_URL / MONGODB_URI are set), then web, worker and
 * scheduler. Ctrl-C stops all of it.
 */
import { withDatabase } from '../dev/mongo-server.js';
import { startDevServices } from '../dev/services.js';
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
    break;
  }
  await new Promise((r) => setTimeout(r, 200));
}

#!/usr/bin/env node
import { createContext } from '../lib/context.js';
import { runProcess } from '../lib/process.js';
import { startWorkers } from '../lib/workers.js';

await runProcess('worker', process.env, async (config, log) => {
  const ctx = await createContext(config, log);
  const workers = startWorkers(ctx);
  log.info({ queues: workers.map((w) => w.name), esps: ctx.esps }, 'workers running');
  return { stop: () => ctx.close() };
});

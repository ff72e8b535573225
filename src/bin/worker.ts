#!/usr/bin/env node
import { catalog } from '../../jobs/index.js';
import { createContext } from '../lib/context.js';
import { runProcess } from '../lib/process.js';
import { startCatalogWorkers } from '../queues/runtime.js';

await runProcess('worker', process.env, async (config, log) => {
  const ctx = await createContext(config, log);
  const workers = startCatalogWorkers(ctx.runtime, catalog, ctx.services, log, { queues: config.worker.queues });
  log.info({ queues: workers.map((w) => w.name) }, 'workers running');
  return { stop: () => ctx.close() };
});

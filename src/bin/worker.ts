#!/usr/bin/env node
import { createContext } from '../app/context.js';
import { runProcess } from '../lib/process.js';
import { startWorkers } from '../app/workers.js';
import { serveMetrics } from '../metrics/serve.js';

await runProcess('worker', process.env, async (config, log) => {
  const ctx = await createContext(config, log);
  const workers = startWorkers(ctx);
  const metricsServer = config.workerMetricsPort > 0 ? await serveMetrics(ctx.metrics, config.http.host, config.workerMetricsPort) : undefined;
  log.info({ queues: workers.map((w) => w.name), esps: ctx.esps, metricsPort: config.workerMetricsPort || undefined }, 'workers running');
  return {
    async stop() {
      metricsServer?.close();
      await ctx.close();
    },
  };
});

#!/usr/bin/env node
import { createContext } from '../app/context.js';
import { runProcess } from '../lib/process.js';
import { serveMetrics } from '../metrics/serve.js';
import { startScheduler } from '../scheduler/scheduler.js';

await runProcess('scheduler', process.env, async (config, log) => {
  const ctx = await createContext(config, log);
  const scheduler = await startScheduler(ctx);
  const port = config.scheduler.metricsPort;
  const metricsServer = port > 0 ? await serveMetrics(ctx.metrics, config.http.host, port) : undefined;
  return {
    async stop() {
      metricsServer?.close();
      await scheduler.stop();
      await ctx.close();
    },
  };
});

#!/usr/bin/env node
import { createContext } from '../lib/context.js';
import { runProcess } from '../lib/process.js';
import { startScheduler } from '../scheduler/scheduler.js';

await runProcess('scheduler', process.env, async (config, log) => {
  const ctx = await createContext(config, log);
  const scheduler = await startScheduler(ctx);
  return {
    async stop() {
      await scheduler.stop();
      await ctx.close();
    },
  };
});

#!/usr/bin/env node
import { createContext } from '../app/context.js';
import { runProcess } from '../lib/process.js';
import { createApp } from '../web/app.js';

await runProcess('web', process.env, async (config, log) => {
  const ctx = await createContext(config, log);
  const app = await createApp(ctx);
  await app.listen({ host: config.http.host, port: config.http.port });
  return {
    async stop() {
      await app.close();
      await ctx.close();
    },
  };
});

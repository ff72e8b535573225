#!/usr/bin/env node
import { ConfigError, loadConfig } from '../../config/index.js';
import { runCli } from '../cli/program.js';
import { DEV_ENV_FILE, readDevEnv, withDevEnv } from '../dev/dev-env.js';
import { projectRoot } from '../dev/project-root.js';
import { type AppContext, createContext } from '../app/context.js';
import { createLogger } from '../lib/logger.js';
import { runSimulatorsCli } from '../simulators/cli.js';
import { pino } from 'pino';

// A running `npm run dev` shares its Redis, MongoDB and simulators through this file, unless
// the caller's own environment names a Redis or MongoDB (src/dev/dev-env.ts).
function devEnv(): Record<string, string> | undefined {
  try {
    return readDevEnv(projectRoot());
  } catch (err) {
    process.stderr.write(`consent-sync: ${(err as Error).message}; delete it or restart npm run dev\n`);
    process.exit(2);
  }
}
const { env, usedDevEnv } = withDevEnv(process.env, devEnv());

let context: AppContext | undefined;
const io = {
  out: (text: string) => void process.stdout.write(text),
  err: (text: string) => void process.stderr.write(text),
  config: () => loadConfig(env),
  context: async () => {
    if (!context) {
      if (usedDevEnv) process.stderr.write(`consent-sync: using the npm run dev stack (${DEV_ENV_FILE})\n`);
      const config = loadConfig({ LOG_LEVEL: 'warn', ...env });
      // Logs go to stderr so that stdout carries only the command's output (exports, JSON).
      const log = createLogger({ level: config.log.level, format: 'json', destination: pino.destination(2) });
      context = await createContext(config, log);
    }
    return context;
  },
  runSimulators: (argv: string[]) => runSimulatorsCli(argv),
};

let code: number;
try {
  code = await runCli(process.argv.slice(2), io);
} catch (err) {
  process.stderr.write(`consent-sync: ${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
  code = err instanceof ConfigError ? 2 : 1;
}
await context?.close().catch(() => {});
process.exit(code);

#!/usr/bin/env node
import { ConfigError, loadConfig } from '../../config/index.js';
import { runCli } from '../cli/program.js';
import { type AppContext, createContext } from '../lib/context.js';
import { createLogger } from '../lib/logger.js';
import { runSimulatorsCli } from '../simulators/cli.js';
import { pino } from 'pino';

let context: AppContext | undefined;
const io = {
  out: (text: string) => void process.stdout.write(text),
  err: (text: string) => void process.stderr.write(text),
  config: () => loadConfig(process.env),
  context: async () => {
    if (!context) {
      const config = loadConfig({ LOG_LEVEL: 'warn', ...process.env });
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

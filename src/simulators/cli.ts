/**
 * `npm run sim`: start the built-in ESP simulators on basePort, basePort+1… (default 4101), print their URLs and
 * credentials, and stop cleanly on SIGINT/SIGTERM.
 *   --base-port <n> | -p <n>   first port (0 = random ports)
 *   --host <addr>              listen address (default 127.0.0.1)
 */
import { BUILT_IN_ESPS, type EspModule } from '../esp/registry.js';
import { type RunningSimulators, startSimulators } from './index.js';

export const DEFAULT_BASE_PORT = 4101;

export interface SimulatorsCliIo {
  /** Where lines go; default console.log. */
  print?: (line: string) => void;
  /** Stops the simulators when aborted (in addition to SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /** Called once the simulators listen. */
  onReady?: (running: RunningSimulators) => void;
  /** Sign webhook deliveries with this secret (main.ts passes SIM_WEBHOOK_SECRET). */
  webhookSecret?: string;
}

interface CliArgs {
  basePort: number;
  host?: string;
  help: boolean;
}

export function parseSimulatorsCliArgs(argv: readonly string[]): CliArgs {
  const args: CliArgs = { basePort: DEFAULT_BASE_PORT, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const [flag, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '--help' || flag === '-h') args.help = true;
    else if (flag === '--base-port' || flag === '-p') {
      const port = Number(value());
      if (!Number.isInteger(port) || port < 0 || port > 65530) throw new Error(`invalid --base-port ${port}`);
      args.basePort = port;
    } else if (flag === '--host') args.host = value();
    else throw new Error(`unknown argument ${arg}`);
  }
  return args;
}

/** One row per simulator: its name, URL and how to call it with its default credentials. */
export function formatSimulatorTable(
  urls: Readonly<Record<string, string | undefined>>,
  esps: readonly EspModule[] = BUILT_IN_ESPS,
): string[] {
  const rows = esps.map(
    (m) => [m.name, urls[m.name] ?? '(not started)', m.simulator.describeCredentials(m.simulator.credentials)] as const,
  );
  const w0 = Math.max(9, ...rows.map((r) => r[0].length));
  const w1 = Math.max(3, ...rows.map((r) => r[1].length));
  const line = (a: string, b: string, c: string): string => `${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`;
  return [
    line('simulator', 'url', 'credentials'),
    line('-'.repeat(w0), '-'.repeat(w1), '-'.repeat(11)),
    ...rows.map((r) => line(r[0], r[1], r[2])),
  ];
}

/** Run until SIGINT/SIGTERM (or `io.signal`), then close the simulators and resolve. */
export async function runSimulatorsCli(argv: readonly string[], io: SimulatorsCliIo = {}): Promise<void> {
  const print = io.print ?? ((line: string) => console.log(line));
  const args = parseSimulatorsCliArgs(argv);
  if (args.help) {
    print(`usage: sim [--base-port 4101] [--host 127.0.0.1]   (ports basePort..basePort+${BUILT_IN_ESPS.length - 1}; 0 = random)`);
    return;
  }
  const running = await startSimulators({
    basePort: args.basePort,
    ...(args.host !== undefined ? { host: args.host } : {}),
    ...(io.webhookSecret ? { webhookSecret: io.webhookSecret } : {}),
  });
  for (const l of formatSimulatorTable(running.urls)) print(l);
  print(
    'control routes: GET /__sim/state, GET /__sim/requests, POST /__sim/faults, /__sim/reset, /__sim/unsubscribe, /__sim/webhook-target',
  );
  print('press Ctrl+C to stop');
  io.onReady?.(running);

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      io.signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (io.signal?.aborted) stop();
    else io.signal?.addEventListener('abort', stop, { once: true });
  });
  print('stopping simulators…');
  await running.close();
  print('simulators stopped');
}

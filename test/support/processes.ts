import { type ChildProcess, spawn } from 'node:child_process';
import { projectRoot } from '../../src/dev/mongo-server.js';

export interface SpawnedProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs a process entry point from source (tsx), as the Procfile would run its compiled form. */
export function spawnEntry(entry: 'web' | 'worker' | 'scheduler' | 'cli', env: Record<string, string>, args: string[] = []): SpawnedProcess {
  return spawnNode(['--import', 'tsx', `src/bin/${entry}.ts`, ...args], env);
}

/** Runs the compiled entry point from dist/, exactly as a user or the Procfile would. */
export function spawnBuilt(entry: 'web' | 'worker' | 'scheduler' | 'cli', env: Record<string, string>, args: string[] = []): SpawnedProcess {
  return spawnNode([`dist/src/bin/${entry}.js`, ...args], env);
}

/** `npm run build` (tsc → dist/), for tests of the built binaries. */
export function buildProject(): Promise<void> {
  return new Promise((resolve, reject) => {
    const tsc = spawn(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { cwd: projectRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    tsc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    tsc.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`build failed:\n${out}`))));
  });
}

function spawnNode(argv: string[], env: Record<string, string>): SpawnedProcess {
  const child = spawn(process.execPath, argv, {
    cwd: projectRoot(),
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => out, exited };
}

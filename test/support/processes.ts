import { type ChildProcess, spawn } from 'node:child_process';
import { projectRoot } from '../../src/dev/mongo-server.js';

export interface SpawnedProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs a process entry point from source (tsx), as the Procfile would run its compiled form. */
export function spawnEntry(entry: 'web' | 'worker' | 'scheduler' | 'cli', env: Record<string, string>, args: string[] = []): SpawnedProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', `src/bin/${entry}.ts`, ...args], {
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

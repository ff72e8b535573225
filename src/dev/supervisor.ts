import { type ChildProcess, spawn } from 'node:child_process';
import { projectRoot } from './mongo-server.js';

export interface Supervised {
  name: string;
  child: ChildProcess;
}

/** Starts a process entry point from source with its output prefixed, for `npm run dev`. */
export function startEntry(name: string, entry: string, env: NodeJS.ProcessEnv): Supervised {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: projectRoot(),
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return { name, child };
}

export async function stopAll(processes: readonly Supervised[], graceMs: number): Promise<void> {
  await Promise.all(
    processes.map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
          child.once('exit', () => {
            clearTimeout(force);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

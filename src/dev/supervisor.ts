import { type ChildProcess, spawn } from 'node:child_process';
import { projectRoot } from './mongo-server.js';

export interface Supervised {
  name: string;
  child: ChildProcess;
}

/**
 * Starts a process entry point from source, for `npm run dev`. In a process group of its own
 * (detached): Ctrl-C in a terminal signals the whole foreground group at once, and dev must
 * be the only one to hear it, so that it can stop everything in order (stopInReverse).
 */
export function startEntry(name: string, entry: string, env: NodeJS.ProcessEnv): Supervised {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: projectRoot(),
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
  });
  return { name, child };
}

/** Stops one process; false when it had already exited before it was asked to (nothing to drain then). */
function stopOne({ child }: Supervised, graceMs: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(false);
    const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(force);
      resolve(true);
    });
    child.kill('SIGTERM');
  });
}

/**
 * Stops the processes one at a time, last started first: the scheduler stops adding work,
 * workers then drain what they hold, and the web process goes last, while Redis and MongoDB,
 * stopped by the caller afterwards, are still there for all of them.
 */
export async function stopInReverse(
  processes: readonly Supervised[],
  graceMs: number,
  report: (name: string, stoppedByUs: boolean) => void,
): Promise<void> {
  for (const p of [...processes].reverse()) report(p.name, await stopOne(p, graceMs));
}

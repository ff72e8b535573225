import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

/** A free loopback port, found by binding port 0 and releasing it. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface StartedChild {
  child: ChildProcess;
  /** The first output line that matched the ready pattern. */
  readyLine: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Spawns a server and resolves once a line of its output matches `ready`. Rejects with the
 * collected output if it exits or stays silent past the timeout, so start-up failures are
 * explained instead of hanging a test run.
 */
export async function startChild(
  command: string,
  args: readonly string[],
  opts: {
    ready: RegExp;
    timeoutMs: number;
    label: string;
    missingHint: string;
    env?: NodeJS.ProcessEnv;
    /** Its own process group, out of reach of a terminal's Ctrl-C (see src/dev/supervisor.ts). */
    ownProcessGroup?: boolean;
  },
): Promise<StartedChild> {
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
    detached: opts.ownProcessGroup ?? false,
  });
  let output = '';
  const readyLine = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${opts.label} did not become ready within ${opts.timeoutMs} ms. Output:\n${output}`));
    }, opts.timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((l) => opts.ready.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        err.code === 'ENOENT'
          ? new Error(`${opts.label}: '${command}' was not found on PATH. ${opts.missingHint}`)
          : err,
      );
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${opts.label} exited early (code ${code}, signal ${signal}). Output:\n${output}`));
    });
  });
  child.removeAllListeners('exit');
  // Keep draining output so a chatty child never blocks on a full pipe.
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    child,
    readyLine,
    stop: (signal = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
        child.kill(signal);
      }),
  };
}

import { type ChildProcess, fork } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A tiny request/reply protocol over Node's IPC channel between the benchmark orchestrator and
 * the processes it measures (web, worker, reconciler, simulators). Children run TypeScript
 * through tsx, like `npm run dev`.
 */

interface RequestMessage {
  kind: 'request';
  id: number;
  type: string;
  payload?: unknown;
}
interface ReplyMessage {
  kind: 'reply';
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}
interface EventMessage {
  kind: 'event';
  name: string;
  data: unknown;
}
type Message = RequestMessage | ReplyMessage | EventMessage;

export type Handlers = Record<string, (payload: unknown) => Promise<unknown> | unknown>;

/** Child side: answers the orchestrator's requests with `handlers`. */
export function serve(handlers: Handlers): void {
  if (!process.send) throw new Error('bench children must be started by bench/run.ts (no IPC channel)');
  process.on('message', (raw: Message) => {
    if (raw.kind !== 'request') return;
    const handler = handlers[raw.type];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown request ${raw.type}`);
        return handler(raw.payload);
      })
      .then(
        (result) => process.send?.({ kind: 'reply', id: raw.id, ok: true, result } satisfies ReplyMessage),
        (err: unknown) =>
          process.send?.({
            kind: 'reply',
            id: raw.id,
            ok: false,
            error: err instanceof Error ? (err.stack ?? err.message) : String(err),
          } satisfies ReplyMessage),
      );
  });
  // The orchestrator going away must not leave measured processes behind.
  process.on('disconnect', () => process.exit(0));
}

/** Child side: an unsolicited message (ready, progress). */
export function emit(name: string, data: unknown): void {
  process.send?.({ kind: 'event', name, data } satisfies EventMessage);
}

export interface BenchChild {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  request<T = unknown>(type: string, payload?: unknown, timeoutMs?: number): Promise<T>;
  onEvent(name: string, fn: (data: unknown) => void): void;
  waitEvent<T = unknown>(name: string, timeoutMs: number): Promise<T>;
  /** Asks the child to stop gracefully (it exits itself), then kills it if it does not. */
  stop(timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

export interface ForkOptions {
  env: Record<string, string>;
  logDir: string;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeFlags?: string[];
  args?: string[];
}

/** Starts `script` (a .ts file) under tsx with an IPC channel; stdout/stderr go to a log file. */
export function forkChild(name: string, script: string, opts: ForkOptions): BenchChild {
  const logFile = join(opts.logDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const child: ChildProcess = fork(script, opts.args ?? [], {
    execArgv: ['--import', 'tsx', ...(opts.nodeFlags ?? [])],
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp', ...opts.env },
    stdio: ['ignore', fd, fd, 'ipc'],
  });
  closeSync(fd);
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const listeners = new Map<string, ((data: unknown) => void)[]>();
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      for (const p of pending.values()) p.reject(new Error(`${name} exited (code ${code}); see ${logFile}`));
      pending.clear();
      resolve(code);
    });
  });
  child.on('message', (raw: Message) => {
    if (raw.kind === 'reply') {
      const p = pending.get(raw.id);
      if (!p) return;
      pending.delete(raw.id);
      if (raw.ok) p.resolve(raw.result);
      else p.reject(new Error(`${name}: ${raw.error}`));
    } else if (raw.kind === 'event') {
      for (const fn of listeners.get(raw.name) ?? []) fn(raw.data);
    }
  });
  const onEvent = (event: string, fn: (data: unknown) => void) => {
    listeners.set(event, [...(listeners.get(event) ?? []), fn]);
  };
  return {
    name,
    pid: child.pid ?? -1,
    logFile,
    exited,
    onEvent,
    request<T>(type: string, payload?: unknown, timeoutMs = 120_000): Promise<T> {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        if (child.exitCode !== null || !child.connected) {
          reject(new Error(`${name} is not running; see ${logFile}`));
          return;
        }
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${name}: '${type}' got no answer within ${timeoutMs} ms; see ${logFile}`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as T);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        child.send({ kind: 'request', id, type, payload } satisfies RequestMessage);
      });
    },
    waitEvent<T>(event: string, timeoutMs: number): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${name}: no '${event}' within ${timeoutMs} ms; see ${logFile}`)),
          timeoutMs,
        );
        onEvent(event, (data) => {
          clearTimeout(timer);
          resolve(data as T);
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`${name} exited (code ${code}) before '${event}'; see ${logFile}`));
        });
      });
    },
    async stop(timeoutMs = 20_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.connected) child.send({ kind: 'request', id: 0, type: 'stop' } satisfies RequestMessage);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

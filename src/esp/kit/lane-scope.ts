import type { Lane } from '../../domain/index.js';

/**
 * The lane of the push a request belongs to, carried by the push's abort signal through the
 * adapter's own code (every adapter hands that signal to each `kit.call`), so the adapter kit's
 * semaphore and pacer can order requests by lane without every adapter passing it.
 *
 * Not an AsyncLocalStorage: on Node 20 one `run` installs promise hooks for the whole process,
 * and every promise after it (driver, Redis, BullMQ) pays for them; a promise-heavy loop ran 2.4
 * to 4 times slower with one enabled (measured on this machine).
 */
const lanes = new WeakMap<AbortSignal, Lane>();

/** Marks `signal` as that of a push in `lane`; returns it. */
export function inLane(lane: Lane, signal: AbortSignal): AbortSignal {
  lanes.set(signal, lane);
  return signal;
}

/** The lane of the push whose signal this is; requests made outside one (read-backs, tests) count as lane 3. */
export function laneOf(signal: AbortSignal | undefined): Lane {
  return (signal && lanes.get(signal)) ?? 3;
}

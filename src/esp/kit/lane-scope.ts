import { AsyncLocalStorage } from 'node:async_hooks';
import type { Lane } from '../../domain/index.js';

/**
 * The lane of the push a request belongs to, carried through the adapter's own code so the
 * adapter kit's semaphore and pacer can order requests by lane without every adapter passing it.
 */
const scope = new AsyncLocalStorage<Lane>();

export function runInLane<T>(lane: Lane, fn: () => Promise<T>): Promise<T> {
  return scope.run(lane, fn);
}

/** The lane of the current push; requests made outside one (read-backs, tests) count as lane 3. */
export function currentLane(): Lane {
  return scope.getStore() ?? 3;
}

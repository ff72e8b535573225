import { type ConsentPolicy, type Lane, laneOfEvent } from '../domain/index.js';
import type { Models } from '../persistence/models.js';

export interface SweepDeps {
  models: Models;
  delayMs: number;
  now: () => Date;
  policy: ConsentPolicy;
  enqueueApply: (events: readonly { eventId: string; lane: Lane }[]) => Promise<void>;
}

const SWEEP_BATCH = 1_000;

/** Finds stored events still pending past the delay and hands them to the apply queue again. */
export async function sweepPendingEvents(deps: SweepDeps): Promise<{ requeued: number }> {
  const cutoff = new Date(deps.now().getTime() - deps.delayMs);
  const stale = await deps.models.events
    .find({ status: 'pending', receivedAt: { $lt: cutoff } }, { _id: 1, value: 1, source: 1 })
    .sort({ receivedAt: 1 })
    .limit(SWEEP_BATCH)
    .lean();
  if (stale.length > 0) await deps.enqueueApply(stale.map((e) => ({ eventId: e._id, lane: laneOfEvent(e, deps.policy) })));
  return { requeued: stale.length };
}

import { BULK_LANE, type ConsentPolicy, type Lane } from '../domain/index.js';
import type { EspName } from '../esp/types.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Models } from '../persistence/models.js';
import { applyStoredEvents } from './apply-batch.js';
import { type ApplyJobResult, UnknownEventError } from './apply-event.js';
import { MicroBatcher } from './micro-batcher.js';

export interface ApplierDeps {
  models: Models;
  policy: ConsentPolicy;
  esps: readonly EspName[];
  now: () => Date;
  log: Logger;
  metrics: Pick<Metrics, 'eventApplied'>;
  /** Events settled by one batch write (APPLY_BATCH_SIZE), and how long a batch waits to fill. */
  batchSize: number;
  lingerMs: number;
  /** FAULT_EXIT_AFTER_APPLY_EVERY (reliability tests only): 0 = off. */
  exitAfterApplyEvery: number;
  enqueuePush: (esp: EspName, lane: Lane, contactIds: readonly string[]) => Promise<void>;
}

/** What an apply job returns (shown in Bull Board): counts, never identities. */
export interface ApplyEventsResult {
  events: number;
  outcomes: Record<string, number>;
  /** Contacts whose state changed and whose pushes were queued. */
  changedContacts: number;
  unknownEvents: number;
}

/**
 * Applies the events of apply jobs. Jobs that run at the same moment share one batch (one read
 * and one bulk write per batch of APPLY_BATCH_SIZE events), and the pushes their changes need
 * are queued together: one push job per ESP and lane for all the contacts the jobs changed.
 * Pushes are queued after the contacts are written, so a crash in between leaves the outbox
 * entries pending for the sweeper; a retried job re-announces what it applied before.
 */
export function createApplier(deps: ApplierDeps) {
  const batcher = new MicroBatcher<string, ApplyJobResult>(
    (eventIds) => applyStoredEvents(eventIds, { models: deps.models, policy: deps.policy, connectedEsps: () => deps.esps, now: deps.now }),
    deps.batchSize,
    deps.lingerMs,
  );
  let appliesUntilFault = deps.exitAfterApplyEvery;

  const applyEvents = async (eventIds: readonly string[], lane: Lane = 3): Promise<ApplyEventsResult> => {
    const settled = await Promise.allSettled(eventIds.map((id) => batcher.submit(id, lane)));
    const result: ApplyEventsResult = { events: eventIds.length, outcomes: {}, changedContacts: 0, unknownEvents: 0 };
    const pushes = new Map<string, Set<string>>();
    let failure: unknown;
    let changedEvent: string | undefined;
    settled.forEach((s, i) => {
      if (s.status === 'rejected') {
        if (s.reason instanceof UnknownEventError) {
          // Nothing a retry could fix; said once in the log and in the result, the rest goes on.
          result.unknownEvents++;
          deps.log.warn({ eventId: eventIds[i] }, s.reason.message);
        } else failure ??= s.reason;
        return;
      }
      const applied = s.value;
      deps.metrics.eventApplied(applied.outcome);
      result.outcomes[applied.outcome] = (result.outcomes[applied.outcome] ?? 0) + 1;
      if (!applied.stateChanged || !applied.contactId) return;
      changedEvent ??= applied.eventId;
      for (const esp of deps.esps) {
        const key = `${esp}\u0000${applied.lanes?.[esp] ?? BULK_LANE}`;
        const ids = pushes.get(key) ?? new Set<string>();
        ids.add(applied.contactId);
        pushes.set(key, ids);
      }
    });
    result.changedContacts = new Set([...pushes.values()].flatMap((ids) => [...ids])).size;
    if (result.changedContacts > 0) await faultAfterApply(result.changedContacts, changedEvent!);
    await Promise.all(
      [...pushes].map(([key, ids]) => {
        const [esp, lane] = key.split('\u0000') as [EspName, string];
        return deps.enqueuePush(esp, Number(lane) as Lane, [...ids]);
      }),
    );
    // Events that failed for a passing reason (a write conflict that kept losing, MongoDB gone)
    // fail the job after the others' pushes are queued; its retry finds those applied and skips them.
    if (failure !== undefined) throw failure;
    return result;
  };

  // Dies without any cleanup once every Nth state-changing contact is written, between its
  // MongoDB write and its push enqueue: the window the outbox sweeper exists for.
  const faultAfterApply = async (changed: number, eventId: string) => {
    if (appliesUntilFault === 0) return;
    appliesUntilFault -= changed;
    if (appliesUntilFault > 0) return;
    // stderr is synchronous on files and pipes (pino's stdout stream is not): the line is out before the process dies
    process.stderr.write(`consent-sync: fault injection FAULT_EXIT_AFTER_APPLY_EVERY: SIGKILL after applying event ${eventId}, before the ESP pushes of its job (${changed} changed contacts) are queued\n`);
    process.kill(process.pid, 'SIGKILL');
    await new Promise(() => {});
  };

  return { applyEvents };
}

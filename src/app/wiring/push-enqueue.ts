import type { Config } from '../../../config/index.js';
import { espPushJobOf, pushScheduling } from '../../../jobs/esp-push.job.js';
import type { Lane } from '../../domain/index.js';
import type { EspAdapter, EspName } from '../../esp/types.js';
import type { EnqueuePush } from '../../delivery/delivery.js';
import type { JobProducer } from '../../queues/runtime.js';
import { settingsOf } from '../../esp/registry.js';

/** A push job should take about this long at the ESP's budget, so a waiting lane 1 job soon gets a slot. */
const PUSH_JOB_TARGET_SECONDS = 2;

/**
 * Contacts per push job for one ESP: as many batch requests as its rate budget allows in about
 * PUSH_JOB_TARGET_SECONDS. Big enough that one job serves a whole apply batch at an ESP with
 * batch endpoints, small enough that a lane 1 job never waits long behind an import's jobs.
 */
export function contactsPerPushJob(config: Config, esp: EspName, adapter: Pick<EspAdapter, 'maxBatch' | 'contactsPerRequest'>): number {
  const settings = settingsOf(config.esps, esp);
  const requestsPerSecond = (settings.rateLimit.max * 1_000) / settings.rateLimit.durationMs;
  const requests = Math.max(1, Math.floor(requestsPerSecond * PUSH_JOB_TARGET_SECONDS));
  const perRequest = Math.max(1, Math.min(adapter.maxBatch, adapter.contactsPerRequest ?? adapter.maxBatch));
  return Math.min(config.push.maxContactsPerJob, perRequest * requests);
}

/** How contacts pending at an ESP become push jobs of the right size, gathered per turn of the event loop. */
export function createPushEnqueuer(
  config: Config,
  producer: JobProducer<unknown>,
  adapters: Partial<Record<EspName, EspAdapter>>,
): EnqueuePush {
  const addPushJobs = async (esp: EspName, lane: Lane, delayMs: number, contactIds: readonly string[]) => {
    const size = contactsPerPushJob(config, esp, adapters[esp]!);
    const jobs: { payload: unknown; scheduling: ReturnType<typeof pushScheduling> }[] = [];
    for (let i = 0; i < contactIds.length; i += size) {
      jobs.push({ payload: { contactIds: contactIds.slice(i, i + size), lane }, scheduling: pushScheduling(lane, delayMs) });
    }
    await producer.addMany(espPushJobOf(esp, lane), jobs);
  };

  // Pushes asked for in the same turn of the event loop (every apply job that settled in one
  // batch) share one add per (ESP, lane): one round trip and full jobs instead of one per caller.
  const gathering = new Map<string, { ids: Set<string>; added: Promise<void> }>();
  return (esp: EspName, lane: Lane, contactIds: readonly string[], delayMs = 0): Promise<void> => {
    if (contactIds.length === 0) return Promise.resolve();
    const key = `${esp}\u0000${lane}\u0000${delayMs}`;
    let pending = gathering.get(key);
    if (!pending) {
      const ids = new Set<string>();
      const added = new Promise<void>((resolve, reject) =>
        setImmediate(() => {
          gathering.delete(key);
          addPushJobs(esp, lane, delayMs, [...ids]).then(resolve, reject);
        }),
      );
      pending = { ids, added };
      gathering.set(key, pending);
    }
    for (const id of contactIds) pending.ids.add(id);
    return pending.added;
  };
}

import type { Config } from '../../../config/index.js';
import type { Lane } from '../../domain/index.js';
import { createEspAdapters, settingsOf } from '../../esp/registry.js';
import { sharedPacers } from '../../esp/kit/shared-pacer.js';
import type { EspAdapter, EspName } from '../../esp/types.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { Model } from 'mongoose';
import type { EspPauseDoc } from '../../persistence/esp-pause.model.js';
import type { Models } from '../../persistence/models.js';
import type { JobProducer, QueueRuntime } from '../../queues/runtime.js';
import { type DeliveryDeps, pushBatch, stalePendingContacts } from '../../delivery/delivery.js';
import type { Logger } from '../../lib/logger.js';
import { createBulkTicks } from './bulk-mode.js';
import { createEspPauseControl } from './esp-pause.js';
import { createOutboxRepair } from '../../delivery/outbox-repair.js';
import { createPushEnqueuer } from './push-enqueue.js';

export { contactsPerPushJob } from './push-enqueue.js';

export interface EspSyncWiring {
  config: Config;
  log: Logger;
  models: Models;
  /** Why each paused ESP was paused (operate/dead-letters.ts shows it to operators). */
  pauses: Model<EspPauseDoc>;
  runtime: QueueRuntime;
  producer: JobProducer<unknown>;
  metrics: Metrics;
  clock: () => Date;
}

/**
 * The ESP side of a process: adapters of the connected ESPs, push delivery and queue operations.
 * Push jobs: push-enqueue.ts; pausing: esp-pause.ts; repairs and dead-letter replay: src/delivery/outbox-repair.ts.
 */
export function createEspSync(w: EspSyncWiring) {
  const { config, log, models, runtime, producer, metrics, clock } = w;
  // Every worker process draws on one rate window per ESP, kept in Redis: the ESP's documented
  // limit holds whatever the number of workers.
  const adapters: Partial<Record<EspName, EspAdapter>> = createEspAdapters(
    config.espModules,
    config.esps,
    log.child({ component: 'esp' }),
    sharedPacers(runtime.producer, config.redis.prefix),
  );
  const esps = config.espModules.map((m) => m.name).filter((esp) => adapters[esp] !== undefined);
  const enqueuePush = createPushEnqueuer(config, producer, adapters);
  const { isEspPaused, pauseEsp, resumeEsp } = createEspPauseControl(w);
  const repair = createOutboxRepair(models, clock, enqueuePush);
  // One count per channel the push covered; a contact with no decided channel counts once as `none`.
  const countOutcome: NonNullable<DeliveryDeps['onOutcome']> = (e, outcome, _lane, channels) => {
    const entries = Object.entries(channels ?? {});
    if (entries.length === 0) metrics.espPush(e, 'none', outcome);
    for (const [channel, o] of entries) metrics.espPush(e, channel, o.kind);
  };
  const bulkTicks = createBulkTicks({ config, log, models, metrics, clock, adapters, esps, enqueuePush, onOutcome: countOutcome });

  const deliveryDeps = (esp: EspName): DeliveryDeps => ({
    models,
    adapter: adapters[esp]!,
    concurrency: settingsOf(config.esps, esp).concurrency,
    claimMs: config.push.claimMs,
    now: clock,
    log,
    enqueuePush,
    pauseEsp,
    onOutcome: countOutcome,
  });

  return {
    adapters,
    esps,
    enqueuePush,
    pauseEsp,
    resumeEsp,
    repush: repair.repush,
    pushContacts: (esp: EspName, lane: Lane, contactIds: readonly string[]) => {
      if (!adapters[esp]) throw new Error(`${esp} is not connected in this process`);
      return pushBatch(esp, lane, contactIds, deliveryDeps(esp));
    },
    sweepOutbox: async () => {
      const cutoff = new Date(clock().getTime() - config.sweeper.delayMs);
      const requeued: Record<string, number> = {};
      for (const esp of esps) {
        const stale = await stalePendingContacts(models, esp, cutoff, 1_000, clock().getTime());
        for (const lane of [1, 2, 3] as Lane[]) {
          await enqueuePush(esp, lane, stale.filter((s) => s.lane === lane).map((s) => s.contactId));
        }
        requeued[esp] = stale.length;
      }
      return { requeued, bulk: await bulkTicks() };
    },
    bulkTick: bulkTicks,
    isEspPaused,
    /** Moves dead letters back into the outbox (see src/delivery/outbox-repair.ts): all of the ESPs' or only `contactIds`. */
    requeueDeadLetters: (opts: { esps?: readonly EspName[]; contactIds?: readonly string[] } = {}) =>
      repair.requeueDeadLetters(esps, opts),
  };
}

import type { Config } from '../../../config/index.js';
import { type BulkTickResult, bulkTick } from '../../delivery/bulk.js';
import type { DeliveryDeps } from '../../delivery/delivery.js';
import { laneThreeContactsPerSecond } from '../../domain/index.js';
import type { EspAdapter, EspName } from '../../esp/types.js';
import type { Logger } from '../../lib/logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import { bulkModels } from '../../persistence/bulk.model.js';
import type { Models } from '../../persistence/models.js';
import { settingsOf } from '../../esp/registry.js';

interface BulkModeWiring {
  config: Config;
  log: Logger;
  models: Models;
  metrics: Metrics;
  clock: () => Date;
  adapters: Partial<Record<EspName, EspAdapter>>;
  esps: readonly EspName[];
  enqueuePush: DeliveryDeps['enqueuePush'];
  onOutcome: NonNullable<DeliveryDeps['onOutcome']>;
}

/** Bulk mode of every connected ESP (src/delivery/bulk.ts), checked with every outbox sweep. */
export function createBulkTicks(w: BulkModeWiring): () => Promise<Record<string, BulkTickResult | { error: string }>> {
  const { config, log, models, metrics, clock, adapters, esps } = w;
  const bulkStore = bulkModels(models.contacts.db);
  // autoIndex is off (persistence/connect.ts): created at the first check, as reconciliation's are at start-up.
  let bulkIndexes: Promise<unknown> | undefined;
  return async () => {
    bulkIndexes ??= bulkStore.bulks.createIndexes().catch((err: unknown) => {
      // The collection is small (a few bulks a day per ESP): checks go on without, and retry it.
      log.warn({ err }, 'esp_bulks indexes not created; tried again at the next check');
      bulkIndexes = undefined;
    });
    await bulkIndexes;
    const results: Record<string, BulkTickResult | { error: string }> = {};
    // One ESP's failure never stops another's check.
    for (const esp of esps) {
      const settings = settingsOf(config.esps, esp);
      const adapter = adapters[esp]!;
      try {
        results[esp] = await bulkTick(esp, {
          models,
          bulkModels: bulkStore,
          adapter,
          afterSeconds: settings.bulk?.afterSeconds ?? config.bulk.afterSeconds,
          maxPendingMs: config.bulk.maxPendingMs,
          contactsPerSecond: laneThreeContactsPerSecond({
            calls: settings.rateLimit.max,
            perMs: settings.rateLimit.durationMs,
            reservePercent: settings.firstLaneReservePercent ?? 0,
            contactsPerCall: Math.min(adapter.maxBatch, adapter.contactsPerRequest ?? adapter.maxBatch),
          }),
          now: clock,
          log,
          enqueuePush: w.enqueuePush,
          onMode: (e, on) => metrics.setBulkMode(e, on),
          onBulk: (e, outcome, contacts) => metrics.bulk(e, outcome, contacts),
          onOutcome: w.onOutcome,
        });
      } catch (err) {
        log.warn({ esp, err }, 'bulk mode check failed; tried again at the next sweep');
        results[esp] = { error: err instanceof Error ? err.message : String(err) };
      }
    }
    return results;
  };
}

import type { Model } from 'mongoose';
import type { EspName } from '../../esp/types.js';
import type { Logger } from '../../lib/logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { EspPauseDoc } from '../../persistence/esp-pause.model.js';
import { espQueueNames } from '../../queues/names.js';
import type { QueueRuntime } from '../../queues/runtime.js';

export interface EspPauseWiring {
  log: Logger;
  /** Why each paused ESP was paused (operate/dead-letters.ts shows it to operators). */
  pauses: Model<EspPauseDoc>;
  runtime: QueueRuntime;
  metrics: Metrics;
  clock: () => Date;
}

/** Pausing an ESP's queues (it rejected our credentials), resuming them, and asking whether they are paused. */
export function createEspPauseControl({ log, pauses, runtime, metrics, clock }: EspPauseWiring) {
  const isEspPaused = async (esp: EspName) => {
    const flags = await Promise.all(espQueueNames(esp).map((name) => runtime.queue(name).isPaused()));
    return flags.some(Boolean);
  };

  const pauseEsp = async (esp: EspName, reason: string) => {
    const wasPaused = await isEspPaused(esp);
    await Promise.all(espQueueNames(esp).map((name) => runtime.queue(name).pause()));
    // Within one pause the first reason stays (later pushes fail the same way and add nothing);
    // a new pause replaces what an earlier one left, e.g. after a resume from Bull Board.
    const fields = { reason, at: clock() };
    await pauses
      .updateOne({ _id: esp }, wasPaused ? { $setOnInsert: fields } : { $set: fields }, { upsert: true })
      .catch((err) => log.warn({ err, esp }, 'pause reason not recorded; the queue is paused all the same'));
    metrics.setEspPaused(esp, true);
    log.error({ esp, reason, alert: 'esp_auth_failed' }, `${esp} rejected our credentials; its queue is paused and pending changes are kept`);
  };

  const resumeEsp = async (esp: EspName) => {
    for (const name of espQueueNames(esp)) {
      const queue = runtime.queue(name);
      await queue.removeRateLimitKey();
      await queue.resume();
    }
    metrics.setEspPaused(esp, false);
    await pauses.deleteOne({ _id: esp });
    log.info({ esp }, `${esp} queue resumed`);
  };

  return { isEspPaused, pauseEsp, resumeEsp };
}

import type { Services } from '../src/app/context.js';
import type { JobDefinition } from '../src/queues/define-job.js';
import { applyConsentEventsJob } from './apply-consent-events.job.js';
import { ESP_NAMES } from '../src/esp/registry.js';
import type { EspName } from '../src/esp/types.js';
import { espPushJobsFor, sweepOutboxJob } from './esp-push.job.js';
import { heartbeatJob } from './heartbeat.job.js';
import { reconcilePageJob, reconcileScheduledJob } from './reconcile.job.js';
import { sweepPendingEventsJob } from './sweep-pending-events.job.js';

/** The job catalog of a process connected to `esps`: every job its workers run. */
export function catalogFor(esps: readonly EspName[]): readonly JobDefinition<Services>[] {
  return [
    applyConsentEventsJob,
    heartbeatJob,
    sweepPendingEventsJob,
    sweepOutboxJob,
    ...espPushJobsFor(esps),
    reconcileScheduledJob,
    reconcilePageJob,
  ] as JobDefinition<Services>[];
}

/** The catalog with the built-in ESPs: what the scheduler looks its schedules' jobs up in. */
export const catalog = catalogFor(ESP_NAMES);

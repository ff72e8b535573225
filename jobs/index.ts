import type { Services } from '../src/app/context.js';
import type { JobDefinition } from '../src/queues/define-job.js';
import { applyConsentEventsJob } from './apply-consent-events.job.js';
import { espPushJobs, sweepOutboxJob } from './esp-push.job.js';
import { heartbeatJob } from './heartbeat.job.js';
import { reconcilePageJob, reconcileScheduledJob } from './reconcile.job.js';
import { sweepPendingEventsJob } from './sweep-pending-events.job.js';

/** The job catalog: every job the workers run. */
export const catalog: readonly JobDefinition<Services>[] = [
  applyConsentEventsJob,
  heartbeatJob,
  sweepPendingEventsJob,
  sweepOutboxJob,
  ...espPushJobs,
  reconcileScheduledJob,
  reconcilePageJob,
] as JobDefinition<Services>[];

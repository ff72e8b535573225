import type { Services } from '../src/lib/context.js';
import type { JobDefinition } from '../src/queues/define-job.js';
import { heartbeatJob } from './heartbeat.job.js';

/** The job catalog: every job the workers run. */
export const catalog: readonly JobDefinition<Services>[] = [heartbeatJob as JobDefinition<Services>];

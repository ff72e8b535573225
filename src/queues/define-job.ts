import type { JobsOptions } from 'bullmq';
import type { z } from 'zod';
import type { Config } from '../../config/index.js';
import type { Logger } from '../lib/logger.js';

export interface JobRunContext<Services> {
  services: Services;
  log: Logger;
  job: { id: string | undefined; attemptsMade: number; queue: string };
}

/**
 * One entry of the job catalog: its name, queue, payload schema, options and handler. Payloads
 * are ids only (no PII reaches Redis or Bull Board); the schema rejects anything else. `options`
 * come from queues/retry-policy.ts and are the ones every add uses (see JobProducer).
 */
export interface JobDefinition<Services, Schema extends z.ZodType = z.ZodType, Result = unknown> {
  readonly name: string;
  readonly queue: string;
  readonly schema: Schema;
  readonly options: (config: Config) => JobsOptions;
  handler(payload: z.infer<Schema>, ctx: JobRunContext<Services>): Promise<Result>;
}

export function defineJob<Services, Schema extends z.ZodType, Result>(
  definition: JobDefinition<Services, Schema, Result>,
): JobDefinition<Services, Schema, Result> {
  return definition;
}

/**
 * Errors a job handler throws to tell the queue what to do, without importing BullMQ:
 * the consumer turns them into BullMQ's own mechanisms (one place, see runtime.ts).
 */

/** Wait `delayMs` before this queue takes jobs again; the job does not use up an attempt. */
export class JobRateLimited extends Error {
  constructor(readonly delayMs: number, reason: string) {
    super(reason);
    this.name = 'JobRateLimited';
  }
}

/** Retrying cannot help (bad payload, permanent ESP refusal): fail now, visibly. */
export class JobPermanentFailure extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'JobPermanentFailure';
  }
}

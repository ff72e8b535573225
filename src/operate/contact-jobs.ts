import type { Models } from '../persistence/models.js';
import { allQueueNames, espOfQueue, QUEUE_APPLY } from '../queues/names.js';
import type { QueueRuntime } from '../queues/runtime.js';

/** Where Bull Board shows one job (its UI's `/queue/:name/:jobId` route under the board's base path). */
export function boardJobPath(boardBasePath: string, queue: string, jobId: string): string {
  return `${boardBasePath}/queue/${encodeURIComponent(queue)}/${encodeURIComponent(jobId)}`;
}

/** Where the operator page shows one contact: the id in the fragment, so it reaches no server log. */
export function contactPagePath(adminBasePath: string, contactId: string): string {
  return `${adminBasePath}/#contact=${encodeURIComponent(contactId)}`;
}

export interface ContactJobView {
  queue: string;
  jobId: string;
  name: string;
  state: string;
  lane?: number;
  /** When the job was added. */
  addedAt: string;
  boardPath: string;
}

/** Job states searched, newest jobs first; waiting-children never holds consent jobs. */
const STATES = ['active', 'waiting', 'prioritized', 'delayed', 'failed', 'completed'] as const;

/** Consent jobs carry ids only: push jobs the contact ids, apply jobs the event ids. */
interface JobData {
  contactIds?: unknown;
  eventIds?: unknown;
  lane?: unknown;
}

export interface ContactJobsDeps {
  models: Pick<Models, 'audit'>;
  runtime: Pick<QueueRuntime, 'queue'>;
  esps: readonly string[];
  boardBasePath: string;
}

/**
 * The BullMQ jobs that carry one contact: push jobs naming it, and apply jobs of its events (the
 * event ids from its audit). Searches the newest `perState` jobs of each state of the apply and
 * ESP queues, so a contact's jobs long since removed or far down a backlog are not listed.
 */
export async function contactJobs(deps: ContactJobsDeps, contactId: string, perState = 100): Promise<ContactJobView[]> {
  const audit = await deps.models.audit.find({ contactId }, { _id: 1 }).sort({ applied: -1 }).limit(500).lean();
  const eventIds = new Set(audit.map((a) => a._id));
  const queues = allQueueNames(deps.esps).filter((name) => name === QUEUE_APPLY || espOfQueue(name) !== undefined);
  const found = await Promise.all(
    queues.map(async (name) => {
      const queue = deps.runtime.queue(name);
      const matches: ContactJobView[] = [];
      for (const state of STATES) {
        const jobs = await queue.getJobs([state], 0, perState - 1, false);
        for (const job of jobs) {
          const data = (job?.data ?? {}) as JobData;
          const names = Array.isArray(data.contactIds) && data.contactIds.includes(contactId);
          const events = Array.isArray(data.eventIds) && data.eventIds.some((id) => eventIds.has(id as string));
          if (!job?.id || !(names || events)) continue;
          matches.push({
            queue: name,
            jobId: job.id,
            name: job.name,
            state,
            ...(typeof data.lane === 'number' ? { lane: data.lane } : {}),
            addedAt: new Date(job.timestamp).toISOString(),
            boardPath: boardJobPath(deps.boardBasePath, name, job.id),
          });
        }
      }
      return matches;
    }),
  );
  return found.flat().sort((a, b) => b.addedAt.localeCompare(a.addedAt));
}

import type { Connection } from 'mongoose';
import type { Config } from '../../../config/index.js';
import type { WireConsentEvent } from '../../contracts/consent-event.js';
import { createEspReadBacks } from '../../esp/readback.js';
import type { EspName } from '../../esp/types.js';
import type { Models } from '../../persistence/models.js';
import { type ReconcileRunDoc, reconcileRunModel } from '../../persistence/reconcile-run.model.js';
import { reconcilePageJob } from '../../../jobs/reconcile.job.js';
import type { JobProducer } from '../../queues/runtime.js';
import {
  createRun,
  failRun,
  type PageTask,
  type ReconcileDeps,
  runPage,
} from '../../reconcile/engine.js';
import type { Logger } from '../../lib/logger.js';

export interface ReconcileWiring {
  config: Config;
  log: Logger;
  mongo: Connection;
  models: Models;
  producer: JobProducer<unknown>;
  clock: () => Date;
  recordEvents: (events: readonly WireConsentEvent[]) => Promise<unknown>;
  repush: (esp: EspName, contactId: string) => Promise<void>;
  onDrift?: ReconcileDeps['onDrift'];
}

/** Reconciliation runs: started by schedule, API or CLI; one job per page. */
export async function createReconciliation(w: ReconcileWiring) {
  const runs = reconcileRunModel(w.mongo);
  await runs.createIndexes();
  const deps: ReconcileDeps = {
    models: w.models,
    runs,
    readBacks: createEspReadBacks(w.config.espModules, w.config.esps, w.log.child({ component: 'readback' })),
    recordEvents: w.recordEvents,
    repush: w.repush,
    now: w.clock,
    pageSize: w.config.reconcile.pageSize,
    log: w.log.child({ component: 'reconcile' }),
    ...(w.onDrift ? { onDrift: w.onDrift } : {}),
  };
  const enqueuePage = async (task: PageTask) => {
    // The page's jobId makes a re-queued page (a retried job that already queued its next) a no-op.
    await w.producer.add(reconcilePageJob as never, task, { jobId: `recon-${task.runId}-p${task.page}` });
  };
  return {
    reconciliationRuns: runs,
    startReconciliation: async (esp: EspName, trigger: ReconcileRunDoc['trigger']) => {
      const task = await createRun(esp, trigger, deps);
      await enqueuePage(task);
      return { runId: task.runId, esp };
    },
    reconcilePage: async (task: PageTask) => {
      try {
        const next = await runPage(task, deps);
        if (next) await enqueuePage(next);
        return { next };
      } catch (err) {
        // A permanent read-back failure ends the run visibly; other errors retry the page job.
        if ((err as { kind?: string }).kind === 'permanent')
          await failRun(task.runId, (err as Error).message, deps);
        throw err;
      }
    },
    reconcileInline: async (esp: EspName, onPage: (run: ReconcileRunDoc) => void) => {
      let task: PageTask | undefined = await createRun(esp, 'cli', deps);
      const runId = task.runId;
      try {
        while (task) {
          task = await runPage(task, deps);
          const run = await runs.findById(runId).lean();
          if (run) onPage(run);
        }
      } catch (err) {
        await failRun(runId, (err as Error).message, deps);
        throw err;
      }
      return (await runs.findById(runId).lean())!;
    },
  };
}

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { describeZodIssues } from '../contracts/consent-event.js';
import type { EspName } from '../esp/types.js';
import type { AppContext } from '../app/context.js';
import type { ReconcileRunDoc } from '../persistence/reconcile-run.model.js';
import { errorBody } from './errors.js';

function runView({ _id, ...rest }: ReconcileRunDoc) {
  return { runId: _id, ...rest };
}

/** The body that starts a run: "all", or one of the connected ESPs. */
export function reconcileRunBody(esps: readonly string[]) {
  return z.strictObject({
    esp: z.string().refine((v) => v === 'all' || esps.includes(v), {
      message: `must be "all" or a connected ESP: ${esps.join(', ') || '(none connected)'}`,
    }),
  });
}

/** On-demand reconciliation runs and their drift reports. */
export function registerReconcileRoutes(app: FastifyInstance, ctx: AppContext): void {
  const body = reconcileRunBody(ctx.esps);

  app.post('/v1/reconciliation/runs', async (request, reply) => {
    const parsed = body.safeParse(request.body);
    if (!parsed.success) return reply.code(400).send(errorBody('validation_failed', 'no run started', describeZodIssues(parsed.error)));
    const esps = parsed.data.esp === 'all' ? ctx.esps : [parsed.data.esp as EspName];
    const runs = [];
    for (const esp of esps) runs.push(await ctx.services.startReconciliation(esp, 'api'));
    return reply.code(202).send({ runs });
  });

  app.get('/v1/reconciliation/runs', async () => {
    const runs = ctx.services.reconciliationRuns;
    const recent = await runs.find({}).sort({ queuedAt: -1 }).limit(50).lean();
    const latest: Record<string, unknown> = {};
    for (const esp of ctx.esps) {
      const last = await runs.find({ esp, status: 'done' }).sort({ queuedAt: -1 }).limit(1).lean();
      latest[esp] = last[0] ? runView(last[0]) : null;
    }
    return { latest, runs: recent.map(runView) };
  });

  app.get<{ Params: { id: string } }>('/v1/reconciliation/runs/:id', async (request, reply) => {
    const run = await ctx.services.reconciliationRuns.findById(request.params.id).lean();
    if (!run) return reply.code(404).send(errorBody('not_found', 'no reconciliation run has this id'));
    return runView(run);
  });
}

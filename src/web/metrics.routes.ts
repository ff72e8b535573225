import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app/context.js';
import type { Metrics } from '../metrics/metrics.js';
import { checkBearer } from './basic-auth.js';
import { errorBody } from './errors.js';

/**
 * GET /metrics in the Prometheus text format. When METRICS_TOKEN is set the request must carry
 * `Authorization: Bearer <token>` (compared in constant time), otherwise 401.
 */
export function registerMetricsRoutes(app: FastifyInstance, ctx: AppContext, metrics: Metrics): void {
  const token = ctx.config.metrics.token;
  app.get('/metrics', async (request, reply) => {
    if (token !== undefined && !checkBearer(request.headers.authorization, token)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="metrics"')
        .send(errorBody('unauthorized', 'a valid bearer token is required'));
    }
    await Promise.all([metrics.collect(ctx), refreshDrift(ctx, metrics)]);
    const body = await metrics.registry.metrics();
    return reply
      .header('content-type', metrics.registry.contentType)
      .header('cache-control', 'no-store')
      .send(body);
  });
}

/** consent_sync_drift_total{esp,type} from each ESP's latest finished reconciliation run. */
async function refreshDrift(ctx: AppContext, metrics: Metrics): Promise<void> {
  for (const esp of ctx.esps) {
    const [latest] = await ctx.services.reconciliationRuns.find({ esp, status: 'done' }).sort({ queuedAt: -1 }).limit(1).lean();
    for (const [type, count] of Object.entries(latest?.counts ?? {})) {
      if (type !== 'in_sync') metrics.setDrift(esp, type, count);
    }
  }
}

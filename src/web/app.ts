import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AppContext } from '../app/context.js';
import { registerAdminRoutes } from './admin.routes.js';
import { registerBoard } from './board.js';
import { registerMetricsRoutes } from './metrics.routes.js';
import { registerConsentRoutes } from './consent.routes.js';
import { registerErrorHandler } from './errors.js';
import { producerGuardHook } from './producer-guard.js';
import { registerHealthRoutes } from './health.routes.js';
import { registerOpenApiRoute } from './openapi.js';
import { registerReconcileRoutes } from './reconcile.routes.js';
import { registerUnsubscribeRoutes } from './unsubscribe.routes.js';
import { registerWebhookRoutes } from './webhooks.routes.js';

/** Builds the HTTP app without listening, so tests drive it with inject() or a real port. */
export interface AppOptions {
  /** Told of every route as it is added (the OpenAPI test compares them with the document). */
  onRoute?: (route: { method: string | string[]; url: string }) => void;
}

export async function createApp(ctx: AppContext, opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.log.child({ component: 'web' }) as FastifyBaseLogger,
    // No disableRequestLogging: request logging is on by default, and naming the option at all
    // makes fastify 5.12 print the FSTDEP023 deprecation warning at every start.
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
  });
  if (opts.onRoute) {
    const onRoute = opts.onRoute;
    app.addHook('onRoute', (route) => onRoute({ method: route.method, url: route.url }));
  }
  registerErrorHandler(app);
  registerHealthRoutes(app, ctx);
  registerOpenApiRoute(app, ctx.config, ctx.esps);
  // The /v1/ API (producers' events, contact view and export; reconciliation runs): API keys and
  // rate limit. Board, webhooks, one-click, health and metrics keep their own authentication.
  await app.register(async (api) => {
    api.addHook(
      'onRequest',
      producerGuardHook({
        config: ctx.config.producer,
        redis: ctx.runtime.producer,
        prefix: ctx.config.redis.prefix,
        count: (outcome) => ctx.metrics.producerGuard(outcome),
      }),
    );
    registerConsentRoutes(api, ctx);
    registerReconcileRoutes(api, ctx);
  });
  registerWebhookRoutes(app, ctx, ctx.config.webhooks);
  registerUnsubscribeRoutes(app, ctx, ctx.config.webhooks);
  await registerBoard(app, ctx);
  await registerAdminRoutes(app, ctx);
  registerMetricsRoutes(app, ctx, ctx.metrics);
  return app;
}

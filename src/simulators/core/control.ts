/**
 * Control routes served by every simulator outside the ESP's paths:
 *   GET  /__sim/state            state snapshot (`recipients` in canonical words + ESP detail)
 *   GET  /__sim/requests[?since] request log (entries with seq > since)
 *   GET  /__sim/faults           remaining fault script
 *   POST /__sim/faults           replace the fault script (FaultScript JSON)
 *   POST /__sim/reset            clear state (back to seeds), request log and faults
 *   POST /__sim/unsubscribe      act out a recipient unsubscribing at the ESP (UnsubscribeInput JSON)
 *   POST /__sim/webhook-target   {"url": "http://..."} or {"url": null} to clear
 *   GET  /__sim/info             name, url, whether the ESP has webhooks
 * plus the ESP's own extra control routes (SimulatorDefinition.controlRoutes).
 */
import { z } from 'zod';
import type { SimulatorDefinition } from './definition.js';
import { type FaultInjector, parseFaultScript } from './faults.js';
import { fail, json } from './reply.js';
import { Router } from './router.js';
import { CANONICAL_CHANNELS, type SimulatorHandle, type UnsubscribeInput } from './types.js';

const unsubscribeSchema = z.looseObject({
  recipient: z.string().min(1),
  channel: z.enum(CANONICAL_CHANNELS as [string, ...string[]]).optional(),
  type: z.string().min(1).optional(),
  reason: z.string().optional(),
  at: z.iso.datetime({ offset: true }).optional(),
});

const webhookTargetSchema = z.object({ url: z.url().nullable().optional() });

/** Parse with zod; a failure is a 400 listing the issues. */
export function parseOr400<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) fail(400, { error: 'invalid control request', issues: result.error.issues });
  return result.data;
}

export function parseUnsubscribeInput(value: unknown): UnsubscribeInput {
  return parseOr400(unsubscribeSchema, value) as UnsubscribeInput;
}

export function createControlRouter(
  def: SimulatorDefinition,
  handle: SimulatorHandle,
  faults: FaultInjector,
): Router {
  const router = new Router();
  router.get('/__sim/state', () => json(200, handle.state()));
  router.get('/__sim/info', () =>
    json(200, { name: handle.name, url: handle.url, webhooks: def.hasWebhooks }),
  );
  router.get('/__sim/requests', (req) => {
    const since = Number(req.query.get('since') ?? '0');
    const all = handle.requests();
    return json(200, Number.isFinite(since) && since > 0 ? all.filter((r) => r.seq > since) : all);
  });
  router.get('/__sim/faults', () => json(200, faults.snapshot()));
  router.post('/__sim/faults', (req) => {
    let script: ReturnType<typeof parseFaultScript>;
    try {
      script = parseFaultScript(req.json() ?? {});
    } catch (err) {
      const issues = err instanceof z.ZodError ? err.issues : String(err);
      fail(400, { error: 'invalid fault script', issues });
    }
    handle.setFaults(script);
    return json(200, { ok: true });
  });
  router.post('/__sim/reset', () => {
    handle.reset();
    return json(200, { ok: true });
  });
  router.post('/__sim/unsubscribe', async (req) => {
    const result = await handle.unsubscribe(parseUnsubscribeInput(req.json()));
    return json(200, result);
  });
  router.post('/__sim/webhook-target', (req) => {
    const body = parseOr400(webhookTargetSchema, req.json() ?? {});
    handle.setWebhookTarget(body.url ?? undefined);
    return json(200, { ok: true, url: body.url ?? null, webhooks: def.hasWebhooks });
  });
  return router;
}

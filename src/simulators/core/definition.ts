/** The contract between the generic simulator host (core) and one ESP's simulator. */
import type { Router } from './router.js';
import type {
  Admission,
  EspName,
  SimReply,
  SimRequest,
  SimState,
  UnsubscribeInput,
  UnsubscribeResult,
} from './types.js';
import type { WebhookDispatcher } from './webhooks.js';

/** What the host hands to an ESP simulator factory. */
export interface SimContext {
  /** Wall clock for data timestamps (option `now`; default `() => new Date()`). */
  now(): Date;
  webhooks: WebhookDispatcher;
}

export interface SimulatorDefinition {
  name: EspName;
  /** The ESP's public routes. */
  routes: Router;
  /** Extra control routes, full paths under `/__sim/` (e.g. `/__sim/seed`). */
  controlRoutes?: Router;
  state(): SimState;
  /** Back to the initial (seeded) state. */
  reset(): void;
  /** Act out a recipient unsubscribing at the ESP; throws SimHttpError (e.g. 404 unknown recipient). */
  unsubscribe(input: UnsubscribeInput): UnsubscribeResult | Promise<UnsubscribeResult>;
  /** Whether the ESP has webhooks (then `state().webhooks` lists deliveries). */
  hasWebhooks: boolean;
  /** Taken on arrival of every ESP request, before latency and faults. */
  admission?(method: string, path: string): Admission | undefined;
  /** Headers added to every ESP response, faults included (e.g. CrossEngage `X-Request-ID`). */
  responseHeaders?(): Record<string, string>;
  /** Mask credentials carried in the path, for the request log. */
  maskPath?(path: string): string;
  /** Answer for a path no route matches (default: 404 JSON). */
  notFound?(req: SimRequest): SimReply;
  /** Stop timers. */
  close?(): void;
}

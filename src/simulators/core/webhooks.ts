/**
 * Best-effort webhook delivery for simulators whose ESP has webhooks (Optimizely Campaign, Actito). A delivery is
 * one JSON POST; failures are recorded, never retried, never thrown.
 *
 * Optional signing (off by default; neither vendor documents a signature, esp-contracts.md §1.2, §3.4): with a
 * secret — `setSigning({secret})`, the constructor's `signing`, the simulator option `webhookSecret`, or for
 * `npm run sim` the environment variable SIM_WEBHOOK_SECRET — every delivery also carries consent-sync's `hmac` webhook scheme
 * (src/ingest/webhook-verify.ts):
 *   X-Webhook-Id: <uuid>, X-Webhook-Timestamp: <unix s>,
 *   X-Webhook-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
 */
import { createHmac, randomUUID } from 'node:crypto';

export interface WebhookDestination {
  url: string;
  headers?: Record<string, string>;
}

export interface WebhookSigning {
  secret: string;
}

/** Environment variable that turns signing on for `npm run sim` (read by its entry point only). */
export const SIM_WEBHOOK_SECRET_ENV = 'SIM_WEBHOOK_SECRET';

/** consent-sync's `hmac` webhook headers for `body` (kept here so simulators import nothing from the app). */
export function webhookSignatureHeaders(
  secret: string,
  body: string,
  timestamp: number = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
  return {
    'x-webhook-id': randomUUID(),
    'x-webhook-timestamp': String(timestamp),
    'x-webhook-signature': `v1=${mac}`,
  };
}

export interface WebhookDelivery {
  time: string;
  url: string;
  event: string;
  payload: unknown;
  /** HTTP status of the receiver, or null when the POST failed (see `error`) or is still in flight. */
  status: number | null;
  error?: string;
}

/** Give up on a receiver after this long (INFERENCE; ESP retry behaviour is not modelled). */
const DELIVERY_TIMEOUT_MS = 5000;
const MAX_DELIVERIES = 1000;

export class WebhookDispatcher {
  private target: string | undefined;
  private deliveries: WebhookDelivery[] = [];
  private readonly inFlight = new Set<Promise<void>>();

  private signing: WebhookSigning | undefined;

  constructor(
    private readonly now: () => Date,
    initialTarget?: string,
    signing?: WebhookSigning,
  ) {
    this.target = initialTarget;
    this.signing = signing;
  }

  /** Sign every later delivery (undefined = stop signing). */
  setSigning(signing: WebhookSigning | undefined): void {
    this.signing = signing;
  }

  setTarget(url: string | undefined): void {
    if (url !== undefined) new URL(url); // throws TypeError on an invalid URL
    this.target = url;
  }

  getTarget(): string | undefined {
    return this.target;
  }

  /**
   * POST `payload` to the configured target and to `extra` destinations (e.g. webhooks registered through the
   * ESP's own API). Returns true when at least one delivery was started.
   */
  emit(event: string, payload: unknown, extra: WebhookDestination[] = []): boolean {
    const destinations: WebhookDestination[] = [...extra];
    if (this.target) destinations.push({ url: this.target });
    for (const dest of destinations) this.deliver(event, payload, dest);
    return destinations.length > 0;
  }

  private deliver(event: string, payload: unknown, dest: WebhookDestination): void {
    const record: WebhookDelivery = {
      time: this.now().toISOString(),
      url: dest.url,
      event,
      payload,
      status: null,
    };
    this.deliveries.push(record);
    if (this.deliveries.length > MAX_DELIVERIES) this.deliveries.shift();
    const body = JSON.stringify(payload);
    const signature = this.signing ? webhookSignatureHeaders(this.signing.secret, body) : {};
    const p = fetch(dest.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signature, ...(dest.headers ?? {}) },
      body,
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    })
      .then(async (res) => {
        record.status = res.status;
        await res.arrayBuffer().catch(() => undefined);
      })
      .catch((err: unknown) => {
        record.error = err instanceof Error ? err.message : String(err);
      })
      .finally(() => {
        this.inFlight.delete(p);
      });
    this.inFlight.add(p);
  }

  snapshot(): { target: string | null; deliveries: WebhookDelivery[] } {
    return { target: this.target ?? null, deliveries: this.deliveries.map((d) => ({ ...d })) };
  }

  clearDeliveries(): void {
    this.deliveries = [];
  }

  /** Resolves once every started delivery has finished. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
}

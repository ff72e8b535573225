import { z } from 'zod';
import type { WebhookEndpointSettings } from '../src/esp/kit/esp-module.js';
import { BUILT_IN_ESPS, type EspModule } from '../src/esp/registry.js';

export type { WebhookAuth } from '../src/esp/kit/esp-module.js';

/**
 * Settings of the inbound ESP webhooks and the RFC 8058 one-click unsubscribe endpoint
 * (product.md §4 last paragraph; reliability.md §5.2, §5.3; esp-contracts.md §1.2, §2.2, §3.4, §7).
 * Every variable is optional; each `.describe()` text is its README documentation.
 *
 * A webhook endpoint whose secret is unset is disabled and answers 404 (the same answer as a route
 * that does not exist), so an unconfigured deployment exposes nothing that accepts opt-outs unsigned.
 */

/**
 * The variables every webhook shares. Each endpoint's own (WEBHOOK_SECRET_<ESP>, WEBHOOK_AUTH_<ESP>…)
 * are declared by its ESP's module (src/esp/<esp>/<esp>.webhook.ts); webhookEnvSchemaFor adds them.
 */
const sharedWebhookEnvSchema = z.object({
  // reliability.md §5.2: Stripe and Standard Webhooks use 300 s.
  WEBHOOK_MAX_SKEW_S: z.coerce
    .number()
    .int()
    .min(1)
    .max(3_600)
    .default(300)
    .describe(
      "Largest difference between a signed webhook's timestamp and our clock; older or newer deliveries get 401.",
    ),
  WEBHOOK_BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1_024)
    .max(10 * 1024 * 1024)
    .default(262_144)
    .describe('Largest webhook body; larger deliveries get 413.'),
  WEBHOOK_MAX_EVENTS: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000)
    .default(100)
    .describe('Most events one webhook delivery may carry (array or `{"events":[…]}`).'),
  PUBLIC_BASE_URL: z
    .url()
    .optional()
    .describe(
      'Public base URL of the `web` process, used in `List-Unsubscribe` links (`<base>/u/<token>`); must be https in production (NODE_ENV=production). Unset: `http://127.0.0.1:<PORT>`.',
    ),
  LIST_UNSUBSCRIBE_MAILTO: z
    .email()
    .optional()
    .describe(
      'Address added as `<mailto:…?subject=unsubscribe%20<token>>` to List-Unsubscribe; unset = https link only. Something must process that mailbox.',
    ),
  // CAN-SPAM: an unsubscribe link must keep working for at least 30 days after sending.
  UNSUBSCRIBE_TOKEN_MAX_AGE_DAYS: z.coerce
    .number()
    .int()
    .min(0)
    .default(0)
    .describe(
      'One-click links older than this are refused as invalid; 0 = never expire (links in old mail keep working).',
    ),
});

/** The shared webhook variables and each configured ESP's endpoint variables. */
export function webhookEnvSchemaFor(esps: readonly EspModule[]) {
  const shape: Record<string, z.core.$ZodType> = { ...sharedWebhookEnvSchema.shape };
  for (const esp of esps) Object.assign(shape, esp.webhook?.envSchema.shape ?? {});
  return z.object(shape);
}

/** The built-in ESPs' webhook variables (README tables). */
export const webhookEnvSchema = webhookEnvSchemaFor(BUILT_IN_ESPS);

/** One endpoint: the ESP whose module serves it, and its settings. */
export interface WebhookEndpointConfig extends WebhookEndpointSettings {
  readonly esp: string;
}

export interface WebhookConfig {
  /** By endpoint name (`POST /v1/webhooks/<name>`), one per configured ESP that has a webhook. */
  readonly endpoints: Readonly<Record<string, WebhookEndpointConfig>>;
  readonly maxSkewS: number;
  readonly bodyLimitBytes: number;
  readonly maxEvents: number;
  readonly publicBaseUrl: string;
  readonly listUnsubscribeMailto: string | undefined;
  /** 0 = tokens never expire. */
  readonly unsubscribeTokenMaxAgeS: number;
}

function withoutEmptyValues(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value.trim() !== '') out[key] = value;
  }
  return out;
}

/** Validates the webhook variables (throws a ZodError naming every bad one) and builds the settings. */
export function buildWebhookConfig(
  rawEnv: Readonly<Record<string, string | undefined>>,
  defaults: { port: number } = { port: 3000 },
  esps: readonly EspModule[] = BUILT_IN_ESPS,
): WebhookConfig {
  // Endpoints' variables come from the module list, so only the shared part keeps its types.
  const all: Record<string, unknown> = webhookEnvSchemaFor(esps).parse(withoutEmptyValues(rawEnv));
  const env = all as z.infer<typeof sharedWebhookEnvSchema>;
  const endpoints: Record<string, WebhookEndpointConfig> = {};
  for (const esp of esps) {
    if (!esp.webhook) continue;
    if (endpoints[esp.webhook.endpoint]) {
      throw new Error(`ESPs ${endpoints[esp.webhook.endpoint]?.esp} and ${esp.name} both serve /v1/webhooks/${esp.webhook.endpoint}`);
    }
    endpoints[esp.webhook.endpoint] = { ...esp.webhook.endpointConfig(all), esp: esp.name };
  }
  return Object.freeze({
    endpoints,
    maxSkewS: env.WEBHOOK_MAX_SKEW_S,
    bodyLimitBytes: env.WEBHOOK_BODY_LIMIT_BYTES,
    maxEvents: env.WEBHOOK_MAX_EVENTS,
    // Unset, links point at this web process itself, on the port it really listens on.
    publicBaseUrl: (env.PUBLIC_BASE_URL ?? `http://127.0.0.1:${defaults.port}`).replace(/\/+$/, ''),
    listUnsubscribeMailto: env.LIST_UNSUBSCRIBE_MAILTO,
    unsubscribeTokenMaxAgeS: env.UNSUBSCRIBE_TOKEN_MAX_AGE_DAYS * 86_400,
  });
}

/** Problems that only matter in production (merge into loadConfig's production checks). */
export function webhookProductionProblems(config: WebhookConfig, nodeEnv: string): string[] {
  const problems: string[] = [];
  if (nodeEnv !== 'production') return problems;
  // esp-contracts.md §7: one-click needs at least one HTTPS URI.
  if (!config.publicBaseUrl.startsWith('https://')) {
    problems.push(
      'PUBLIC_BASE_URL: must be an https:// URL outside development (RFC 8058 one-click needs HTTPS)',
    );
  }
  return problems;
}

/** Secrets replaced, for the start-up log line (describeConfig). */
export function describeWebhookConfig(config: WebhookConfig): Record<string, unknown> {
  const mask = (e: WebhookEndpointConfig) => ({
    ...e,
    secrets: e.secrets.map(() => '***'),
    enabled: e.secrets.length > 0,
  });
  return {
    ...config,
    endpoints: Object.fromEntries(Object.entries(config.endpoints).map(([name, e]) => [name, mask(e)])),
  };
}

import { z } from 'zod';

/**
 * Settings of the inbound ESP webhooks and the RFC 8058 one-click unsubscribe endpoint
 * (product.md §4 last paragraph; reliability.md §5.2, §5.3; esp-contracts.md §1.2, §2.2, §3.4, §7).
 * Every variable is optional; each `.describe()` text is its README documentation.
 *
 * A webhook endpoint whose secret is unset is disabled and answers 404 (the same answer as a route
 * that does not exist), so an unconfigured deployment exposes nothing that accepts opt-outs unsigned.
 */

/** `hmac`, `key:<Header-Name>` or `basic:<user>`. */
const AUTH_MODE = /^(hmac|key:[A-Za-z0-9-]{1,64}|basic:[^:\s]{1,128})$/;
const authMode = (defaultValue: string) =>
  z.string().regex(AUTH_MODE, 'must be `hmac`, `key:<Header-Name>` or `basic:<user>`').default(defaultValue);

/** Comma-separated secrets (new first, then old while rotating); each at least 16 characters. */
const secrets = z
  .string()
  .refine(
    (v) => v.split(',').every((s) => s.trim().length >= 16),
    'comma-separated secrets of at least 16 characters each',
  );

const IPV4_OR_6 = /^[0-9A-Fa-f:.]+$/;

export const webhookEnvSchema = z.object({
  WEBHOOK_SECRET_OPTIMIZELY: secrets
    .optional()
    .describe(
      'Secret of `POST /v1/webhooks/optimizely-campaign` (the keyAuth passphrase, basicAuth password or HMAC key per WEBHOOK_AUTH_OPTIMIZELY); comma-separate a new and an old one while rotating. Unset = the endpoint is disabled and answers 404.',
    ),
  // DOC esp-contracts.md §1.2: Optimizely webhooks authenticate with `authentication` none | basicAuth | keyAuth.
  WEBHOOK_AUTH_OPTIMIZELY: authMode('key:X-Webhook-Key').describe(
    'How Optimizely Campaign webhooks authenticate: `key:<Header>` (keyAuth: the header carries the secret), `basic:<user>` (basicAuth, password = the secret) or `hmac` (X-Webhook-Timestamp + X-Webhook-Signature).',
  ),
  // DOC esp-contracts.md §1.2: webhooks are POSTed from 193.169.180.1. Needs the proxy's trustProxy setting when behind one.
  WEBHOOK_OPTIMIZELY_ALLOWED_IPS: z
    .string()
    .refine((v) => v.split(',').every((ip) => IPV4_OR_6.test(ip.trim())), 'comma-separated IP addresses')
    .optional()
    .describe(
      'Comma-separated client IPs allowed to call the Optimizely webhook (Optimizely sends from 193.169.180.1); unset = any IP.',
    ),
  // NOT FOUND in esp-contracts.md §3.4: how Actito authenticates webhooks; INFERENCE: our HMAC scheme, configurable.
  WEBHOOK_SECRET_ACTITO: secrets
    .optional()
    .describe(
      'Secret of `POST /v1/webhooks/actito` (HMAC key by default); comma-separate new and old while rotating. Unset = the endpoint is disabled and answers 404.',
    ),
  WEBHOOK_AUTH_ACTITO: authMode('hmac').describe(
    'How Actito webhooks authenticate: `hmac`, `key:<Header>` or `basic:<user>` (Actito documents no scheme).',
  ),
  WEBHOOK_SECRET_GENERIC: secrets
    .optional()
    .describe(
      'Secret of `POST /v1/webhooks/generic` (CrossEngage-style `mail.unsubscribe` events; HMAC key by default). Unset = the endpoint is disabled and answers 404.',
    ),
  WEBHOOK_AUTH_GENERIC: authMode('hmac').describe(
    'How the generic webhook authenticates: `hmac`, `key:<Header>` or `basic:<user>`.',
  ),
  WEBHOOK_GENERIC_ESP: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,47}$/, 'lower-case ESP name, e.g. crossengage')
    .default('crossengage')
    .describe('ESP the generic webhook speaks for: its events get the source `esp:<name>`.'),
  // INFERENCE per esp-contracts.md §2.2: `mail.unsubscribe` is the legacy name of `message.unsubscribed` ("Message Unsubscribed").
  WEBHOOK_GENERIC_EVENTS: z
    .string()
    .min(1)
    .default('mail.unsubscribe,message.unsubscribed,Message Unsubscribed')
    .describe(
      'Comma-separated event names of the generic webhook that mean "unsubscribed"; others are ignored (202).',
    ),
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

export type WebhookEnv = z.infer<typeof webhookEnvSchema>;

export type WebhookAuth =
  | { readonly type: 'hmac' }
  | { readonly type: 'key'; readonly header: string }
  | { readonly type: 'basic'; readonly username: string };

export interface WebhookEndpointConfig {
  /** Empty = the endpoint is disabled (404). */
  readonly secrets: readonly string[];
  readonly auth: WebhookAuth;
}

export interface WebhookConfig {
  readonly optimizely: WebhookEndpointConfig & { readonly allowedIps: readonly string[] };
  readonly actito: WebhookEndpointConfig;
  readonly generic: WebhookEndpointConfig & { readonly esp: string; readonly events: readonly string[] };
  readonly maxSkewS: number;
  readonly bodyLimitBytes: number;
  readonly maxEvents: number;
  readonly publicBaseUrl: string;
  readonly listUnsubscribeMailto: string | undefined;
  /** 0 = tokens never expire. */
  readonly unsubscribeTokenMaxAgeS: number;
}

function parseAuth(mode: string): WebhookAuth {
  if (mode.startsWith('key:')) return { type: 'key', header: mode.slice(4).toLowerCase() };
  if (mode.startsWith('basic:')) return { type: 'basic', username: mode.slice(6) };
  return { type: 'hmac' };
}

const list = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

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
): WebhookConfig {
  const env = webhookEnvSchema.parse(withoutEmptyValues(rawEnv));
  return Object.freeze({
    optimizely: {
      secrets: list(env.WEBHOOK_SECRET_OPTIMIZELY),
      auth: parseAuth(env.WEBHOOK_AUTH_OPTIMIZELY),
      allowedIps: list(env.WEBHOOK_OPTIMIZELY_ALLOWED_IPS),
    },
    actito: { secrets: list(env.WEBHOOK_SECRET_ACTITO), auth: parseAuth(env.WEBHOOK_AUTH_ACTITO) },
    generic: {
      secrets: list(env.WEBHOOK_SECRET_GENERIC),
      auth: parseAuth(env.WEBHOOK_AUTH_GENERIC),
      esp: env.WEBHOOK_GENERIC_ESP,
      events: list(env.WEBHOOK_GENERIC_EVENTS),
    },
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
  const mask = <T extends WebhookEndpointConfig>(e: T) => ({
    ...e,
    secrets: e.secrets.map(() => '***'),
    enabled: e.secrets.length > 0,
  });
  return {
    ...config,
    optimizely: mask(config.optimizely),
    actito: mask(config.actito),
    generic: mask(config.generic),
  };
}

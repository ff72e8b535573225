import { z } from 'zod';
import type { WebhookAuth, WebhookEndpointSettings } from './esp-module.js';

/**
 * The pieces every ESP's webhook variables are made of (an ESP's module declares its own:
 * WEBHOOK_SECRET_<ESP>, WEBHOOK_AUTH_<ESP>…); config/webhooks.ts composes them with the shared ones.
 */

/** `hmac`, `key:<Header-Name>` or `basic:<user>`. */
const AUTH_MODE = /^(hmac|key:[A-Za-z0-9-]{1,64}|basic:[^:\s]{1,128})$/;
export const webhookAuthMode = (defaultValue: string) =>
  z.string().regex(AUTH_MODE, 'must be `hmac`, `key:<Header-Name>` or `basic:<user>`').default(defaultValue);

/** Comma-separated secrets (new first, then old while rotating); each at least 16 characters. */
export const webhookSecrets = z
  .string()
  .refine(
    (v) => v.split(',').every((s) => s.trim().length >= 16),
    'comma-separated secrets of at least 16 characters each',
  );

const IPV4_OR_6 = /^[0-9A-Fa-f:.]+$/;

export const ipList = z
  .string()
  .refine((v) => v.split(',').every((ip) => IPV4_OR_6.test(ip.trim())), 'comma-separated IP addresses');

export function parseWebhookAuth(mode: string): WebhookAuth {
  if (mode.startsWith('key:')) return { type: 'key', header: mode.slice(4).toLowerCase() };
  if (mode.startsWith('basic:')) return { type: 'basic', username: mode.slice(6) };
  return { type: 'hmac' };
}

/** A comma-separated variable as its trimmed, non-empty items. */
export const commaList = (value: unknown): string[] =>
  (typeof value === 'string' ? value : '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** The usual endpoint: a secret variable, an auth-mode variable and optionally an allowed-IPs one. */
export function webhookEndpointFrom(
  env: Readonly<Record<string, unknown>>,
  variables: { secret: string; auth: string; allowedIps?: string },
): WebhookEndpointSettings<undefined> {
  return {
    secrets: commaList(env[variables.secret]),
    auth: parseWebhookAuth(String(env[variables.auth])),
    allowedIps: variables.allowedIps ? commaList(env[variables.allowedIps]) : [],
    options: undefined,
  };
}

/** Small helpers shared by the ESP simulators (no ESP knowledge). */
import { isRecord } from './reply.js';
import type { CanonicalChannel, RecipientConsent, UnsubscribeInput } from './types.js';

/** Parse an integer query parameter with a default; NaN or negative → undefined (caller answers 400). */
export function intParam(value: string | null, fallback: number): number | undefined {
  if (value === null || value === '') return fallback;
  if (!/^\d+$/.test(value)) return undefined;
  return Number(value);
}

/** Comma-separated (and/or repeated) list parameter. */
export function listParam(params: URLSearchParams, name: string): string[] {
  return params
    .getAll(name)
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** The time of an acted-out unsubscribe: `at` if given, else now. */
export function eventTime(input: UnsubscribeInput, now: () => Date): Date {
  return input.at ? new Date(input.at) : now();
}

export function channelOf(input: UnsubscribeInput): CanonicalChannel {
  return input.channel ?? 'email';
}

/** Optional string field of an untrusted object. */
export function str(obj: unknown, key: string): string | undefined {
  if (!isRecord(obj)) return undefined;
  const v = obj[key];
  return typeof v === 'string' ? v : undefined;
}

/** Drop recipients without any channel value, so `/__sim/state` only lists what the ESP holds. */
export function compactRecipients(
  recipients: Record<string, RecipientConsent>,
): Record<string, RecipientConsent> {
  const out: Record<string, RecipientConsent> = {};
  for (const [key, consent] of Object.entries(recipients))
    if (Object.keys(consent).length > 0) out[key] = consent;
  return out;
}

/** Push onto a capped array (oldest dropped). */
export function pushCapped<T>(list: T[], item: T, cap: number): void {
  list.push(item);
  if (list.length > cap) list.splice(0, list.length - cap);
}

import type { Logger } from 'pino';
import type { ActitoSettings } from '../../../config/esps.js';
import { createAdapterKit, deadLetterOrThrow, statusOf } from '../adapter-kit.js';
import { mapWithConcurrency } from '../concurrency.js';
import { EspError } from '../http/errors.js';
import { combineOutcomes, PUSHED } from '../outcome.js';
import type { ContactSnapshot, EspAdapter, PushOutcome } from '../types.js';
import {
  type ActitoProfileBody,
  buildProfileUpsert,
  parseTokenResponse,
  profilePath,
} from './actito.mapping.js';

/**
 * Actito (esp-contracts.md §3). The API key buys a 15-minute bearer token, cached and shared by
 * concurrent pushes; a 401 on a call refreshes it once, a second 401 is an auth failure. At most
 * `concurrency` (≤ 5, the licence limit) requests are in flight, token requests included.
 */
export function createActitoAdapter(
  settings: ActitoSettings,
  logger: Logger,
  now: () => number = Date.now,
): EspAdapter {
  const kit = createAdapterKit(settings, logger, { headers: { 'Content-Type': 'application/json' } });
  const path = profilePath(settings);
  let token: { value: string; expiresAt: number } | undefined;
  let refreshing: Promise<string> | undefined;

  async function fetchToken(signal?: AbortSignal): Promise<string> {
    try {
      const res = await kit.call('auth-token', signal, () =>
        kit.http.get('/auth/token', { headers: { Authorization: settings.credentials.apiKey }, signal }),
      );
      const parsed = parseTokenResponse(res.data, settings.tokenTtlMs);
      if (!parsed)
        throw new EspError('actito', 'retryable', 'actito: /auth/token answered without an accessToken');
      token = { value: parsed.accessToken, expiresAt: now() + parsed.lifetimeMs };
      return parsed.accessToken;
    } catch (err) {
      // A rejected key is an operator problem, never a per-contact one.
      if (EspError.is(err) && err.kind === 'permanent')
        throw new EspError('actito', 'auth', err.message, { ...(err.status ? { status: err.status } : {}) });
      throw err;
    }
  }

  function currentToken(signal?: AbortSignal, stale?: string): Promise<string> {
    if (token && token.value !== stale && now() < token.expiresAt) return Promise.resolve(token.value);
    refreshing ??= fetchToken(signal).finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  }

  async function upsert(body: ActitoProfileBody, signal?: AbortSignal): Promise<void> {
    const send = (bearer: string) =>
      kit.call('profile-upsert', signal, () =>
        kit.http.post(path, body, { headers: { Authorization: `Bearer ${bearer}` }, signal }),
      );
    const first = await currentToken(signal);
    try {
      await send(first);
    } catch (err) {
      if (statusOf(err) !== 401) throw err;
      kit.logger.info('actito token rejected, refreshing once');
      const second = await currentToken(signal, first);
      try {
        await send(second);
      } catch (again) {
        if (statusOf(again) === 401)
          throw new EspError('actito', 'auth', 'actito: HTTP 401 even with a fresh token', { status: 401 });
        throw again;
      }
    }
  }

  async function pushContact(contact: ContactSnapshot, signal?: AbortSignal): Promise<PushOutcome> {
    const built = buildProfileUpsert(contact, settings, new Date(now()).toISOString());
    if ('outcome' in built) return combineOutcomes([...built.skipped, built.outcome]);
    try {
      await upsert(built.body, signal);
      return combineOutcomes([...built.skipped, PUSHED]);
    } catch (err) {
      return combineOutcomes([...built.skipped, deadLetterOrThrow(err)]);
    }
  }

  return {
    name: 'actito',
    maxBatch: settings.maxBatch,
    async push(contacts: readonly ContactSnapshot[], signal?: AbortSignal) {
      const results = await mapWithConcurrency(contacts, settings.concurrency, (c) => pushContact(c, signal));
      return new Map(contacts.map((c, i) => [c.contactId, results[i] as PushOutcome]));
    },
  };
}

import type { ActitoSettings } from './actito.settings.js';
import { type AdapterKit, statusOf } from '../kit/adapter-kit.js';
import { EspError } from '../kit/http/errors.js';
import { parseTokenResponse } from './actito.mapping.js';

/**
 * Actito's bearer-token session (esp-contracts.md §3.1), as the adapter runs it: the API key buys a
 * 15-minute token at `GET /auth/token`, cached and shared by concurrent calls; a 401 on a call
 * refreshes it once, a second 401 is an auth failure. A rejected key is always `auth`.
 * Shared by the adapter and the read-back.
 */
export interface ActitoSession {
  /** Runs `send` with a valid bearer token through the kit (pacing, concurrency, retries). */
  call<T>(
    operation: string,
    signal: AbortSignal | undefined,
    send: (bearer: string) => Promise<T>,
  ): Promise<T>;
}

export function createActitoSession(
  kit: AdapterKit,
  settings: Pick<ActitoSettings, 'credentials' | 'tokenTtlMs'>,
  now: () => number = Date.now,
): ActitoSession {
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

  return {
    async call(operation, signal, send) {
      const run = (bearer: string) => kit.call(operation, signal, () => send(bearer));
      const first = await currentToken(signal);
      try {
        return await run(first);
      } catch (err) {
        if (statusOf(err) !== 401) throw err;
        kit.logger.info('actito token rejected, refreshing once');
        const second = await currentToken(signal, first);
        try {
          return await run(second);
        } catch (again) {
          if (statusOf(again) === 401)
            throw new EspError('actito', 'auth', 'actito: HTTP 401 even with a fresh token', { status: 401 });
          throw again;
        }
      }
    },
  };
}

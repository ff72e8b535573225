import { expect, it } from 'vitest';
import { buildEspSettings, type EspSettingsByName } from '../../../config/esps.js';
import { createLogger } from '../../../src/lib/logger.js';
import { EspError } from '../../../src/esp/kit/http/errors.js';
import type { ChannelState, ContactSnapshot, EspAdapter, PushOutcome } from '../../../src/esp/types.js';
import { BUILT_IN_ESPS, type BuiltInEspName, createEspAdapters } from '../../../src/esp/registry.js';
import { simulatorConnectionEnv } from '../../../src/dev/simulator-env.js';

export const silentLogger = createLogger({ level: 'silent', format: 'json' });

/** Test retry policy: real classification and retries, millisecond backoff, 300 ms timeouts. */
const FAST = {
  ESP_RETRY_BASE_MS: '5',
  ESP_RETRY_MAX_MS: '20',
  ESP_MAX_INLINE_WAIT_MS: '1000',
};

/** Environment that points one ESP at a simulator with the simulator's default credentials. */
export function simulatorEnv(esp: BuiltInEspName, url: string): Record<string, string> {
  const fast: Record<BuiltInEspName, Record<string, string>> = {
    'optimizely-campaign': { OPTIMIZELY_TIMEOUT_MS: '300', OPTIMIZELY_RPS: '1000' },
    crossengage: { CROSSENGAGE_TIMEOUT_MS: '300', CROSSENGAGE_RPS: '1000' },
    actito: { ACTITO_TIMEOUT_MS: '300', ACTITO_CALLS_PER_MINUTE: '100000', ACTITO_SUBSCRIPTIONS: '' },
    'dynamic-yield': { DY_TIMEOUT_MS: '300', DY_RPS: '1000' },
    ometria: { OMETRIA_TIMEOUT_MS: '300', OMETRIA_PUSH_RPS: '1000' },
  };
  return { ...simulatorConnectionEnv(esp, url), ...fast[esp] };
}

export function settingsFor<K extends BuiltInEspName>(
  esp: K,
  url: string,
  env: Record<string, string> = {},
): EspSettingsByName[K] {
  return buildEspSettings({ ...FAST, ...simulatorEnv(esp, url), ...env })[esp];
}

/**
 * Builds the adapter through the registry, as production does. Its outcomes are the overall
 * ones (what most contract tests assert); `lastChannels` keeps each contact's per-channel
 * outcomes of the latest push, or pass `{ channels: true }` to get them (and `holder`) in the outcomes.
 */
export function adapterFor(
  esp: BuiltInEspName,
  url: string,
  env: Record<string, string> = {},
  opts: { channels?: boolean } = {},
): EspAdapter & { lastChannels: Map<string, PushOutcome['channels']> } {
  const settings = buildEspSettings({ ...FAST, ...simulatorEnv(esp, url), ...env });
  const adapter = createEspAdapters(BUILT_IN_ESPS, settings, silentLogger)[esp];
  if (!adapter) throw new Error(`${esp} adapter not enabled: ${settings[esp].disabledReason}`);
  const lastChannels = new Map<string, PushOutcome['channels']>();
  return {
    name: adapter.name,
    maxBatch: adapter.maxBatch,
    ...(adapter.bulk ? { bulk: adapter.bulk } : {}),
    lastChannels,
    async push(contacts, signal) {
      const outcomes = await adapter.push(contacts, signal);
      lastChannels.clear();
      if (opts.channels) {
        for (const [id, o] of outcomes) lastChannels.set(id, o.channels);
        return outcomes;
      }
      return new Map(
        // The overall outcome alone: per-channel outcomes and where the state is held are asserted with `{ channels: true }`.
        [...outcomes].map(([id, { channels, holder: _holder, ...overall }]) => {
          lastChannels.set(id, channels);
          return [id, overall as PushOutcome];
        }),
      );
    },
  };
}

export const MOMENT = '2025-05-31T10:20:30.000Z';

export function decided(state: 'opted_in' | 'opted_out', extra: Partial<ChannelState> = {}): ChannelState {
  return { state, authoritative: false, moment: MOMENT, source: 'preference_center', ...extra };
}

const UNKNOWN: ChannelState = { state: 'unknown', authoritative: false };

export function contact(
  id: string,
  identities: ContactSnapshot['identities'],
  marketing: Partial<Record<'email' | 'sms' | 'push', ChannelState>>,
  tracking: ChannelState = UNKNOWN,
): ContactSnapshot {
  return {
    contactId: id,
    version: 1,
    identities,
    marketing: { email: UNKNOWN, sms: UNKNOWN, push: UNKNOWN, ...marketing },
    tracking,
  };
}

export async function pushOne(adapter: EspAdapter, c: ContactSnapshot): Promise<PushOutcome | undefined> {
  return (await adapter.push([c])).get(c.contactId);
}

export async function pushError(adapter: EspAdapter, c: ContactSnapshot): Promise<EspError> {
  const err = await adapter.push([c]).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(EspError.is(err), `expected an EspError, got ${String(err)}`).toBe(true);
  return err as EspError;
}

interface MatrixSim {
  reset(): void;
  setFaults(script: { rules?: { method?: string; path: string; steps: Record<string, unknown>[] }[] }): void;
  requests(): { method: string; path: string; fault: boolean }[];
}

export interface MatrixTarget {
  sim: () => MatrixSim;
  adapter: (env?: Record<string, string>) => EspAdapter;
  /** A contact whose push makes exactly one request to `route`. */
  contact: ContactSnapshot;
  route: { method: string; path: string };
  /** ESPs whose 429 clears in seconds retry it inside the job (Actito, Ometria). */
  retries429Inline: boolean;
  /** Permanent statuses to check (an ESP may give 404 a meaning of its own). */
  permanent?: number[];
  /** Steps that must answer first on other routes (e.g. Actito's token) are not faulted. */
  prepare?: () => Promise<void>;
}

/**
 * The status matrix of reliability.md §7 C.14–16 against one adapter over real HTTP: transient
 * failures are retried and then applied, or surface as retryable / rate_limited EspErrors; 4xx are
 * dead letters; 401 is an auth failure.
 */
export function statusMatrix(t: MatrixTarget): void {
  const fault = (steps: Record<string, unknown>[]) =>
    t.sim().setFaults({ rules: [{ method: t.route.method, path: t.route.path, steps }] });
  const hits = () =>
    t
      .sim()
      .requests()
      .filter((r) => r.method === t.route.method && r.path.startsWith(t.route.path)).length;

  it.each([408, 425, 500, 502, 503, 504])(
    'HTTP %i once → retried in the job, then pushed',
    async (status) => {
      await t.prepare?.();
      fault([{ status }]);
      expect(await pushOne(t.adapter(), t.contact)).toEqual({ kind: 'pushed' });
      expect(hits()).toBe(2);
    },
  );

  it.each([408, 425, 500, 502, 503, 504])(
    'HTTP %i three times → EspError retryable after 3 attempts',
    async (status) => {
      await t.prepare?.();
      fault([{ status }, { status }, { status }]);
      expect(await pushError(t.adapter(), t.contact)).toMatchObject({ kind: 'retryable', status });
      expect(hits()).toBe(3);
    },
  );

  it('connection reset once → retried, then pushed; three times → retryable', async () => {
    await t.prepare?.();
    fault([{ reset: true }]);
    expect(await pushOne(t.adapter(), t.contact)).toEqual({ kind: 'pushed' });
    fault([{ reset: true }, { reset: true }, { reset: true }]);
    expect(await pushError(t.adapter(), t.contact)).toMatchObject({
      kind: 'retryable',
      message: expect.stringMatching(/network|ECONNRESET/),
    });
  });

  it('timeout (no answer within timeoutMs) → retryable', async () => {
    await t.prepare?.();
    fault([{ timeout: true }, { timeout: true }, { timeout: true }]);
    expect(await pushError(t.adapter(), t.contact)).toMatchObject({
      kind: 'retryable',
      message: expect.stringMatching(/timeout/),
    });
  });

  it('429 with Retry-After seconds beyond the in-job budget → rate_limited with the delay, no retry', async () => {
    await t.prepare?.();
    fault([{ status: 429, headers: { 'Retry-After': '7' } }]);
    expect(await pushError(t.adapter(), t.contact)).toMatchObject({
      kind: 'rate_limited',
      status: 429,
      retryAfterMs: 7_000,
    });
    expect(hits()).toBe(1);
  });

  it('429 with an HTTP-date 10 s ahead → rate_limited with ≈10 s', async () => {
    await t.prepare?.();
    fault([{ status: 429, headers: { 'Retry-After': new Date(Date.now() + 10_000).toUTCString() } }]);
    const err = await pushError(t.adapter(), t.contact);
    expect(err.kind).toBe('rate_limited');
    expect(err.retryAfterMs).toBeGreaterThanOrEqual(8_000);
    expect(err.retryAfterMs).toBeLessThanOrEqual(10_000);
  });

  it(`429 without Retry-After → ${t.retries429Inline ? 'retried in the job' : 'left to the queue (rate_limited)'}`, async () => {
    await t.prepare?.();
    fault([{ status: 429 }]);
    if (t.retries429Inline) {
      expect(await pushOne(t.adapter(), t.contact)).toEqual({ kind: 'pushed' });
      expect(hits()).toBe(2);
    } else {
      expect(await pushError(t.adapter(), t.contact)).toMatchObject({ kind: 'rate_limited', status: 429 });
      expect(hits()).toBe(1);
    }
  });

  it.each(t.permanent ?? [400, 404, 422])('HTTP %i → dead_letter, no retry', async (status) => {
    await t.prepare?.();
    fault([{ status, body: { error: 'rejected' } }]);
    expect(await pushOne(t.adapter(), t.contact)).toEqual({
      kind: 'dead_letter',
      reason: expect.stringContaining(`HTTP ${status}`),
    });
    expect(hits()).toBe(1);
  });

  it('HTTP 401 → EspError auth, no retry', async () => {
    await t.prepare?.();
    fault([{ status: 401 }, { status: 401 }]);
    expect(await pushError(t.adapter(), t.contact)).toMatchObject({ kind: 'auth', status: 401 });
  });
}

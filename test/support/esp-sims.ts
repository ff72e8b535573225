import { simulatorConnectionEnv } from '../../src/dev/simulator-env.js';
import { ESP_NAMES } from '../../src/esp/registry.js';
import type { BuiltInEspName } from '../../src/esp/registry.js';
import { startSimulators } from '../../src/simulators/index.js';

/** Fast failure handling for tests: short timeouts, generous rate limits, millisecond backoff. */
const FAST_ENV: Record<string, string> = {
  ESP_RETRY_BASE_MS: '5',
  ESP_RETRY_MAX_MS: '20',
  ESP_MAX_INLINE_WAIT_MS: '500',
  ESP_BACKOFF_MS: '50',
  OPTIMIZELY_TIMEOUT_MS: '1000',
  CROSSENGAGE_TIMEOUT_MS: '1000',
  ACTITO_TIMEOUT_MS: '1000',
  DY_TIMEOUT_MS: '1000',
  OMETRIA_TIMEOUT_MS: '1000',
  OPTIMIZELY_RPS: '1000',
  CROSSENGAGE_RPS: '1000',
  ACTITO_CALLS_PER_MINUTE: '100000',
  DY_RPS: '1000',
  OMETRIA_PUSH_RPS: '1000',
};

/**
 * The five simulators on random loopback ports, and the environment that points every ESP at them.
 * `documentedLimits`: the simulators enforce the ESPs' documented limits (Ometria 8 pushes/s,
 * Actito 100 calls/minute) instead of generous ones.
 */
export async function startEspSimulators(only: readonly BuiltInEspName[] = ESP_NAMES, opts: { documentedLimits?: boolean } = {}) {
  const options = opts.documentedLimits ? {} : { ometria: { pushRatePerSecond: 1_000 }, actito: { callsPerMinute: 100_000 } };
  const sims = await startSimulators({ basePort: 0, options } as Parameters<typeof startSimulators>[0]);
  const env: Record<string, string> = { ...FAST_ENV };
  for (const esp of only) Object.assign(env, simulatorConnectionEnv(esp, sims.urls[esp]));
  return { ...sims, env };
}

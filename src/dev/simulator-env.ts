import { BUILT_IN_ESPS, type EspModule, espModule } from '../esp/registry.js';
import type { EspName } from '../esp/types.js';

/**
 * Environment that points one ESP at a local simulator with the simulator's credentials —
 * what `npm run dev`, the demo and end-to-end tests use when no real credentials are set. Each
 * ESP's module says which variables (src/esp/<esp>/<esp>.module.ts).
 */
export function simulatorConnectionEnv(
  esp: EspName,
  url: string,
  esps: readonly EspModule[] = BUILT_IN_ESPS,
): Record<string, string> {
  const { simulator } = espModule(esps, esp);
  return simulator.connectionEnv(url, simulator.credentials);
}

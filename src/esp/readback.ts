/**
 * One read-back per enabled ESP, for reconciliation. The types and helpers every ESP's read-back
 * shares live in `readback-kit.ts` (re-exported here for the stages that use read-backs).
 */
import type { Logger } from 'pino';
import type { EspModule } from './kit/esp-module.js';
import type { EspReadBack } from './kit/readback-kit.js';
import type { EspSettings } from './kit/settings-kit.js';
import { settingsOf } from './registry.js';
import type { EspName } from './types.js';

export * from './kit/readback-kit.js';

/**
 * One read-back per enabled ESP (a disabled ESP has no entry, as in the adapter registry). Each has
 * its own HTTP client, pacer and concurrency cap, so a sweep never borrows the push path's budget.
 */
export function createEspReadBacks(
  esps: readonly EspModule[],
  settings: Readonly<Record<EspName, EspSettings>>,
  logger: Logger,
): Partial<Record<EspName, EspReadBack>> {
  const log = logger.child({ component: 'readback' });
  const out: Partial<Record<EspName, EspReadBack>> = {};
  for (const esp of esps) {
    const s = settingsOf(settings, esp.name);
    if (!s.enabled) continue;
    out[esp.name] = esp.createReadBack(s, log);
  }
  return out;
}

/**
 * One read-back per enabled ESP, for reconciliation. The types and helpers every ESP's read-back
 * shares live in `readback-kit.ts` (re-exported here for the stages that use read-backs).
 */
import type { Logger } from 'pino';
import type { EspSettingsByName } from '../../config/esps.js';
import { createActitoReadBack } from './actito/actito.readback.js';
import { createCrossEngageReadBack } from './crossengage/crossengage.readback.js';
import { createOmetriaReadBack } from './ometria/ometria.readback.js';
import { createOptimizelyCampaignReadBack } from './optimizely-campaign/optimizely-campaign.readback.js';
import { DYNAMIC_YIELD_NO_READBACK, type EspReadBack } from './kit/readback-kit.js';
import { ESP_NAMES, type EspName } from './types.js';

export * from './kit/readback-kit.js';

function createReadBack(settings: EspSettingsByName, esp: EspName, logger: Logger): EspReadBack {
  switch (esp) {
    case 'optimizely-campaign':
      return createOptimizelyCampaignReadBack(settings[esp], logger);
    case 'crossengage':
      return createCrossEngageReadBack(settings[esp], logger);
    case 'actito':
      return createActitoReadBack(settings[esp], logger);
    case 'dynamic-yield':
      return { kind: 'none', reason: DYNAMIC_YIELD_NO_READBACK };
    case 'ometria':
      return createOmetriaReadBack(settings[esp], logger);
  }
}

/**
 * One read-back per enabled ESP (a disabled ESP has no entry, as in the adapter registry). Each has
 * its own HTTP client, pacer and concurrency cap, so a sweep never borrows the push path's budget.
 */
export function createEspReadBacks(
  settings: EspSettingsByName,
  logger: Logger,
): Partial<Record<EspName, EspReadBack>> {
  const log = logger.child({ component: 'readback' });
  const out: Partial<Record<EspName, EspReadBack>> = {};
  for (const esp of ESP_NAMES) {
    const s = settings[esp];
    if (s.esp !== esp) throw new Error(`ESP settings under "${esp}" are for "${s.esp}"`);
    if (!s.enabled) continue;
    out[esp] = createReadBack(settings, esp, log);
  }
  return out;
}

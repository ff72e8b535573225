import type { Logger } from 'pino';
import type { EspSettings } from '../../config/esps.js';
import type { PacerFactory } from './kit/concurrency.js';
import { createActitoAdapter } from './actito/actito.adapter.js';
import { createCrossEngageAdapter } from './crossengage/crossengage.adapter.js';
import { createDynamicYieldAdapter } from './dynamic-yield/dynamic-yield.adapter.js';
import { createOmetriaAdapter } from './ometria/ometria.adapter.js';
import { createOptimizelyCampaignAdapter } from './optimizely-campaign/optimizely-campaign.adapter.js';
import { ESP_NAMES, type EspAdapter, type EspName } from './types.js';

function createAdapter(settings: EspSettings, logger: Logger, pacers: PacerFactory | undefined): EspAdapter {
  switch (settings.esp) {
    case 'optimizely-campaign':
      return createOptimizelyCampaignAdapter(settings, logger, pacers);
    case 'crossengage':
      return createCrossEngageAdapter(settings, logger, pacers);
    case 'actito':
      return createActitoAdapter(settings, logger, Date.now, pacers);
    case 'dynamic-yield':
      return createDynamicYieldAdapter(settings, logger, pacers);
    case 'ometria':
      return createOmetriaAdapter(settings, logger, pacers);
  }
}

/**
 * One adapter per enabled ESP. A disabled ESP (credentials absent) is logged with its reason and
 * left out, so the engine creates no queue work for it. `pacers` says where each ESP's rate window
 * lives (default: in this process).
 */
export function createEspAdapters(
  settings: Record<EspName, EspSettings>,
  logger: Logger,
  pacers?: PacerFactory,
): Partial<Record<EspName, EspAdapter>> {
  const adapters: Partial<Record<EspName, EspAdapter>> = {};
  for (const name of ESP_NAMES) {
    const s = settings[name];
    if (s.esp !== name) throw new Error(`ESP settings under "${name}" are for "${s.esp}"`);
    if (!s.enabled) {
      logger.info({ esp: name, reason: s.disabledReason }, 'esp disabled');
      continue;
    }
    adapters[name] = createAdapter(s, logger, pacers);
  }
  return adapters;
}

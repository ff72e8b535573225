import type { Logger } from 'pino';
import { actito } from './actito/actito.module.js';
import { crossengage } from './crossengage/crossengage.module.js';
import { dynamicYield } from './dynamic-yield/dynamic-yield.module.js';
import type { PacerFactory } from './kit/concurrency.js';
import type { EspModule } from './kit/esp-module.js';
import type { EspSettings } from './kit/settings-kit.js';
import { ometria } from './ometria/ometria.module.js';
import { optimizelyCampaign } from './optimizely-campaign/optimizely-campaign.module.js';
import type { EspAdapter, EspName } from './types.js';

export type { EspModule } from './kit/esp-module.js';

/**
 * THE list of ESPs this release ships, in the README's order: one line per ESP. Adding one = its
 * folder under src/esp/ exporting an EspModule, and a line here. Everything else (configuration,
 * queues, metrics, webhooks, reconciliation, simulators) iterates the configured list, which is
 * this one unless a caller (a test) passes another to loadConfig.
 */
export const BUILT_IN_ESPS = [
  optimizelyCampaign,
  crossengage,
  actito,
  dynamicYield,
  ometria,
] as const satisfies readonly EspModule[];

export type BuiltInEspName = (typeof BUILT_IN_ESPS)[number]['name'];

/** The built-in ESPs' names, in the README's order. */
export const ESP_NAMES: readonly BuiltInEspName[] = Object.freeze(BUILT_IN_ESPS.map((m) => m.name));

/** The module of `name` in `esps`; throws naming the configured ones when there is none. */
export function espModule(esps: readonly EspModule[], name: EspName): EspModule {
  const found = esps.find((m) => m.name === name);
  if (!found) throw new Error(`no ESP module named "${name}" (configured: ${esps.map((m) => m.name).join(', ')})`);
  return found;
}

/**
 * One adapter per enabled ESP. A disabled ESP (credentials absent) is logged with its reason and
 * left out, so the engine creates no queue work for it. `pacers` says where each ESP's rate window
 * lives (default: in this process).
 */
export function createEspAdapters(
  esps: readonly EspModule[],
  settings: Readonly<Record<EspName, EspSettings>>,
  logger: Logger,
  pacers?: PacerFactory,
): Partial<Record<EspName, EspAdapter>> {
  const adapters: Partial<Record<EspName, EspAdapter>> = {};
  for (const esp of esps) {
    const s = settingsOf(settings, esp.name);
    if (!s.enabled) {
      logger.info({ esp: esp.name, reason: s.disabledReason }, 'esp disabled');
      continue;
    }
    adapters[esp.name] = esp.createAdapter(s, logger, pacers);
  }
  return adapters;
}

/** The settings under `name`, checked to be that ESP's. */
export function settingsOf(settings: Readonly<Record<EspName, EspSettings>>, name: EspName): EspSettings {
  const s = settings[name];
  if (s === undefined) throw new Error(`no settings for ESP "${name}"`);
  if (s.esp !== name) throw new Error(`ESP settings under "${name}" are for "${s.esp}"`);
  return s;
}

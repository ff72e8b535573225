import type { EspModule } from '../kit/esp-module.js';
import { createDynamicYieldAdapter } from './dynamic-yield.adapter.js';
import { buildDynamicYieldSettings, type DynamicYieldSettings, dynamicYieldEnvSchema } from './dynamic-yield.settings.js';
import type { DynamicYieldOptions, DynamicYieldSimCredentials } from './simulator/dynamic-yield.options.js';
import { createDynamicYieldSimulator } from './simulator/dynamic-yield.simulator.js';

/** esp-contracts.md §4.4: no read-back API for Reconnect opt-in or opt-out status was found. */
export const DYNAMIC_YIELD_NO_READBACK =
  'Dynamic Yield has no read-back API for opt-in/opt-out status (esp-contracts.md §4.4); its state is re-asserted from ours';

/** Dynamic Yield (esp-contracts.md §4): what the app needs to know of it. */
export const dynamicYield: EspModule<DynamicYieldSettings, DynamicYieldSimCredentials, DynamicYieldOptions> = {
  name: 'dynamic-yield',
  label: 'Dynamic Yield',
  envSchema: dynamicYieldEnvSchema,
  buildSettings: buildDynamicYieldSettings,
  laneReserveVariable: 'DY_FIRST_LANE_RESERVE',
  // Without a read-back its reconciliation re-asserts every contact: weekly rather than nightly.
  reconcileCron: {
    variable: 'RECONCILE_CRON_DYNAMIC_YIELD',
    defaultPattern: '0 4 * * 0',
    description: 'When Dynamic Yield (no read-back: our state is re-asserted) is reconciled; slower by default.',
  },
  createAdapter: createDynamicYieldAdapter,
  createReadBack: () => ({ kind: 'none', reason: DYNAMIC_YIELD_NO_READBACK }),
  simulator: {
    credentials: { apiKey: 'sim-dy-server-key', clientApiKey: 'sim-dy-client-key' },
    create: createDynamicYieldSimulator,
    connectionEnv: (url, c) => ({ DY_BASE_URL: url, DY_API_KEY: c.apiKey }),
    realCredentialVariable: 'DY_BASE_URL',
    describeCredentials: (c) => `DY-API-Key: ${c.apiKey}`,
    // SMS consent is keyed by phone number, the rest by email.
    recipientKey: ({ email, phone }, channel) => (channel === 'sms' ? phone : email),
  },
};

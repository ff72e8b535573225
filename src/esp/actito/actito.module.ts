import type { EspModule } from '../kit/esp-module.js';
import { createActitoAdapter } from './actito.adapter.js';
import { createActitoReadBack } from './actito.readback.js';
import { type ActitoSettings, actitoEnvSchema, buildActitoSettings } from './actito.settings.js';
import { actitoWebhook } from './actito.webhook.js';
import { ACTITO_SIM_SUBSCRIPTIONS, type ActitoOptions, type ActitoSimCredentials } from './simulator/actito.options.js';
import { createActitoSimulator } from './simulator/actito.simulator.js';

/** Actito (esp-contracts.md §3): what the app needs to know of it. */
export const actito: EspModule<ActitoSettings, ActitoSimCredentials, ActitoOptions> = {
  name: 'actito',
  label: 'Actito',
  envSchema: actitoEnvSchema,
  buildSettings: buildActitoSettings,
  laneReserveVariable: 'ACTITO_FIRST_LANE_RESERVE',
  createAdapter: (settings, logger, pacers) => createActitoAdapter(settings, logger, Date.now, pacers),
  createReadBack: (settings, logger) => createActitoReadBack(settings, logger),
  webhook: actitoWebhook,
  simulator: {
    credentials: { apiKey: 'sim-actito-api-key', entity: 'sim', profileTable: 'contacts' },
    create: createActitoSimulator,
    connectionEnv: (url, c) => ({
      ACTITO_BASE_URL: url,
      ACTITO_API_KEY: c.apiKey,
      ACTITO_ENTITY: c.entity,
      ACTITO_TABLE: c.profileTable,
      // The simulator's subscriptions: email (beside marketingConsent) and SMS, as a configured account has.
      ACTITO_SUBSCRIPTIONS: Object.entries(ACTITO_SIM_SUBSCRIPTIONS)
        .map(([channel, name]) => `${channel}:${name}`)
        .join(','),
    }),
    realCredentialVariable: 'ACTITO_BASE_URL',
    describeCredentials: (c) =>
      `GET /auth/token with Authorization: ${c.apiKey}; /v4/entity/${c.entity}/table/${c.profileTable}/profile`,
  },
};

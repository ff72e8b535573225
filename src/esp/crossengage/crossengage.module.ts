import type { EspModule } from '../kit/esp-module.js';
import { createCrossEngageAdapter } from './crossengage.adapter.js';
import { createCrossEngageReadBack } from './crossengage.readback.js';
import { buildCrossEngageSettings, type CrossEngageSettings, crossEngageEnvSchema } from './crossengage.settings.js';
import { genericWebhook } from './crossengage.webhook.js';
import type { CrossEngageOptions, CrossEngageSimCredentials } from './simulator/crossengage.options.js';
import { createCrossEngageSimulator } from './simulator/crossengage.simulator.js';

/** CrossEngage (esp-contracts.md §2): what the app needs to know of it. */
export const crossengage: EspModule<CrossEngageSettings, CrossEngageSimCredentials, CrossEngageOptions> = {
  name: 'crossengage',
  label: 'CrossEngage',
  envSchema: crossEngageEnvSchema,
  buildSettings: buildCrossEngageSettings,
  laneReserveVariable: 'CROSSENGAGE_FIRST_LANE_RESERVE',
  createAdapter: createCrossEngageAdapter,
  createReadBack: (settings, logger) => createCrossEngageReadBack(settings, logger),
  webhook: genericWebhook,
  simulator: {
    credentials: { authToken: 'sim-crossengage-master-key' },
    create: createCrossEngageSimulator,
    connectionEnv: (url, c) => ({ CROSSENGAGE_BASE_URL: url, CROSSENGAGE_API_KEY: c.authToken }),
    realCredentialVariable: 'CROSSENGAGE_BASE_URL',
    describeCredentials: (c) => `X-XNG-AuthToken: ${c.authToken}; X-XNG-ApiVersion: 1|2`,
    // Users by externalId, leads by their business unit and email; only opt-outs are held.
    recipientKey: ({ externalId, email, businessUnit }) =>
      externalId ?? (email ? `lead:${businessUnit ?? ''}:${email}` : undefined),
    absentReadsAs: 'opted_in',
  },
};

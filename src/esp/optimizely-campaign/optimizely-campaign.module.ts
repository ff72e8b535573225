import type { EspModule } from '../kit/esp-module.js';
import { createOptimizelyCampaignAdapter } from './optimizely-campaign.adapter.js';
import { createOptimizelyCampaignReadBack } from './optimizely-campaign.readback.js';
import {
  buildOptimizelyCampaignSettings,
  type OptimizelyCampaignSettings,
  optimizelyCampaignEnvSchema,
} from './optimizely-campaign.settings.js';
import { optimizelyWebhook } from './optimizely-campaign.webhook.js';
import type { OptimizelyCampaignOptions, OptimizelyCampaignSimCredentials } from './simulator/optimizely-campaign.options.js';
import { createOptimizelyCampaignSimulator } from './simulator/optimizely-campaign.simulator.js';

/** Optimizely Campaign (esp-contracts.md §1): what the app needs to know of it. */
export const optimizelyCampaign: EspModule<
  OptimizelyCampaignSettings,
  OptimizelyCampaignSimCredentials,
  OptimizelyCampaignOptions
> = {
  name: 'optimizely-campaign',
  label: 'Optimizely Campaign',
  envSchema: optimizelyCampaignEnvSchema,
  buildSettings: buildOptimizelyCampaignSettings,
  laneReserveVariable: 'OPTIMIZELY_FIRST_LANE_RESERVE',
  createAdapter: createOptimizelyCampaignAdapter,
  createReadBack: createOptimizelyCampaignReadBack,
  webhook: optimizelyWebhook,
  simulator: {
    credentials: {
      clientId: '200100',
      apiUser: 'sim-api-user',
      apiPassword: 'sim-api-password',
      formAuthCode: 'SIMFORM01',
      recipientListId: '100200300',
    },
    create: createOptimizelyCampaignSimulator,
    connectionEnv: (url, c) => ({
      OPTIMIZELY_BASE_URL: url,
      OPTIMIZELY_CLIENT_ID: c.clientId,
      OPTIMIZELY_API_USER: c.apiUser,
      OPTIMIZELY_API_PASSWORD: c.apiPassword,
      OPTIMIZELY_FORM_AUTH_CODE: c.formAuthCode,
    }),
    realCredentialVariable: 'OPTIMIZELY_BASE_URL',
    // Its state is the opt-out list, keyed by recipient id (the email).
    absentReadsAs: 'opted_in',
    describeCredentials: (c) =>
      `REST Basic ${c.apiUser}:${c.apiPassword} at /rest/${c.clientId}; HTTP API /http/form/${c.formAuthCode}/<op> (list ${c.recipientListId})`,
  },
};

import type { EspModule } from '../kit/esp-module.js';
import { createOmetriaAdapter } from './ometria.adapter.js';
import { createOmetriaReadBack } from './ometria.readback.js';
import { buildOmetriaSettings, type OmetriaSettings, ometriaEnvSchema } from './ometria.settings.js';
import type { OmetriaOptions, OmetriaSimCredentials } from './simulator/ometria.options.js';
import { createOmetriaSimulator } from './simulator/ometria.simulator.js';

/** Ometria (esp-contracts.md §5): what the app needs to know of it. */
export const ometria: EspModule<OmetriaSettings, OmetriaSimCredentials, OmetriaOptions> = {
  name: 'ometria',
  label: 'Ometria',
  envSchema: ometriaEnvSchema,
  buildSettings: buildOmetriaSettings,
  laneReserveVariable: 'OMETRIA_FIRST_LANE_RESERVE',
  createAdapter: createOmetriaAdapter,
  createReadBack: (settings, logger) => createOmetriaReadBack(settings, logger),
  simulator: {
    credentials: { apiKey: 'sim-ometria-api-key' },
    create: createOmetriaSimulator,
    connectionEnv: (url, c) => ({ OMETRIA_BASE_URL: url, OMETRIA_API_KEY: c.apiKey }),
    realCredentialVariable: 'OMETRIA_BASE_URL',
    describeCredentials: (c) => `X-Ometria-Auth: ${c.apiKey}`,
  },
};

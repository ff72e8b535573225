import type { EspName } from '../esp/types.js';
import { ACTITO_SIM_SUBSCRIPTIONS, simulatorCredentials } from '../simulators/index.js';

/**
 * Environment that points one ESP at a local simulator with the simulator's credentials —
 * what `npm run dev`, the demo and end-to-end tests use when no real credentials are set.
 */
export function simulatorConnectionEnv(esp: EspName, url: string): Record<string, string> {
  const c = simulatorCredentials;
  switch (esp) {
    case 'optimizely-campaign':
      return {
        OPTIMIZELY_BASE_URL: url,
        OPTIMIZELY_CLIENT_ID: c[esp].clientId,
        OPTIMIZELY_API_USER: c[esp].apiUser,
        OPTIMIZELY_API_PASSWORD: c[esp].apiPassword,
        OPTIMIZELY_FORM_AUTH_CODE: c[esp].formAuthCode,
      };
    case 'crossengage':
      return { CROSSENGAGE_BASE_URL: url, CROSSENGAGE_API_KEY: c[esp].authToken };
    case 'actito':
      return {
        ACTITO_BASE_URL: url,
        ACTITO_API_KEY: c[esp].apiKey,
        ACTITO_ENTITY: c[esp].entity,
        ACTITO_TABLE: c[esp].profileTable,
        // The simulator's subscriptions: email (beside marketingConsent) and SMS, as a configured account has.
        ACTITO_SUBSCRIPTIONS: Object.entries(ACTITO_SIM_SUBSCRIPTIONS)
          .map(([channel, name]) => `${channel}:${name}`)
          .join(','),
      };
    case 'dynamic-yield':
      return { DY_BASE_URL: url, DY_API_KEY: c[esp].apiKey };
    case 'ometria':
      return { OMETRIA_BASE_URL: url, OMETRIA_API_KEY: c[esp].apiKey };
  }
}

/** Variables that, when set, mean real credentials for that ESP are configured. */
export const REAL_CREDENTIAL_VARS: Record<EspName, string> = {
  'optimizely-campaign': 'OPTIMIZELY_BASE_URL',
  crossengage: 'CROSSENGAGE_BASE_URL',
  actito: 'ACTITO_BASE_URL',
  'dynamic-yield': 'DY_BASE_URL',
  ometria: 'OMETRIA_BASE_URL',
};

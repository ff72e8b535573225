/**
 * Credentials the simulators accept. The defaults are public, fake and stable so that dev, demo and tests can
 * point adapters at the simulators without configuration. Override per ESP with `startSimulator(name, {
 * credentials: { <esp>: { ... } } })`.
 */
import type { EspName } from './core/types.js';

export interface SimCredentials {
  'optimizely-campaign': {
    /** REST API: `/rest/{clientId}/...` (esp-contracts.md §1.2). */
    clientId: string;
    /** REST API Basic auth user and password (§1.2). */
    apiUser: string;
    apiPassword: string;
    /** HTTP API form-service authorization code, bound to `recipientListId` (§1.1). */
    formAuthCode: string;
    /** The recipient list the form code is bound to, and the list REST writes default to. */
    recipientListId: string;
  };
  crossengage: {
    /** `X-XNG-AuthToken` master API key (§2). */
    authToken: string;
  };
  actito: {
    /** Raw API key for `GET /auth/token` (`Authorization: <key>`, no scheme) (§3.1). */
    apiKey: string;
    /** Licence entity and profile table of the V4 paths (§3.3). */
    entity: string;
    profileTable: string;
  };
  'dynamic-yield': {
    /** Server-side key (`DY-API-Key`), accepted on the standard host (§4.1). */
    apiKey: string;
    /** Client-side key, accepted only when the simulator plays the `direct` host (§4.1). */
    clientApiKey: string;
  };
  ometria: {
    /** `X-Ometria-Auth` (§5.1). */
    apiKey: string;
  };
}

/** Per-ESP partial overrides of the default credentials. */
export type SimCredentialsOverride = { [K in EspName]?: Partial<SimCredentials[K]> };

/** The default credentials each simulator accepts (dev, demo and tests use these). */
export const simulatorCredentials: SimCredentials = {
  'optimizely-campaign': {
    clientId: '200100',
    apiUser: 'sim-api-user',
    apiPassword: 'sim-api-password',
    formAuthCode: 'SIMFORM01',
    recipientListId: '100200300',
  },
  crossengage: { authToken: 'sim-crossengage-master-key' },
  actito: { apiKey: 'sim-actito-api-key', entity: 'sim', profileTable: 'contacts' },
  'dynamic-yield': { apiKey: 'sim-dy-server-key', clientApiKey: 'sim-dy-client-key' },
  ometria: { apiKey: 'sim-ometria-api-key' },
};

/** Default credentials of one ESP merged with an override. */
export function credentialsFor<K extends EspName>(
  name: K,
  override?: SimCredentialsOverride,
): SimCredentials[K] {
  return { ...simulatorCredentials[name], ...(override?.[name] ?? {}) } as SimCredentials[K];
}

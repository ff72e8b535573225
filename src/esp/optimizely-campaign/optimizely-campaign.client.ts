import type { Logger } from 'pino';
import type { PacerFactory } from '../kit/concurrency.js';
import { type AdapterKit, createAdapterKit, deadLetterOrThrow, statusOf } from '../kit/adapter-kit.js';
import { basicAuth } from '../kit/http/client.js';
import { EspError } from '../kit/http/errors.js';
import { PUSHED } from '../kit/outcome.js';
import type { PushOutcome } from '../types.js';
import { type HttpOperation, parseToken, tokenResult } from './optimizely-campaign.mapping.js';
import type { OptimizelyCampaignSettings } from './optimizely-campaign.settings.js';

/**
 * What every Optimizely Campaign request shares: the adapter kit (pacing, concurrency, retries),
 * the REST base path and Basic auth, the recipient list, and how an answer becomes an outcome
 * (HTTP API tokens; REST statuses that are outcomes rather than failures).
 */
export interface OptimizelyClient {
  settings: OptimizelyCampaignSettings;
  kit: AdapterKit;
  /** `/rest/<clientId>`. */
  restBase: string;
  restHeaders: Record<string, string>;
  /** `{recipientListId}` when OPTIMIZELY_RECIPIENT_LIST_ID is set, else `{}`. */
  listParam: Record<string, string>;
  /** An HTTP API (form service) call; its plain-text token decides the outcome. */
  httpApi(
    operation: HttpOperation,
    params: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<PushOutcome>;
  /** A REST call whose listed statuses are outcomes rather than failures. */
  restCall(
    operation: string,
    signal: AbortSignal | undefined,
    send: () => Promise<unknown>,
    special?: Record<number, PushOutcome>,
  ): Promise<PushOutcome>;
}

export function createOptimizelyClient(
  settings: OptimizelyCampaignSettings,
  logger: Logger,
  pacers?: PacerFactory,
): OptimizelyClient {
  const { rest: restCredentials, formAuthCode } = settings.credentials;
  const kit = createAdapterKit(settings, logger, {
    secrets: formAuthCode ? [formAuthCode] : [],
    ...(pacers ? { pacers } : {}),
  });
  const restBase = `/rest/${encodeURIComponent(restCredentials?.clientId ?? '')}`;
  const restHeaders: Record<string, string> = restCredentials
    ? { Authorization: basicAuth(restCredentials.apiUser, restCredentials.apiPassword) }
    : {};
  const listParam: Record<string, string> = settings.recipientListId
    ? { recipientListId: settings.recipientListId }
    : {};

  async function httpApi(
    operation: HttpOperation,
    params: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<PushOutcome> {
    const path = `/http/form/${encodeURIComponent(formAuthCode ?? '')}/${operation}`;
    return kit.call(operation, signal, async () => {
      const res =
        settings.httpMethod === 'POST'
          ? await kit.http.post(path, new URLSearchParams(params), { responseType: 'text', signal })
          : await kit.http.get(path, { params, responseType: 'text', signal });
      const result = tokenResult(operation, parseToken(res.data), settings);
      if ('error' in result)
        throw new EspError('optimizely-campaign', result.error.kind, result.error.reason, {
          status: res.status,
        });
      return result.outcome;
    });
  }

  async function restCall(
    operation: string,
    signal: AbortSignal | undefined,
    send: () => Promise<unknown>,
    special: Record<number, PushOutcome> = {},
  ): Promise<PushOutcome> {
    try {
      await kit.call(operation, signal, send, Object.keys(special).map(Number));
      return PUSHED;
    } catch (err) {
      const status = statusOf(err);
      if (status !== undefined && special[status]) return special[status];
      return deadLetterOrThrow(err);
    }
  }

  return { settings, kit, restBase, restHeaders, listParam, httpApi, restCall };
}

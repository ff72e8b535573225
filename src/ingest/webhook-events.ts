import type { EspName } from '../esp/types.js';
import { type ActitoWebhookSettings, parseActitoWebhook } from '../esp/actito/actito.webhook.js';
import { type GenericWebhookSettings, parseGenericWebhook } from '../esp/crossengage/crossengage.webhook.js';
import {
  type OptimizelyWebhookSettings,
  parseOptimizelyWebhook,
} from '../esp/optimizely-campaign/optimizely-campaign.webhook.js';
import type { WebhookParser } from '../esp/kit/webhook-kit.js';

/**
 * ESP webhook payloads → opt_out consent events (product.md §4 last paragraph): which ESP's parser
 * reads a delivery. Each ESP's parser is in its folder (src/esp/<esp>/<esp>.webhook.ts); the rules
 * they share (only unsubscribes become events, deterministic eventIds, how problems are named) and
 * the helpers they use are in src/esp/kit/webhook-kit.ts.
 */

export {
  type IgnoreReason,
  type Problem,
  type WebhookItem,
  WebhookPayloadError,
} from '../esp/kit/webhook-kit.js';

/** What every parser reads: the canonical channels, the batch limit and each ESP's own settings. */
export type WebhookParseSettings = OptimizelyWebhookSettings & ActitoWebhookSettings & GenericWebhookSettings;

/**
 * The ESPs that send us webhooks, each with its parser. CrossEngage's format is the generic one
 * (`POST /v1/webhooks/generic`), which WEBHOOK_GENERIC_ESP may point at another sender.
 */
export const WEBHOOK_PARSERS = {
  'optimizely-campaign': parseOptimizelyWebhook,
  actito: parseActitoWebhook,
  crossengage: parseGenericWebhook,
} as const satisfies Partial<Record<EspName, WebhookParser<WebhookParseSettings>>>;

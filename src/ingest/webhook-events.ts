/**
 * ESP webhook payloads → opt_out consent events (product.md §4 last paragraph). Each ESP's parser
 * is in its folder (src/esp/<esp>/<esp>.webhook.ts) and its module says which endpoint it serves;
 * the rules they share (only unsubscribes become events, deterministic eventIds, how problems are
 * named) and the helpers they use are in src/esp/kit/webhook-kit.ts.
 */

export {
  type IgnoreReason,
  type Problem,
  type WebhookBaseSettings,
  type WebhookItem,
  WebhookPayloadError,
} from '../esp/kit/webhook-kit.js';

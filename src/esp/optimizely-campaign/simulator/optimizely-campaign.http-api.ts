/**
 * Optimizely Campaign HTTP API (form and mail service), esp-contracts.md §1.1:
 *   GET|POST /http/{form|mail}/{authCode}/{operation}?params   (POST: form-encoded body, merged with the query)
 * Answers `httpApiStatus` (200) `text/plain` with a result token; bmUrl / bmSuccessUrl / bmFailureUrl redirect with
 * `bmResult=<token>` appended. Implemented operations: nop, unsubscribe, subscribe, createtrackingoptout,
 * deletetrackingoptout, blacklist, unblacklist (form only), remove. Any other operation → `wrong_tag` 507.
 * The simulator also sends `X-Sim-Wrong-Tag-Code: 50x` with every `wrong_tag` (simulator-only header).
 */
import { text } from '../../../simulators/core/reply.js';
import type { Router } from '../../../simulators/core/router.js';
import type { SimReply, SimRequest } from '../../../simulators/core/types.js';
import type { ResolvedOptimizelyOptions } from './optimizely-campaign.options.js';
import type { OptimizelyState, UnsubscribeEntry } from './optimizely-campaign.state.js';

export interface HttpApiDeps {
  state: OptimizelyState;
  opts: ResolvedOptimizelyOptions;
  now(): Date;
  /** Called after an HTTP API unsubscribe created an entry (webhooks). */
  onUnsubscribe(entry: UnsubscribeEntry): void;
}

const FORM_ONLY = new Set(['blacklist', 'unblacklist']);
const OPERATIONS = new Set([
  'nop',
  'unsubscribe',
  'subscribe',
  'createtrackingoptout',
  'deletetrackingoptout',
  'blacklist',
  'unblacklist',
  'remove',
]);

/** The caller context resolved from the path's code. */
interface Caller {
  service: 'form' | 'mail';
  recipientListId: string;
  trackingOptOutEnabled: boolean;
  /** Mail service: the recipient and mailing the mail id stands for. */
  mailRecipientId?: string;
  mailingId?: string;
}

type Outcome = { token: string; wrongTagCode?: number };

export function registerHttpApi(router: Router, deps: HttpApiDeps): void {
  router.add('*', '/http/:service/:code/:op', (req) => handle(req, deps));
}

function handle(req: SimRequest, deps: HttpApiDeps): SimReply {
  const params = new URLSearchParams(req.query);
  if (req.method === 'POST') for (const [k, v] of req.form()) params.append(k, v);
  const outcome = run(req, params, deps);
  return reply(outcome, params, deps.opts);
}

function reply(outcome: Outcome, params: URLSearchParams, opts: ResolvedOptimizelyOptions): SimReply {
  const { token, wrongTagCode } = outcome;
  const headers: Record<string, string> = wrongTagCode
    ? { 'x-sim-wrong-tag-code': String(wrongTagCode) }
    : {};
  const success = token.startsWith('ok');
  const redirect = params.get('bmUrl') ?? (success ? params.get('bmSuccessUrl') : params.get('bmFailureUrl'));
  if (redirect) {
    const sep = redirect.includes('?') ? '&' : '?';
    return {
      status: 302,
      headers: { ...headers, location: `${redirect}${sep}bmResult=${encodeURIComponent(token)}` },
    };
  }
  const body = wrongTagCode && opts.wrongTagFormat === 'with-code' ? `${token}: ${wrongTagCode}` : token;
  return text(opts.httpApiStatus, body, opts.httpApiContentType, headers);
}

const wrongTag = (code: number): Outcome => ({ token: 'wrong_tag', wrongTagCode: code });

function callerIp(req: SimRequest, trustForwarded: boolean): string {
  const forwarded = trustForwarded ? req.header('x-forwarded-for')?.split(',')[0]?.trim() : undefined;
  return (forwarded || req.remoteAddress).replace(/^::ffff:/, '');
}

function resolveCaller(req: SimRequest, deps: HttpApiDeps): Caller | Outcome {
  const { opts } = deps;
  const service = req.param('service');
  const code = req.param('code');
  if (service === 'form') {
    const cfg = opts.authCodes[code];
    if (!cfg) return wrongTag(501);
    const proto = opts.trustForwardedHeaders ? (req.header('x-forwarded-proto') ?? 'http') : 'http';
    if (cfg.requireSsl && proto !== 'https') return wrongTag(504);
    if (cfg.allowedIps && !cfg.allowedIps.includes(callerIp(req, opts.trustForwardedHeaders)))
      return wrongTag(502);
    if (!opts.recipientLists.includes(cfg.recipientListId)) return wrongTag(505);
    return {
      service,
      recipientListId: cfg.recipientListId,
      trackingOptOutEnabled: cfg.trackingOptOutEnabled ?? opts.trackingOptOutEnabled,
    };
  }
  if (service === 'mail') {
    const mail = opts.mailIds[code];
    if (!mail) return wrongTag(501);
    const listId = mail.recipientListId ?? opts.recipientLists[0] ?? '';
    if (!opts.recipientLists.includes(listId)) return wrongTag(505);
    const caller: Caller = {
      service,
      recipientListId: listId,
      trackingOptOutEnabled: opts.trackingOptOutEnabled,
      mailRecipientId: mail.recipientId,
    };
    if (mail.mailingId) caller.mailingId = mail.mailingId;
    return caller;
  }
  return wrongTag(506);
}

function run(req: SimRequest, params: URLSearchParams, deps: HttpApiDeps): Outcome {
  if (req.method !== 'GET' && req.method !== 'POST') return wrongTag(503);
  const caller = resolveCaller(req, deps);
  if ('token' in caller) return caller;
  const op = req.param('op');
  if (!OPERATIONS.has(op)) return wrongTag(507);
  if (FORM_ONLY.has(op) && caller.service !== 'form') return wrongTag(506);
  const verbose = params.get('bmVerbose') === 'true';
  const recipientId = params.get('bmRecipientId') ?? caller.mailRecipientId;
  const { state, opts } = deps;
  const now = deps.now();

  switch (op) {
    case 'nop':
      return { token: 'ok' };
    case 'blacklist':
    case 'unblacklist': {
      const pattern = params.get('bmPattern');
      // INFERENCE: a missing bmPattern answers like a missing id (§1.1 lists no dedicated token).
      if (!pattern) return { token: 'missing_id' };
      if (op === 'unblacklist') {
        state.removeBlacklist(pattern);
        return { token: 'ok' };
      }
      const { created } = state.addBlacklist(pattern, params.get('bmReason') ?? 'http-api', now);
      return { token: !created && verbose ? 'ok: already_blacklisted' : 'ok' };
    }
    default:
      break;
  }
  if (!recipientId) return { token: 'missing_id' };

  switch (op) {
    case 'unsubscribe': {
      const { entry, created } = state.addUnsubscribe({
        recipientId,
        recipientListId: caller.recipientListId,
        mailingId: params.get('bmMailId') ?? caller.mailingId ?? null,
        reason: 'http-api',
        created: now,
        mediaType: opts.httpUnsubscribeMediaType,
        origin: 'http-api',
      });
      if (created) deps.onUnsubscribe(entry);
      if (params.get('bmRemoveId') === 'true') {
        const removed = state.removeFromAllLists(recipientId);
        if (removed === 0 && verbose) return { token: 'ok: not_found' };
      }
      return { token: !created && verbose ? 'ok: already_unsubscribed' : 'ok' };
    }
    case 'subscribe':
      return subscribe(recipientId, params, caller, deps, now);
    case 'createtrackingoptout':
    case 'deletetrackingoptout':
      if (!caller.trackingOptOutEnabled) return { token: 'vetoed' };
      if (op === 'createtrackingoptout') state.trackingOptOuts.set(recipientId, now);
      else {
        state.trackingOptOuts.delete(recipientId);
        state.touch(recipientId, 'tracking');
      }
      return { token: 'ok' };
    case 'remove': {
      const removed = state.removeRecipient(caller.recipientListId, recipientId);
      return { token: !removed && verbose ? 'ok: not_found' : 'ok' };
    }
    default:
      return wrongTag(507);
  }
}

function subscribe(
  recipientId: string,
  params: URLSearchParams,
  caller: Caller,
  deps: HttpApiDeps,
  now: Date,
): Outcome {
  const { state, opts } = deps;
  const listId = caller.recipientListId;
  const fields: Record<string, string> = {};
  for (const [k, v] of params) if (!k.startsWith('bm')) fields[k] = v;
  const address = fields['email'] ?? fields['address'] ?? null;
  if (state.isBlacklisted(recipientId) || (address && state.isBlacklisted(address)))
    return { token: 'blacklisted' };
  const existing = state.recipient(listId, recipientId);
  const optInId = params.get('bmOptInId');
  const unsubscribed = state.isUnsubscribed(recipientId, 'EMAIL', listId);
  const put = (optinStatus: 'confirmed' | 'non_confirmed'): void =>
    state.putRecipient({
      recipientId,
      recipientListId: listId,
      address: address ?? existing?.address ?? null,
      fields: { ...(existing?.fields ?? {}), ...fields },
      optinStatus,
      optInProcessId: optInId ?? existing?.optInProcessId ?? null,
      created: existing?.created ?? now,
      modified: now,
    });

  if (optInId && (existing?.optinStatus !== 'confirmed' || unsubscribed)) {
    put('non_confirmed'); // opt-in process (re)started; confirm with POST /__sim/confirm-optin
    return { token: 'ok' };
  }
  if (!optInId && unsubscribed) {
    if (opts.subscribeWhenUnsubscribed === 'reject') return { token: 'unsubscribed' };
    if (opts.subscribeWhenUnsubscribed === 'resubscribe') {
      for (const m of ['GLOBAL', 'EMAIL'] as const) state.removeUnsubscribes(recipientId, m, listId);
    }
  }
  if (existing) {
    if (opts.subscribeExisting === 'duplicate') return { token: 'duplicate' };
    put(existing.optinStatus);
    state.touch(recipientId, 'email');
    return { token: 'ok:update' };
  }
  put('confirmed');
  state.touch(recipientId, 'email');
  return { token: 'ok' };
}

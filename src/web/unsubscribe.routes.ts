import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebhookConfig } from '../../config/webhooks.js';
import { consentEventSchema } from '../contracts/consent-event.js';
import { type ContactIdentity, IdentityError, normaliseIdentity } from '../domain/index.js';
import type { AppContext } from '../app/context.js';
import {
  oneClickEventId,
  parseContactKey,
  type UnsubscribeTokenPayload,
  verifyUnsubscribeToken,
} from '../ingest/one-click.js';
import { EventIdConflictError } from '../ingest/record-events.js';

/**
 * RFC 8058 one-click unsubscribe (esp-contracts.md §7; reliability.md §5.3):
 *
 *   POST /u/:token  body `List-Unsubscribe=One-Click` (application/x-www-form-urlencoded or
 *                   multipart/form-data) → stores an opt_out (source `list_unsubscribe`, channel from
 *                   the token, eventId from the token and the UTC day) before answering 200 text.
 *                   No cookies, no login, no redirect. Any other body → 400.
 *   GET  /u/:token  NEVER unsubscribes (link scanners fetch header URLs): a small page whose
 *                   form POSTs the one-click body to the same URL.
 *
 * A bad, tampered or expired token is a 404 "invalid link" on both; the reason is logged only.
 */

const ONE_CLICK_BODY_LIMIT = 8 * 1024;
/**
 * `/u/<token>` as a wildcard route: tokens are longer than fastify's default maxParamLength (100),
 * and a wildcard is not subject to it. A token never contains `/`, so anything with one is invalid.
 */
const TOKEN_ROUTE = '/u/*';
type TokenRoute = { Params: { '*': string } };
const ONE_CLICK_BODY = 'List-Unsubscribe=One-Click';

const PAGE_HEADERS = {
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-robots-tag': 'noindex, nofollow',
  'x-content-type-options': 'nosniff',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
} as const;

const CHANNEL_WORDS: Record<string, string> = {
  email: 'email',
  sms: 'text (SMS)',
  push: 'push notification',
  all: 'all',
};

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow"><title>${title}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;line-height:1.5}button{font-size:1rem;padding:.5rem 1rem}</style>
</head><body>${body}</body></html>
`;
}

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

function wantsHtml(request: FastifyRequest): boolean {
  return /text\/html/i.test(String(request.headers.accept ?? ''));
}

function invalidLink(request: FastifyRequest, reply: FastifyReply) {
  reply.code(404).headers(PAGE_HEADERS);
  if (request.method === 'GET' || wantsHtml(request)) {
    return reply
      .type('text/html; charset=utf-8')
      .send(page('Invalid link', '<h1>Invalid link</h1><p>This unsubscribe link is invalid.</p>'));
  }
  return reply.type('text/plain; charset=utf-8').send('invalid link\n');
}

/** True when the body is the RFC 8058 one-click body (form-encoded or multipart). */
export async function isOneClickBody(contentType: string | undefined, body: Buffer): Promise<boolean> {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') {
    // Some clients end the body with a line break, as the header value it copies (`…One-Click\r\n`):
    // it is the same one-click request, and URLSearchParams would keep the break in the value.
    const text = body.toString('utf8').replace(/[\r\n]+$/, '');
    return new URLSearchParams(text).get('List-Unsubscribe') === 'One-Click';
  }
  if (type === 'multipart/form-data') {
    try {
      const form = await new Response(new Uint8Array(body), {
        headers: { 'content-type': contentType ?? '' },
      }).formData();
      return form.get('List-Unsubscribe') === 'One-Click';
    } catch {
      return false;
    }
  }
  return false;
}

type OneClickStatus = 'accepted' | 'duplicate' | 'gone';

/** The token's payload and id, or undefined (logged) when it is bad, expired or for a channel we do not have. */
function openToken(
  ctx: AppContext,
  config: WebhookConfig,
  request: FastifyRequest<TokenRoute>,
): { payload: UnsubscribeTokenPayload; tokenId: string } | undefined {
  const channels = ctx.config.consent.channels;
  const result = verifyUnsubscribeToken(request.params['*'], ctx.config.unsubscribeSecret, {
    maxAgeS: config.unsubscribeTokenMaxAgeS,
  });
  if (!result.ok) {
    request.log.info({ reason: result.reason }, 'one-click unsubscribe: invalid token');
    return undefined;
  }
  if (result.payload.channel !== 'all' && !channels.includes(result.payload.channel)) {
    request.log.warn(
      { channel: result.payload.channel },
      'one-click unsubscribe: token for a channel that is not configured',
    );
    return undefined;
  }
  return { payload: result.payload, tokenId: result.tokenId };
}

/** The identities to record the opt-out under; undefined = the referenced contact no longer exists. */
async function identityOf(
  ctx: AppContext,
  payload: UnsubscribeTokenPayload,
): Promise<ContactIdentity | undefined> {
  const ref = parseContactKey(payload.contactKey, payload.businessUnit);
  if (ref.kind === 'identity') return ref.identity;
  const contact = await ctx.models.contacts.findById(ref.contactId, { identities: 1 }).lean();
  if (!contact) return undefined;
  const { externalId, email, businessUnit, phone } = contact.identities;
  return {
    ...(externalId !== undefined ? { externalId } : {}),
    ...(email !== undefined ? { email } : {}),
    ...(email !== undefined && businessUnit !== undefined ? { businessUnit } : {}),
    ...(phone !== undefined ? { phone } : {}),
  };
}

/** GET's page: asks, and POSTs the one-click body to the same URL (a GET never unsubscribes). */
function confirmationPage(request: FastifyRequest<TokenRoute>, payload: UnsubscribeTokenPayload): string {
  const what = CHANNEL_WORDS[payload.channel] ?? escapeHtml(payload.channel);
  return page(
    'Unsubscribe',
    `<h1>Unsubscribe</h1>
<p>Stop receiving ${payload.channel === 'all' ? 'all our marketing messages' : `our ${what} marketing messages`}?</p>
<form method="post" action="${escapeHtml(request.params['*'])}">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button>
</form>`,
  );
}

/** Stores the one-click opt-out; `unusable` when the token's identity cannot be used (an invalid link). */
async function recordOneClick(
  ctx: AppContext,
  eventSchema: ReturnType<typeof consentEventSchema>,
  request: FastifyRequest,
  payload: UnsubscribeTokenPayload,
  tokenId: string,
): Promise<OneClickStatus | 'unusable'> {
  const identity = await identityOf(ctx, payload);
  if (!identity) {
    // The referenced contact was erased: there is nothing left to send to.
    request.log.warn('one-click unsubscribe: the referenced contact no longer exists');
    return 'gone';
  }
  try {
    normaliseIdentity(identity);
  } catch (err) {
    if (!(err instanceof IdentityError)) throw err;
    request.log.warn({ field: err.field }, 'one-click unsubscribe: token identity is not usable');
    return 'unusable';
  }
  const event = eventSchema.parse({
    eventId: oneClickEventId(tokenId, new Date()),
    contact: identity,
    kind: 'marketing',
    channel: payload.channel,
    value: 'opt_out',
    source: 'list_unsubscribe',
    // No moment: it is the receipt time, and a repeated click keeps the same event body.
    way: { mechanism: 'rfc8058_one_click' },
    proof: { token: tokenId },
    properties: {
      type: 'list_unsubscribe',
      tokenIssuedAt: payload.issuedAt.toISOString(),
      ...(payload.listId !== undefined ? { listId: payload.listId } : {}),
    },
  });
  try {
    const [result] = await ctx.services.recordEvents([event]);
    return result?.status ?? 'duplicate';
  } catch (err) {
    if (!(err instanceof EventIdConflictError)) throw err;
    return 'duplicate';
  }
}

function unsubscribed(request: FastifyRequest, reply: FastifyReply, status: OneClickStatus) {
  reply.code(200).headers(PAGE_HEADERS).header('x-unsubscribe-status', status);
  if (wantsHtml(request)) {
    return reply
      .type('text/html; charset=utf-8')
      .send(
        page(
          'Unsubscribed',
          '<h1>You are unsubscribed</h1><p>You will no longer receive these messages.</p>',
        ),
      );
  }
  return reply.type('text/plain; charset=utf-8').send('You are unsubscribed.\n');
}

export function registerUnsubscribeRoutes(
  app: FastifyInstance,
  ctx: AppContext,
  config: WebhookConfig,
): void {
  const eventSchema = consentEventSchema(ctx.config.consent.channels);

  app.register(async (scope) => {
    // Form bodies only on these routes (the app has no global form parser).
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: ONE_CLICK_BODY_LIMIT },
      (_request, body, done) => {
        done(null, body);
      },
    );

    scope.get<TokenRoute>(TOKEN_ROUTE, async (request, reply) => {
      const opened = openToken(ctx, config, request);
      if (!opened) return invalidLink(request, reply);
      const html = confirmationPage(request, opened.payload);
      return reply.code(200).headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(html);
    });

    scope.post<TokenRoute>(TOKEN_ROUTE, { bodyLimit: ONE_CLICK_BODY_LIMIT }, async (request, reply) => {
      const opened = openToken(ctx, config, request);
      if (!opened) return invalidLink(request, reply);
      const { payload, tokenId } = opened;
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      if (!(await isOneClickBody(request.headers['content-type'], raw))) {
        return reply
          .code(400)
          .headers(PAGE_HEADERS)
          .type('text/plain; charset=utf-8')
          .send(
            `the body must be ${ONE_CLICK_BODY} (application/x-www-form-urlencoded or multipart/form-data)\n`,
          );
      }
      const status = await recordOneClick(ctx, eventSchema, request, payload, tokenId);
      if (status === 'unusable') return invalidLink(request, reply);
      request.log.info({ status, channel: payload.channel }, 'one-click unsubscribe');
      return unsubscribed(request, reply, status);
    });
  });
}

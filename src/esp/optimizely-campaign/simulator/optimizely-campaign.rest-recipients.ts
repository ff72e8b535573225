/**
 * Optimizely Campaign REST recipients and webhooks (§1.2):
 *   POST   /recipients/{listId}     form recipientId, optinProcessId, address, data.<field> → 201 | 202 pending | 409
 *   GET    /recipients/{listId}/{recipientId}/optinstatus
 *   GET|POST /webhooks (type, format=json, targetUrl, authentication), DELETE /webhooks/{id}
 */
import { z } from 'zod';
import { empty, fail } from '../../../simulators/core/reply.js';
import type { Router } from '../../../simulators/core/router.js';
import { out, REST_BASE, type RestApiDeps, restAuth } from './optimizely-campaign.rest-common.js';
import type { OptimizelyState, WebhookAuthentication } from './optimizely-campaign.state.js';

const webhookAuthSchema = z.object({
  type: z.enum(['none', 'basicAuth', 'keyAuth']),
  userName: z.string().optional(),
  password: z.string().optional(),
  key: z.string().optional(),
  passphrase: z.string().optional(),
});

const WEBHOOK_TYPES = new Set([
  'open',
  'click',
  'sent',
  'bounce',
  'unsubscribe',
  'spamcomplaint',
  'singleoptin',
  'confirmedoptin',
  'doubleoptin',
  'blocklist',
  'archive',
  'filteredbyblocklist',
]);

export function registerRecipientRoutes(router: Router, deps: RestApiDeps): void {
  const { state, opts } = deps;
  const base = REST_BASE;
  const authed = restAuth(deps.creds);
  const reply = out;
  router.post(
    `${base}/recipients/:listId`,
    authed((req) => {
      const listId = req.param('listId');
      const form = req.form();
      const recipientId = form.get('recipientId');
      if (!recipientId) fail(400, { error: 'recipientId required' });
      if (!opts.recipientLists.includes(listId)) fail(404, { error: `unknown recipient list ${listId}` });
      const address = form.get('address');
      const conflict =
        state.isBlacklisted(recipientId) !== undefined ||
        (address !== null && state.isBlacklisted(address) !== undefined) ||
        state.isUnsubscribed(recipientId, 'EMAIL', opts.recipientListBasedUnsubscribes ? listId : null) ||
        state.recipient(listId, recipientId) !== undefined;
      if (conflict)
        fail(409, {
          error: 'The recipient has either been blacklisted, has unsubscribed, or exists already.',
        });
      const fields: Record<string, string> = {};
      for (const [k, v] of form) if (k.startsWith('data.')) fields[k.slice(5)] = v;
      const optInProcessId = form.get('optinProcessId');
      const now = deps.now();
      state.putRecipient({
        recipientId,
        recipientListId: listId,
        address,
        fields,
        optinStatus: optInProcessId ? 'non_confirmed' : 'confirmed',
        optInProcessId,
        created: now,
        modified: now,
      });
      if (!optInProcessId) state.touch(recipientId, 'email');
      const body: { optInMailId?: string; [k: string]: unknown } = {
        id: recipientId,
        created: now.toISOString(),
        modified: now.toISOString(),
        links: [],
      };
      if (optInProcessId && form.get('returnOptInMailId') === 'true')
        body.optInMailId = `sim-optin-${state.nextId()}`;
      // INFERENCE: every opt-in process is treated as double opt-in → 202 pending (§1.2).
      return reply(req, optInProcessId ? 202 : 201, body);
    }),
  );
  router.get(
    `${base}/recipients/:listId/:recipientId/optinstatus`,
    authed((req) => {
      const r = state.recipient(req.param('listId'), req.param('recipientId'));
      if (!r) fail(404, { error: 'The recipient could not be found.' });
      // INFERENCE: values "confirmed" / "non_confirmed" (the vendor's optinStatus vocabulary elsewhere).
      return reply(req, 200, r.optinStatus);
    }),
  );

  registerWebhookRegistrationRoutes(router, deps);
}

/** `GET|POST /webhooks`, `DELETE /webhooks/{id}`: the registrations the simulator sends webhooks to. */
function registerWebhookRegistrationRoutes(router: Router, deps: RestApiDeps): void {
  const { state } = deps;
  const base = REST_BASE;
  const authed = restAuth(deps.creds);
  const reply = out;
  router.get(
    `${base}/webhooks`,
    authed((req) => reply(req, 200, state.webhooks.map(webhookJson))),
  );
  router.post(
    `${base}/webhooks`,
    authed((req) => {
      const form = req.form();
      const type = form.get('type') ?? '';
      const targetUrl = form.get('targetUrl') ?? '';
      if (!WEBHOOK_TYPES.has(type) || form.get('format') !== 'json' || !URL.canParse(targetUrl)) {
        fail(400, { error: 'type, format=json and targetUrl are required' });
      }
      let authentication: WebhookAuthentication = { type: 'none' };
      const rawAuth = form.get('authentication');
      if (rawAuth) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(rawAuth);
        } catch {
          fail(400, { error: 'authentication must be JSON' });
        }
        const result = webhookAuthSchema.safeParse(parsed);
        if (!result.success)
          fail(400, { error: 'authentication must be {"type":"none"|"basicAuth"|"keyAuth",...}' });
        authentication = result.data as WebhookAuthentication;
      }
      const now = deps.now();
      // INFERENCE: a created webhook is active at once (activation is not modelled).
      const hook = {
        id: state.nextId(),
        type,
        status: 'activated' as const,
        format: 'json' as const,
        targetUrl,
        authentication,
        created: now,
        modified: now,
      };
      state.webhooks.push(hook);
      return reply(req, 201, webhookJson(hook));
    }),
  );
  router.delete(
    `${base}/webhooks/:id`,
    authed((req) => {
      const before = state.webhooks.length;
      state.webhooks = state.webhooks.filter((w) => String(w.id) !== req.param('id'));
      if (state.webhooks.length === before) fail(404, { error: 'webhook not found' });
      return empty(204);
    }),
  );
}

function webhookJson(w: OptimizelyState['webhooks'][number]) {
  const { authentication, ...rest } = w;
  return {
    ...rest,
    authentication: { type: authentication.type },
    created: w.created.toISOString(),
    modified: w.modified.toISOString(),
  };
}

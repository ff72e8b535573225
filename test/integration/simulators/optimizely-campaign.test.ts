/** Optimizely Campaign simulator honours esp-contracts.md §1 (HTTP API tokens, REST read-back, shared state). */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type SimulatorHandle, simulatorCredentials, startSimulator } from '../../../src/simulators/index.js';
import { control, formInit, http, simState, startReceiver, waitFor } from './helpers.js';

const creds = simulatorCredentials['optimizely-campaign'];
const basic = `Basic ${Buffer.from(`${creds.apiUser}:${creds.apiPassword}`).toString('base64')}`;
const AUTH = { authorization: basic };

describe('optimizely-campaign simulator', () => {
  let sim: SimulatorHandle;
  let rest: string;
  const form = (op: string, query = '') =>
    `${sim.url}/http/form/${creds.formAuthCode}/${op}${query ? `?${query}` : ''}`;
  const token = async (url: string, init?: RequestInit) => (await http(url, init)).text;

  beforeAll(async () => {
    sim = await startSimulator('optimizely-campaign', {
      authCodes: {
        [creds.formAuthCode]: { recipientListId: creds.recipientListId },
        IPONLY: { recipientListId: creds.recipientListId, allowedIps: ['10.1.1.1'] },
        SSLONLY: { recipientListId: creds.recipientListId, requireSsl: true },
        NOTRACK: { recipientListId: creds.recipientListId, trackingOptOutEnabled: false },
        GONELIST: { recipientListId: '999' },
      },
      recipientLists: [creds.recipientListId],
      mailIds: { 'MAIL-1': { recipientId: 'mail@x.io', mailingId: '77' } },
    });
    rest = `${sim.url}/rest/${creds.clientId}`;
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  describe('HTTP API tokens (200 text/plain)', () => {
    it('answers ok for a form unsubscribe, GET or POST form-encoded, and shows it in state', async () => {
      const res = await http(form('unsubscribe', 'bmRecipientId=a@x.io'));
      expect([res.status, res.headers.get('content-type'), res.text]).toEqual([
        200,
        'text/plain; charset=utf-8',
        'ok',
      ]);
      expect(await token(form('unsubscribe'), formInit('POST', { bmRecipientId: 'b@x.io' }))).toBe('ok');
      const state = await simState(sim.url);
      expect(state.recipients['a@x.io']).toEqual({ email: 'opted_out', sms: 'opted_out', push: 'opted_out' });
      expect(state.recipients['b@x.io']?.email).toBe('opted_out');
    });

    it('gives the verbose ok variants', async () => {
      expect(await token(form('unsubscribe', 'bmRecipientId=a@x.io&bmVerbose=true'))).toBe('ok');
      expect(await token(form('unsubscribe', 'bmRecipientId=a@x.io&bmVerbose=true'))).toBe(
        'ok: already_unsubscribed',
      );
      expect(await token(form('unsubscribe', 'bmRecipientId=a@x.io'))).toBe('ok');
      expect(await token(form('unsubscribe', 'bmRecipientId=c@x.io&bmRemoveId=true&bmVerbose=true'))).toBe(
        'ok: not_found',
      );
      expect(await token(form('blacklist', 'bmPattern=z@x.io'))).toBe('ok');
      expect(await token(form('blacklist', 'bmPattern=z@x.io&bmVerbose=true'))).toBe(
        'ok: already_blacklisted',
      );
    });

    it('answers missing_id, vetoed and every wrong_tag code', async () => {
      expect(await token(form('unsubscribe'))).toBe('missing_id');
      expect(await token(form('createtrackingoptout'))).toBe('missing_id');
      expect(await token(`${sim.url}/http/form/NOTRACK/createtrackingoptout?bmRecipientId=a@x.io`)).toBe(
        'vetoed',
      );
      const wrong = async (url: string, init?: RequestInit) => {
        const r = await http(url, init);
        return [r.status, r.text, r.headers.get('x-sim-wrong-tag-code')];
      };
      expect(await wrong(`${sim.url}/http/form/NOPE/nop`)).toEqual([200, 'wrong_tag: 501', '501']);
      expect(await wrong(`${sim.url}/http/form/IPONLY/nop`)).toEqual([200, 'wrong_tag: 502', '502']);
      expect(await wrong(form('nop'), { method: 'PUT' })).toEqual([200, 'wrong_tag: 503', '503']);
      expect(await wrong(`${sim.url}/http/form/SSLONLY/nop`)).toEqual([200, 'wrong_tag: 504', '504']);
      expect(await wrong(`${sim.url}/http/form/GONELIST/nop`)).toEqual([200, 'wrong_tag: 505', '505']);
      expect(await wrong(`${sim.url}/http/mail/MAIL-1/blacklist?bmPattern=a@x.io`)).toEqual([
        200,
        'wrong_tag: 506',
        '506',
      ]);
      expect(await wrong(form('frobnicate'))).toEqual([200, 'wrong_tag: 507', '507']);
      // IP security and SSL pass with the right (forwarded) caller.
      expect(
        await token(`${sim.url}/http/form/IPONLY/nop`, { headers: { 'x-forwarded-for': '10.1.1.1' } }),
      ).toBe('ok');
      expect(
        await token(`${sim.url}/http/form/SSLONLY/nop`, { headers: { 'x-forwarded-proto': 'https' } }),
      ).toBe('ok');
    });

    it('masks the authCode in the request log', async () => {
      await http(form('nop'));
      expect(sim.requests()[0]?.path).toBe('/http/form/***/nop');
    });

    it('serves the mail service from the mail id (recipient and mailing)', async () => {
      expect(await token(`${sim.url}/http/mail/MAIL-1/unsubscribe`)).toBe('ok');
      const list = (await http(`${rest}/unsubscribes`, { headers: AUTH })).body as {
        elements: Record<string, unknown>[];
      };
      expect(list.elements[0]).toMatchObject({
        recipientId: 'mail@x.io',
        mailingId: 77,
        mediaType: 'GLOBAL',
      });
    });

    it('subscribes: ok, ok:update, blacklisted, unsubscribed, and a double opt-in confirmed later', async () => {
      expect(await token(form('subscribe', 'bmRecipientId=s@x.io&firstname=S'))).toBe('ok');
      expect(await token(form('subscribe', 'bmRecipientId=s@x.io&firstname=T'))).toBe('ok:update');
      expect((await simState(sim.url)).recipients['s@x.io']).toEqual({
        email: 'opted_in',
        tracking: 'opted_in',
      });
      await http(form('blacklist', 'bmPattern=*@spam.io'));
      expect(await token(form('subscribe', 'bmRecipientId=x@spam.io'))).toBe('blacklisted');
      await http(form('unsubscribe', 'bmRecipientId=u@x.io'));
      expect(await token(form('subscribe', 'bmRecipientId=u@x.io'))).toBe('unsubscribed');
      expect(await token(form('subscribe', 'bmRecipientId=u@x.io&bmOptInId=285288455464'))).toBe('ok');
      expect((await simState(sim.url)).recipients['u@x.io']?.email).toBe('opted_out');
      expect((await control(sim.url, '/__sim/confirm-optin', { recipient: 'u@x.io' })).status).toBe(200);
      expect((await simState(sim.url)).recipients['u@x.io']?.email).toBe('opted_in');
    });

    it('tracks opt-outs, blocklists wildcard patterns, and redirects with bmResult', async () => {
      await http(form('subscribe', 'bmRecipientId=t@x.io'));
      expect(await token(form('createtrackingoptout', 'bmRecipientId=t@x.io'))).toBe('ok');
      expect((await simState(sim.url)).recipients['t@x.io']?.tracking).toBe('opted_out');
      expect(await token(form('deletetrackingoptout', 'bmRecipientId=t@x.io'))).toBe('ok');
      expect((await simState(sim.url)).recipients['t@x.io']?.tracking).toBe('opted_in');
      await http(form('blacklist', `bmPattern=${encodeURIComponent('t@x.i?')}`));
      expect((await simState(sim.url)).recipients['t@x.io']?.email).toBe('opted_out');
      const res = await fetch(form('nop', 'bmSuccessUrl=https%3A%2F%2Fshop.example%2Fthanks'), {
        redirect: 'manual',
      });
      expect([res.status, res.headers.get('location')]).toEqual([
        302,
        'https://shop.example/thanks?bmResult=ok',
      ]);
    });

    it('can play system_error through a fault step', async () => {
      sim.setFaults({ rules: [{ path: '/http/', steps: [{ status: 200, body: 'system_error' }] }] });
      expect(await token(form('unsubscribe', 'bmRecipientId=a@x.io'))).toBe('system_error');
      expect(await token(form('unsubscribe', 'bmRecipientId=a@x.io'))).toBe('ok');
    });
  });

  describe('REST API', () => {
    it('rejects missing or wrong Basic auth with 401 and an unknown client with 404', async () => {
      expect((await http(`${rest}/unsubscribes`)).status).toBe(401);
      expect((await http(`${rest}/unsubscribes`, { headers: { authorization: 'Basic eDp5' } })).status).toBe(
        401,
      );
      expect((await http(`${sim.url}/rest/1/unsubscribes`, { headers: AUTH })).status).toBe(404);
    });

    it('bulk-unsubscribes (≤ 5000) and reads back per media type, paged by created', async () => {
      await http(form('unsubscribe', 'bmRecipientId=http@x.io'));
      const res = await http(
        `${rest}/unsubscribes`,
        formInit('POST', { recipientIds: 'r1@x.io,r2@x.io,r3@x.io', mediaType: 'EMAIL' }, AUTH),
      );
      expect(res.body).toEqual({ successfulIds: ['r1@x.io', 'r2@x.io', 'r3@x.io'], unsuccessfulIds: [] });
      const tooMany = Array.from({ length: 5001 }, (_, i) => `u${i}`).join(',');
      expect(
        (await http(`${rest}/unsubscribes`, formInit('POST', { recipientIds: tooMany }, AUTH))).status,
      ).toBe(400);

      const global = (await http(`${rest}/unsubscribes`, { headers: AUTH })).body as {
        elements: { recipientId: string }[];
      };
      expect(global.elements.map((e) => e.recipientId)).toEqual(['http@x.io']);
      const page1 = (await http(`${rest}/unsubscribes?mediaType=EMAIL&limit=2`, { headers: AUTH }))
        .body as Record<string, unknown>;
      const page2 = (await http(`${rest}/unsubscribes?mediaType=EMAIL&limit=2&offset=2`, { headers: AUTH }))
        .body as Record<string, unknown>;
      expect(page1).toMatchObject({
        count: 2,
        offset: 0,
        limit: 2,
        elements: [
          { recipientId: 'r1@x.io', mediaType: 'EMAIL', reason: 'rest-api' },
          { recipientId: 'r2@x.io' },
        ],
      });
      expect(page2).toMatchObject({ count: 1, elements: [{ recipientId: 'r3@x.io' }] });
      expect(
        (
          (await http(`${rest}/unsubscribes?mediaType=EMAIL&direction=DESC&limit=1`, { headers: AUTH }))
            .body as { elements: { recipientId: string }[] }
        ).elements[0]?.recipientId,
      ).toBe('r3@x.io');
      expect((await http(`${rest}/unsubscribes?limit=10000`, { headers: AUTH })).status).toBe(400);
      expect(
        (await http(`${rest}/unsubscribes/count?mediaType=EMAIL`, { headers: AUTH })).body,
      ).toMatchObject({ count: 3 });
    });

    it('re-subscribes with DELETE (204, then 404) and reflects it in state', async () => {
      await http(
        `${rest}/unsubscribes`,
        formInit('POST', { recipientIds: 'r@x.io', mediaType: 'EMAIL' }, AUTH),
      );
      expect((await simState(sim.url)).recipients['r@x.io']?.email).toBe('opted_out');
      expect(
        (
          await http(`${rest}/unsubscribes?recipientIds=r@x.io&mediaType=EMAIL`, {
            method: 'DELETE',
            headers: AUTH,
          })
        ).status,
      ).toBe(204);
      expect((await simState(sim.url)).recipients['r@x.io']?.email).toBe('opted_in');
      expect(
        (
          await http(`${rest}/unsubscribes?recipientIds=r@x.io&mediaType=EMAIL`, {
            method: 'DELETE',
            headers: AUTH,
          })
        ).status,
      ).toBe(404);
    });

    it('manages the blocklist shared with the HTTP API', async () => {
      await http(form('blacklist', 'bmPattern=h@x.io&bmReason=complaint'));
      const created = await http(
        `${rest}/blacklistentries`,
        formInit('POST', { entry: '*@blocked.io', reason: 'domain' }, AUTH),
      );
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        pattern: '*@blocked.io',
        reason: 'domain',
        mailingGroupId: Number(creds.clientId),
      });
      expect((await http(`${rest}/blacklistentries`, formInit('POST', {}, AUTH))).status).toBe(400);
      const list = (await http(`${rest}/blacklistentries?sort=pattern`, { headers: AUTH })).body as {
        elements: { pattern: string }[];
      };
      expect(list.elements.map((e) => e.pattern)).toEqual(['*@blocked.io', 'h@x.io']);
      expect(
        (await http(`${rest}/blacklistentries/blacklisted?address=joe@blocked.io`, { headers: AUTH })).body,
      ).toEqual({ blacklisted: true, pattern: '*@blocked.io' });
      expect(
        (await http(`${rest}/blacklistentries/blacklisted?address=joe@ok.io`, { headers: AUTH })).body,
      ).toEqual({ blacklisted: false });
      expect(
        (
          await http(`${rest}/blacklistentries/${encodeURIComponent('h@x.io')}`, {
            method: 'DELETE',
            headers: AUTH,
          })
        ).status,
      ).toBe(204);
      expect(
        (
          await http(`${rest}/blacklistentries/${encodeURIComponent('h@x.io')}`, {
            method: 'DELETE',
            headers: AUTH,
          })
        ).status,
      ).toBe(404);
      // The OpenAPI `entries` array (no explode given → repeated parameters) or a comma list.
      for (const e of ['r1@x.io', 'r2@x.io']) {
        await http(`${rest}/blacklistentries`, formInit('POST', { entry: e }, AUTH));
      }
      expect(
        (
          await http(`${rest}/blacklistentries?entries=r1@x.io&entries=r2@x.io`, {
            method: 'DELETE',
            headers: AUTH,
          })
        ).status,
      ).toBe(204);
      expect((await http(`${rest}/blacklistentries/r2@x.io`, { headers: AUTH })).status).toBe(404);
      const many = Array.from({ length: 1001 }, (_, i) => `e${i}@x.io`).join(',');
      expect(
        (await http(`${rest}/blacklistentries?entries=${many}`, { method: 'DELETE', headers: AUTH })).status,
      ).toBe(400);
    });

    it('sets tracking opt-outs (201/204) and adds recipients (201, 202 pending, 409)', async () => {
      expect(
        (await http(`${rest}/recipients/trackingoptout`, formInit('POST', { recipientId: 'k@x.io' }, AUTH)))
          .status,
      ).toBe(201);
      expect((await simState(sim.url)).recipients['k@x.io']?.tracking).toBe('opted_out');
      expect(
        (
          await http(`${rest}/recipients/trackingoptout?recipientId=k@x.io`, {
            method: 'DELETE',
            headers: AUTH,
          })
        ).status,
      ).toBe(204);
      const add = (fields: Record<string, string>) =>
        http(`${rest}/recipients/${creds.recipientListId}`, formInit('POST', fields, AUTH));
      expect((await add({ recipientId: 'n@x.io', 'data.firstname': 'N' })).status).toBe(201);
      expect((await add({ recipientId: 'n@x.io' })).status).toBe(409);
      expect((await add({ recipientId: 'd@x.io', optinProcessId: '5' })).status).toBe(202);
      expect(
        (await http(`${rest}/recipients/${creds.recipientListId}/d@x.io/optinstatus`, { headers: AUTH }))
          .body,
      ).toBe('non_confirmed');
      expect(
        (await http(`${rest}/recipients/${creds.recipientListId}/nobody@x.io/optinstatus`, { headers: AUTH }))
          .status,
      ).toBe(404);
      await http(`${rest}/unsubscribes`, formInit('POST', { recipientIds: 'gone@x.io' }, AUTH));
      expect((await add({ recipientId: 'gone@x.io' })).status).toBe(409);
    });

    it('answers 406 for tracking opt-out when the feature is off', async () => {
      const off = await startSimulator('optimizely-campaign', { trackingOptOutEnabled: false });
      try {
        const r = await http(
          `${off.url}/rest/${creds.clientId}/recipients/trackingoptout`,
          formInit('POST', { recipientId: 'k@x.io' }, AUTH),
        );
        expect(r.status).toBe(406);
        expect(
          await token(`${off.url}/http/form/${creds.formAuthCode}/createtrackingoptout?bmRecipientId=k@x.io`),
        ).toBe('vetoed');
      } finally {
        await off.close();
      }
    });
  });

  describe('acted-out unsubscribes and webhooks', () => {
    it('lands in GET /unsubscribes and POSTs the webhook to the target and registered webhooks', async () => {
      const target = await startReceiver();
      const registered = await startReceiver();
      try {
        sim.setWebhookTarget(target.url);
        const auth = JSON.stringify({ type: 'basicAuth', userName: 'hook', password: 'secret' });
        const reg = await http(
          `${rest}/webhooks`,
          formInit(
            'POST',
            { type: 'unsubscribe', format: 'json', targetUrl: registered.url, authentication: auth },
            AUTH,
          ),
        );
        expect(reg.status).toBe(201);
        const res = await control(sim.url, '/__sim/unsubscribe', {
          recipient: 'l@x.io',
          channel: 'email',
          type: 'list_unsubscribe',
          at: '2024-05-01T10:00:00Z',
        });
        expect(res.body).toMatchObject({
          recipient: 'l@x.io',
          channel: 'email',
          webhook: true,
          mediaType: 'GLOBAL',
        });
        const list = (await http(`${rest}/unsubscribes`, { headers: AUTH })).body as {
          elements: unknown[];
        };
        expect(list.elements).toEqual([
          expect.objectContaining({
            recipientId: 'l@x.io',
            reason: 'list_unsubscribe',
            created: '2024-05-01T10:00:00.000Z',
          }),
        ]);
        const hook = await waitFor(() => target.received[0]);
        expect(hook.body).toMatchObject({
          type: 'unsubscribe',
          recipientId: 'l@x.io',
          mediaType: 'GLOBAL',
          reason: 'list_unsubscribe',
        });
        const authed = await waitFor(() => registered.received[0]);
        expect(authed.headers.authorization).toBe(`Basic ${Buffer.from('hook:secret').toString('base64')}`);
        await waitFor(
          () =>
            (sim.state().webhooks as { deliveries: { status: number | null }[] }).deliveries.every(
              (d) => d.status === 200,
            ) || undefined,
        );
        // API-made unsubscribes do not POST webhooks by default (webhookOnApiChanges: false).
        await http(form('unsubscribe', 'bmRecipientId=api@x.io'));
        expect((sim.state().webhooks as { deliveries: unknown[] }).deliveries).toHaveLength(2);
        const sms = await control(sim.url, '/__sim/unsubscribe', {
          recipient: '+4915100000000',
          channel: 'sms',
        });
        expect(sms.body).toMatchObject({ mediaType: 'SMS' });
        expect(sim.state().recipients['+4915100000000']).toEqual({ sms: 'opted_out' });
      } finally {
        await target.close();
        await registered.close();
      }
    });
  });
});

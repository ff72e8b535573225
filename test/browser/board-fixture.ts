import type { AddressInfo } from 'node:net';
import type { Job } from 'bullmq';
import { createApp } from '../../src/web/app.js';
import { BOARD_BASE_PATH, registerBoard } from '../../src/web/board.js';
import { createTestContext } from '../support/integration.js';
import { waitFor } from '../support/wait-for.js';

/**
 * A web app with Bull Board mounted, on a real loopback port. startTestApp (test/support/app.ts)
 * listens immediately, and the board must be registered before listen, hence this fixture.
 */

export const BOARD_USER = 'ops';
export const BOARD_PASSWORD = 'board-test-password-1';

/** Two ESPs enabled (credentials present), so the board has esp-sync-* queues too. */
export const BOARD_ENV: Record<string, string> = {
  CROSSENGAGE_API_KEY: 'crossengage-test-key',
  OMETRIA_API_KEY: 'ometria-test-key',
  BOARD_USERNAME: BOARD_USER,
  BOARD_PASSWORD,
};

export const basicAuth = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

export async function startBoardApp(env: Record<string, string> = {}) {
  const ctx = await createTestContext({ ...BOARD_ENV, ...env });
  const app = await createApp(ctx);
  // Once createApp mounts the board itself, mounting it twice would be a duplicate-route error.
  if (!app.hasRoute({ method: 'GET', url: `${BOARD_BASE_PATH}/api/queues` })) await registerBoard(app, ctx);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    ctx,
    app,
    url,
    auth: basicAuth(BOARD_USER, ctx.config.board.password),
    async close() {
      await app.close();
      await ctx.dispose();
    },
  };
}

/** Personal data and a secret planted in jobs; none of it may reach the board's pages or API. */
export const PII = {
  email: 'jo.doe@example.com',
  phone: '+49 151 2345 6789',
  token: 'tok_live_9f8e7d6c5b4a',
} as const;

/**
 * Ids as the app stores them, in a push job on esp-sync-first-ometria: the board must show each
 * whole, so an operator can copy it. The first UUID is the one issue #17 saw cut as a "phone".
 */
export const IDS = {
  contacts: ['97f69956-4b50-4123-8123-bd133b645caa', '12345678-9012-4345-8789-012345678901'],
  objectId: '675281234567890123456789',
  eventId: 'demo-1765000000000-3',
} as const;

/** Strings whose presence in a response means a leak. */
export const PII_NEEDLES = [PII.email, 'example.com', PII.phone, '2345 6789', PII.token];

/**
 * Puts PII-carrying jobs on the board: a waiting consent-apply job, a waiting esp-sync job, and on
 * `maintenance` (run by a throwaway worker) one completed and one failed job with PII in their
 * return value, failure reason, stack trace and logs.
 */
export async function seedPiiJobs(ctx: Awaited<ReturnType<typeof startBoardApp>>['ctx']) {
  const data = {
    eventId: 'evt-pii-1',
    contact: { email: PII.email, phone: PII.phone },
    note: `call ${PII.phone} or write to ${PII.email}`,
    token: PII.token,
  };
  const waiting = await ctx.runtime
    .queue('consent-apply')
    .add('apply-consent-event', data, { jobId: 'pii-apply-1' });
  const espWaiting = await ctx.runtime
    .queue('esp-sync-crossengage')
    .add('push', data, { jobId: 'pii-push-1' });
  const ids = await ctx.runtime
    .queue('esp-sync-first-ometria')
    .add('push-contacts', { contactIds: [...IDS.contacts], lane: 1, objectId: IDS.objectId, eventId: IDS.eventId }, { jobId: 'ids-push-1' });
  const maintenance = ctx.runtime.queue('maintenance');
  const worker = ctx.runtime.startWorker(
    'maintenance',
    async (job: Job) => {
      await job.log(`looked up ${PII.email}`);
      if (job.name === 'fail')
        throw new Error(`ESP rejected ${PII.email} (${PII.phone}), Authorization: Bearer ${PII.token}`);
      return { pushed: PII.email, note: `sms sent to ${PII.phone}` };
    },
    { concurrency: 1 },
  );
  const completed = await maintenance.add('ok', data, { jobId: 'pii-ok-1', attempts: 1 });
  const failed = await maintenance.add('fail', data, { jobId: 'pii-fail-1', attempts: 1 });
  await waitFor(
    async () =>
      (await maintenance.getJobState('pii-ok-1')) === 'completed' &&
      (await maintenance.getJobState('pii-fail-1')) === 'failed',
    { what: 'the maintenance jobs to finish' },
  );
  await worker.close();
  return { waiting, espWaiting, ids, completed, failed };
}

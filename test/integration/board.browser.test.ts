import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { allQueueNames } from '../../src/queues/names.js';
import { BOARD_BASE_PATH } from '../../src/web/board.js';
import { BOARD_USER, IDS, PII_NEEDLES, seedPiiJobs, startBoardApp } from '../browser/board-fixture.js';
import { assertChromiumInstalled, launchChromium } from '../browser/chromium.js';

/**
 * Bull Board as an operator sees it, in Debian's Chromium (headless, driven by playwright-core).
 * Needs /usr/bin/chromium: `apt-get install -y chromium`. Without it these tests fail, on purpose.
 */

const SCREENSHOT = fileURLToPath(new URL('../../test-results/bull-board.png', import.meta.url));

type BoardApp = Awaited<ReturnType<typeof startBoardApp>>;
type Browser = Awaited<ReturnType<typeof launchChromium>>;

function expectNoPii(text: string, where: string) {
  for (const needle of PII_NEEDLES) expect(text, `${where} shows ${needle}`).not.toContain(needle);
}

/** Everything the page shows and holds: rendered text and the whole DOM. */
async function expectPageWithoutPii(page: Page, where: string) {
  expectNoPii(await page.locator('body').innerText(), `${where} (text)`);
  expectNoPii(await page.content(), `${where} (DOM)`);
}

describe('Bull Board in a real browser (Chromium, headless)', () => {
  let board: BoardApp;

  beforeAll(async () => {
    board = await startBoardApp();
    await seedPiiJobs(board.ctx);
  });
  afterAll(async () => board?.close());

  // Without Chromium every test here fails with the install instructions; none is skipped.
  it('has Chromium at /usr/bin/chromium', () => {
    assertChromiumInstalled();
  });

  it('without credentials the browser gets a 401 and nothing of the board', async () => {
    const browser = await launchChromium(board.url);
    try {
      const page = await browser.context.newPage();
      // Chromium cannot answer the Basic challenge, so the navigation ends in an auth error
      // (or, should a future Playwright cancel the prompt instead, on the 401 page itself).
      const nav = await page
        .goto(`${board.url}${BOARD_BASE_PATH}`, { waitUntil: 'domcontentloaded' })
        .catch((e: Error) => e);
      if (nav instanceof Error) expect(nav.message).toContain('ERR_INVALID_AUTH_CREDENTIALS');
      else expect(nav?.status()).toBe(401);
      expect(await page.locator('body').innerText()).not.toContain('consent-apply');
      // The browser's own requests from a page of the same origin get the 401 and the challenge
      // (credentials: 'omit', or headless Chromium waits for an auth prompt no one answers).
      expect((await page.goto(`${board.url}/healthz`))?.status()).toBe(200);
      const answers = await page.evaluate(
        async (paths) => {
          const out: { path: string; status: number; challenge: string | null; body: string }[] = [];
          for (const path of paths) {
            const res = await fetch(path, { credentials: 'omit' });
            out.push({
              path,
              status: res.status,
              challenge: res.headers.get('www-authenticate'),
              body: await res.text(),
            });
          }
          return out;
        },
        [
          BOARD_BASE_PATH,
          `${BOARD_BASE_PATH}/api/queues`,
          `${BOARD_BASE_PATH}/queue/consent-apply/pii-apply-1`,
          `${BOARD_BASE_PATH}/static/js/nope.js`,
        ],
      );
      for (const answer of answers) {
        expect(answer.status, answer.path).toBe(401);
        expect(answer.challenge, answer.path).toMatch(/^Basic realm="consent-sync board"/);
        expect(answer.body, answer.path).not.toContain('consent-apply');
      }
    } finally {
      await browser.close();
    }
  });

  describe('with credentials', () => {
    let browser: Browser | undefined;
    let launchError: unknown;
    let page: Page;
    const apiBodies: { url: string; body: string }[] = [];

    beforeAll(async () => {
      try {
        browser = await launchChromium(board.url, {
          httpCredentials: { username: BOARD_USER, password: board.ctx.config.board.password },
        });
      } catch (err) {
        launchError = err; // reported by every test below (a failing beforeAll would only skip them)
        return;
      }
      page = await browser.context.newPage();
      page.on('response', async (res) => {
        if (!res.url().includes(`${BOARD_BASE_PATH}/api/`)) return;
        apiBodies.push({ url: res.url(), body: await res.text().catch(() => '') });
      });
    });
    beforeEach(() => {
      if (launchError) throw launchError;
    });
    afterAll(async () => browser?.close());

    const open = async (path: string, waitForText: string) => {
      const res = await page.goto(`${board.url}${BOARD_BASE_PATH}${path}`, { waitUntil: 'domcontentloaded' });
      expect(res?.status(), path).toBe(200);
      await page.getByText(waitForText).first().waitFor({ timeout: 15_000 });
    };

    it('the overview shows every queue and its jobs', async () => {
      await open('', 'maintenance');
      await page.getByText('2 Jobs').first().waitFor();
      const text = await page.locator('body').innerText();
      for (const name of allQueueNames(['crossengage', 'ometria'])) expect(text).toContain(name);
      expect(text).toContain('consent-sync (test)');
      expect(text).toMatch(/1 Job\b/); // consent-apply and esp-sync-crossengage hold one job each
      await expectPageWithoutPii(page, 'overview');
    });

    it('a consent job opened on a read-only queue shows redacted data and no actions', async () => {
      await open('/queue/consent-apply/pii-apply-1', '[redacted]');
      const text = await page.locator('body').innerText();
      expect(text).toContain('pii-apply-1');
      expect(text).toContain('evt-pii-1');
      expect(text).toContain('read-only');
      await expectPageWithoutPii(page, 'consent-apply job data');
      await page.getByRole('tab', { name: 'Options' }).click();
      await expectPageWithoutPii(page, 'consent-apply job options');
      expect(await page.locator('[class^="headerActions-"] button').count()).toBe(0);
    });

    it('a push job shows every contact id, ObjectId and event id whole, ready to copy', async () => {
      await open('/queue/esp-sync-first-ometria/ids-push-1', 'ids-push-1');
      await page.getByRole('tab', { name: 'Data' }).click();
      await page.getByText(IDS.eventId).first().waitFor();
      const text = await page.locator('body').innerText();
      for (const id of [...IDS.contacts, IDS.objectId, IDS.eventId]) expect(text).toContain(id);
      expect(text).not.toContain('[redacted]');
    });

    it('a failed job shows its error, data and logs without email, phone or token', async () => {
      await open('/queue/maintenance/pii-fail-1', 'ESP rejected [redacted]');
      await expectPageWithoutPii(page, 'failed job error');
      await page.getByRole('tab', { name: 'Data' }).click();
      await page.getByText('evt-pii-1').first().waitFor();
      await expectPageWithoutPii(page, 'failed job data');
      await page.getByRole('tab', { name: 'Logs' }).click();
      await page.getByText('looked up [redacted]').first().waitFor();
      await expectPageWithoutPii(page, 'failed job logs');
    });

    it('the queue page with a completed and a failed job, as in the screenshot', async () => {
      await open('/queue/maintenance', 'sms sent to [redacted]');
      await page.getByText('ESP rejected [redacted]').first().waitFor();
      await expectPageWithoutPii(page, 'maintenance queue');
      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    });

    it("the board's own write on a writable queue carries the XSRF token and passes", async () => {
      await open('/queue/maintenance/pii-fail-1', 'ESP rejected [redacted]');
      const actions = page.locator('[class^="headerActions-"] button');
      expect(await actions.count()).toBeGreaterThan(0);
      const retry = page.waitForRequest(
        (r) => r.method() === 'PUT' && r.url().endsWith('/api/queues/maintenance/pii-fail-1/retry'),
      );
      await actions.first().click();
      const dialog = page.getByRole('alertdialog');
      await expect.poll(() => dialog.innerText()).toContain('retry this job');
      await dialog.getByRole('button', { name: 'Confirm' }).click();
      const request = await retry;
      expect(request.headers()['x-xsrf-token']).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect((await request.response())?.status()).toBe(204);
      expect(await board.ctx.runtime.queue('maintenance').getJobState('pii-fail-1')).toBe('waiting');
    });

    it('no board API response seen by the browser carried PII', () => {
      expect(apiBodies.length).toBeGreaterThan(5);
      for (const { url, body } of apiBodies) expectNoPii(body, url);
    });
  });
});

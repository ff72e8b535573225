import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../browser/chromium.js';
import { startTestApp } from '../support/app.js';
import { startEspSimulators } from '../support/esp-sims.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The operator page /admin/consent as an operator uses it, in Debian's Chromium (headless,
 * playwright-core): a paused ESP with its reason and Resume, a dead letter with Requeue, a
 * contact search whose email never reaches a URL, and the way from the contact to its job in
 * Bull Board. Needs /usr/bin/chromium, like the Bull Board browser test.
 */
describe('operator page in a real browser (Chromium, headless)', () => {
  let sims: Awaited<ReturnType<typeof startEspSimulators>>;
  let app: Awaited<ReturnType<typeof startTestApp>>;
  let contactId: string;

  beforeAll(async () => {
    sims = await startEspSimulators(['dynamic-yield', 'crossengage']);
    app = await startTestApp({ workers: 1, env: sims.env });
    sims.sims['dynamic-yield'].setFaults({ rules: [{ path: '*', steps: [{ status: 400, body: { error: 'bad request' } }] }] });
    // A 401 pauses the ESP this way (src/delivery/delivery.ts); here without waiting for one.
    await app.ctx.services.pauseEsp('crossengage', 'HTTP 401: credentials rejected');
    const res = await app.post('/v1/consent-events', {
      eventId: 'br-1', contact: { externalId: 'br-1', email: 'browser.person@example.com' }, kind: 'marketing', channel: 'email', value: 'opt_out', source: 'api',
    });
    expect(res.status).toBe(202);
    contactId = await waitFor(async () => (await app.ctx.models.identities.findById('ext:br-1').lean())?.contactId);
    await waitFor(async () => (await app.ctx.models.contacts.findById(contactId).lean())?.sync['dynamic-yield']?.status === 'dead_letter', { what: 'dead letter' });
  });
  afterAll(async () => {
    await app?.close();
    await sims?.close();
  });

  it('shows the paused ESP and the dead letter, requeues, finds the contact, links to its job in Bull Board, and resumes', async () => {
    const { username, password } = app.ctx.config.board;
    const browser = await launchChromium(app.url, { httpCredentials: { username, password } });
    try {
      const page = await browser.context.newPage();
      await page.goto(`${app.url}/admin/consent`);
      const ceRow = page.locator('#esps tbody tr', { hasText: 'crossengage' });
      await ceRow.getByText('PAUSED').waitFor();
      expect(await ceRow.innerText()).toContain('HTTP 401: credentials rejected');
      expect(await ceRow.innerText()).toContain('consent-sync resume crossengage');
      const dead = page.locator('#dead-letters tbody tr', { hasText: contactId });
      await dead.waitFor();
      expect(await dead.innerText()).toMatch(/dynamic-yield[\s\S]*400/);

      sims.sims['dynamic-yield'].setFaults({ rules: [] });
      await dead.getByRole('button', { name: 'Requeue' }).click();
      await page.locator('#message', { hasText: '1 requeued' }).waitFor();
      await waitFor(async () => (await app.ctx.models.contacts.findById(contactId).lean())?.sync['dynamic-yield']?.status === 'synced', { what: 'requeued push delivered' });
      await page.locator('#refresh').click();
      await waitFor(async () => (await page.locator('#dead-letters tbody tr').count()) === 0, { what: 'dead letter gone from the page' });

      // Search by email: the address goes in a POST body; the URL carries the contact id only.
      await page.fill('input[name=email]', 'Browser.Person@example.com');
      await page.click('#search button[type=submit]');
      await page.locator('#contact-id', { hasText: contactId }).waitFor();
      expect(page.url()).toBe(`${app.url}/admin/consent#contact=${contactId}`);
      await page.locator('#sync tbody tr', { hasText: 'dynamic-yield' }).getByText('synced').waitFor();
      const jobLink = page.locator('#jobs tbody a').first();
      await jobLink.waitFor();
      const href = await jobLink.getAttribute('href');
      expect(href).toMatch(/^\/admin\/queues\/queue\/[^/]+\/[^/]+$/);
      await jobLink.click();
      await page.waitForURL(`${app.url}${href}`);
      // Bull Board's page of that job: its id and its data, with the link back to the contact.
      const jobId = decodeURIComponent(href!.split('/').at(-1)!);
      await page.getByText(`#${jobId}`, { exact: true }).waitFor();
      await page.getByText('contactPages').waitFor();
      // A push job names the contact, an apply job its event: either leads back to this contact.
      const backLink = new RegExp(`/admin/consent/#(contact=${contactId}|event=br-1)`);
      await waitFor(async () => backLink.test(await page.locator('body').innerText()), { what: 'the link back to the contact on the job page' });
      // Bull Board's header menu leads back to the operator page.
      await page.locator('ul[class*="actions"] > li').last().locator('button').click();
      await page.getByText('Dead letters, paused ESPs, contacts').click();
      await page.waitForURL(`${app.url}/admin/consent/`);

      await page.goto(`${app.url}/admin/consent/`);
      await ceRow.getByRole('button', { name: 'Resume' }).click();
      await page.locator('#message', { hasText: 'crossengage resumed' }).waitFor();
      expect(await app.ctx.runtime.queue('esp-sync-crossengage').isPaused()).toBe(false);
      await waitFor(async () => (await ceRow.innerText()).includes('running'), { what: 'crossengage shown running' });
    } finally {
      await browser.close();
    }
  });
});

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

/** Debian's Chromium, driven headless by playwright-core (no Playwright browser download). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Fails (never skips) when Chromium is missing, saying how to install it. */
export function assertChromiumInstalled(): void {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}. The Bull Board browser test needs Debian's chromium package: ` +
        'run `apt-get install -y chromium` as root (or `sudo apt-get install -y chromium`), then re-run the tests. ' +
        '.ci/run installs it on CI machines.',
    );
  }
}

/**
 * A headless Chromium with a fresh, throw-away profile (--user-data-dir, via Playwright's
 * persistent context, which is how Playwright accepts one), that can reach only `allowedOrigin`:
 * every other request (e.g. the board's web fonts) is aborted, so the test never touches the network.
 */
export async function launchChromium(
  allowedOrigin: string,
  options: { httpCredentials?: { username: string; password: string } } = {},
): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  assertChromiumInstalled();
  const userDataDir = mkdtempSync(join(tmpdir(), 'consent-sync-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 900 },
    ...(options.httpCredentials
      ? { httpCredentials: { ...options.httpCredentials, origin: allowedOrigin } }
      : {}),
  });
  await context.route('**/*', (route) =>
    new URL(route.request().url()).origin === allowedOrigin ? route.continue() : route.abort(),
  );
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

#!/usr/bin/env node
/**
 * The `consent-sync` command (package.json bin). Plain JavaScript so that it runs before
 * anything is compiled: `npx consent-sync` works in a fresh clone after `npm ci`, no build step.
 *
 * - In a clone (devDependencies installed) it runs the TypeScript source through tsx, so the
 *   command is never an older build than the code beside it.
 * - In a production install (`npm ci --omit=dev`, no tsx) it runs the build, dist/src/bin/cli.js,
 *   which the deployment makes with `npm run build` before it prunes devDependencies.
 * - With neither, it says so in one line and exits 2.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, 'cli.ts');
const built = join(here, '..', '..', 'dist', 'src', 'bin', 'cli.js');

async function tsxRegister() {
  try {
    return (await import('tsx/esm/api')).register;
  } catch {
    return undefined; // devDependencies omitted: a production install
  }
}

const register = existsSync(source) ? await tsxRegister() : undefined;
if (register) {
  register();
  await import(pathToFileURL(source).href);
} else if (existsSync(built)) {
  await import(pathToFileURL(built).href);
} else {
  process.stderr.write(
    'consent-sync: neither tsx (a devDependency) nor a build (dist/src/bin/cli.js) is installed; run `npm ci` for development or `npm run build` for production\n',
  );
  process.exit(2);
}

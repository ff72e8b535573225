import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder of consent-sync's package.json (from src/ or dist/src/ alike). */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'consent-sync') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('could not find the consent-sync project root');
    dir = parent;
  }
}

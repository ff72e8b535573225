/**
 * Rewrites the README's configuration tables from the zod schemas (`npm run docs:env`), so the
 * documentation of every setting cannot drift from the code; a unit test checks the result.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fullEnvSchema } from '../../config/index.js';
import { coreEnvSchema } from '../../config/env.schema.js';
import { describeEnvSchema, envTableMarkdown } from './env-docs.js';
import { projectRoot } from './mongo-server.js';

const readmePath = join(projectRoot(), 'README.md');
const core = new Set(Object.keys(coreEnvSchema.shape));
const all = describeEnvSchema(fullEnvSchema);
const tables: Record<string, string> = {
  core: envTableMarkdown(all.filter((d) => core.has(d.name))),
  esp: envTableMarkdown(all.filter((d) => !core.has(d.name))),
};
let readme = readFileSync(readmePath, 'utf8');
for (const [name, table] of Object.entries(tables)) {
  const pattern = new RegExp(`(<!-- env-table:${name} -->\\n)[\\s\\S]*?(\\n<!-- /env-table:${name} -->)`);
  if (!pattern.test(readme)) throw new Error(`README has no env-table:${name} markers`);
  readme = readme.replace(pattern, `$1${table}$2`);
}
writeFileSync(readmePath, readme);
console.log(`README tables updated: ${all.length} variables`);

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fullEnvSchema } from '../../../config/index.js';
import { describeEnvSchema } from '../../../src/dev/env-docs.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

describe('README configuration table', () => {
  it.each(describeEnvSchema(fullEnvSchema).map((d) => [d.name, d] as const))('documents %s with its default', (name, doc) => {
    const row = readme.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
    expect(row, `README has no row for ${name}`).toBeDefined();
    if (doc.defaultValue !== '—') expect(row).toContain(`\`${doc.defaultValue}\``);
    expect(doc.description.length).toBeGreaterThan(10);
  });
});

import type { z } from 'zod';

export interface EnvVarDoc {
  name: string;
  defaultValue: string;
  description: string;
}

/** Reads names, defaults and descriptions off a zod object schema, for the README table. */
export function describeEnvSchema(schema: z.ZodObject): EnvVarDoc[] {
  return Object.entries(schema.shape).map(([name, field]) => {
    const type = field as z.ZodType & { description?: string };
    const parsed = type.safeParse(undefined);
    const defaultValue = parsed.success && parsed.data !== undefined ? JSON.stringify(parsed.data) : '—';
    return { name, defaultValue: defaultValue.replace(/^"(.*)"$/, '$1'), description: type.description ?? '' };
  });
}

export function envTableMarkdown(docs: readonly EnvVarDoc[]): string {
  const rows = docs.map((d) => `| \`${d.name}\` | ${d.defaultValue === '—' ? '—' : `\`${d.defaultValue}\``} | ${d.description} |`);
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

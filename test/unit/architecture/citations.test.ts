import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const SPEC = join(root, 'src', 'spec');
const CITED = ['product', 'esp-contracts', 'reliability', 'mongo-compat', 'bullmq-notes', 'architecture'] as const;

/** Section numbers a document's headings carry: "## 3. ESP sync" → 3, "### 1.2 REST API" → 1.2. */
function sectionsOf(markdown: string): Set<string> {
  const sections = new Set<string>();
  for (const match of markdown.matchAll(/^#{1,6}\s+(\d+(?:\.\d+)*)[.\s]/gm)) if (match[1]) sections.add(match[1]);
  return sections;
}

/** Every `<doc>.md` citation in a text, with the § numbers that follow it (`§1.2, §2.5`). */
function citationsIn(text: string): { doc: string; sections: string[] }[] {
  const out: { doc: string; sections: string[] }[] = [];
  const pattern = new RegExp(`\\b(${CITED.join('|')})\\.md((?:[\\s,;/and]*§\\s*\\d+(?:\\.\\d+)*)*)`, 'g');
  for (const match of text.matchAll(pattern)) {
    const sections = [...(match[2] ?? '').matchAll(/§\s*(\d+(?:\.\d+)*)/g)].map((s) => s[1] ?? '');
    out.push({ doc: match[1] ?? '', sections });
  }
  return out;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return path === SPEC ? [] : filesUnder(path);
    return /\.(ts|mts|mjs|java)$/.test(name) ? [path] : [];
  });
}

describe('citations of the specification', () => {
  const specSections = new Map<string, Set<string>>();
  const sectionsOfDoc = (doc: string) => {
    let sections = specSections.get(doc);
    if (sections === undefined) {
      try {
        sections = sectionsOf(readFileSync(join(SPEC, `${doc}.md`), 'utf8'));
      } catch {
        sections = new Set();
      }
      specSections.set(doc, sections);
    }
    return sections;
  };

  it('every <document>.md §N in src/, jobs/ and config/ names a section of a document in src/spec/', () => {
    const broken: string[] = [];
    let checked = 0;
    for (const file of ['src', 'jobs', 'config'].flatMap((folder) => filesUnder(join(root, folder)))) {
      for (const { doc, sections } of citationsIn(readFileSync(file, 'utf8'))) {
        const known = sectionsOfDoc(doc);
        const where = file.slice(root.length);
        if (known.size === 0) broken.push(`${where}: ${doc}.md is not in src/spec/`);
        for (const section of sections) {
          checked += 1;
          if (!known.has(section)) broken.push(`${where}: ${doc}.md §${section} has no such heading`);
        }
      }
    }
    expect(broken).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  });

  it('reads headings and citations as they are written', () => {
    expect([...sectionsOf('# T\n## 1. Model\n### 1.2 REST API\n## Notes\n')]).toEqual(['1', '1.2']);
    expect(citationsIn('see esp-contracts.md §1.2, §2.5 and §3; product.md §1 rule 4; reliability.md')).toEqual([
      { doc: 'esp-contracts', sections: ['1.2', '2.5', '3'] },
      { doc: 'product', sections: ['1'] },
      { doc: 'reliability', sections: [] },
    ]);
  });
});

import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ESP_NAMES } from '../../../src/esp/types.js';
import { type ImportGraph, importCycles, importGraph } from '../../support/import-graph.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const graph = importGraph(root, ['src', 'jobs', 'config']);

/** Each rule: files under `from` may not import files under any of `forbidden`. */
const RULES: ReadonlyArray<{ from: string; forbidden: readonly string[]; why: string }> = [
  {
    from: 'src/domain/',
    forbidden: ['src/', 'jobs/', 'config/'],
    why: 'the consent rules are pure: they import nothing of ours but src/contracts/',
  },
  {
    from: 'src/contracts/',
    forbidden: ['src/services/', 'src/persistence/', 'src/queues/', 'src/lib/', 'src/web/', 'src/esp/', 'jobs/'],
    why: 'the shared schemas are read by the API, the client and the jobs, and depend on none of them',
  },
  {
    from: 'src/persistence/',
    forbidden: ['src/services/', 'src/web/', 'src/lib/', 'src/queues/', 'jobs/', 'src/cli/', 'src/metrics/'],
    why: 'models and queries know documents, not the stages that use them',
  },
  {
    from: 'src/esp/',
    forbidden: ['src/services/', 'src/web/', 'src/lib/', 'src/queues/', 'jobs/', 'src/persistence/', 'src/metrics/'],
    why: 'an adapter speaks to its ESP; the delivery stage decides when and what',
  },
  {
    from: 'src/services/',
    forbidden: ['src/web/', 'src/cli/', 'src/bin/', 'src/dev/'],
    why: 'the stages are driven by the HTTP API, the CLI and the workers, never the other way',
  },
  {
    from: 'src/client/',
    forbidden: ['src/services/', 'src/persistence/', 'src/queues/', 'src/lib/', 'src/web/', 'src/esp/', 'jobs/', 'config/'],
    why: 'the client ships to app servers and carries only the shared contracts',
  },
];

function violations(of: ImportGraph, rule: (typeof RULES)[number]): string[] {
  const allowedInDomain = (target: string) =>
    rule.from === 'src/domain/' && (target.startsWith('src/domain/') || target.startsWith('src/contracts/'));
  return [...of].flatMap(([file, targets]) =>
    file.startsWith(rule.from)
      ? targets
          .filter((target) => !target.startsWith(rule.from) || rule.from === 'src/domain/')
          .filter((target) => rule.forbidden.some((prefix) => target.startsWith(prefix)) && !allowedInDomain(target))
          .map((target) => `${file} → ${target}`)
      : [],
  );
}

const espFolderOf = (file: string) =>
  ESP_NAMES.find((esp) => file.startsWith(`src/esp/${esp}/`) || file.startsWith(`src/simulators/${esp}/`));

describe('architecture: imports point inward', () => {
  it('has no runtime import cycle in src/, jobs/ or config/', () => {
    expect(importCycles(graph)).toEqual([]);
  });

  for (const rule of RULES) {
    it(`${rule.from} imports none of ${rule.forbidden.join(', ')} (${rule.why})`, () => {
      expect(violations(graph, rule)).toEqual([]);
    });
  }

  it("an ESP's folder never imports another ESP's folder", () => {
    const crossings = [...graph].flatMap(([file, targets]) => {
      const own = espFolderOf(file);
      if (own === undefined) return [];
      return targets.filter((target) => (espFolderOf(target) ?? own) !== own).map((target) => `${file} → ${target}`);
    });
    expect(crossings).toEqual([]);
  });

  it('reads the graph it checks: the entry points reach the domain', () => {
    expect(graph.size).toBeGreaterThan(100);
    const reachable = new Set<string>();
    const walk = (file: string) => {
      if (reachable.has(file)) return;
      reachable.add(file);
      for (const next of graph.get(file) ?? []) walk(next);
    };
    walk('src/bin/worker.ts');
    expect([...reachable].some((file) => file.startsWith('src/domain/'))).toBe(true);
  });
});

describe('architecture: the checks themselves', () => {
  it('finds a cycle of two files, a self-import, and none in a chain', () => {
    const cyclic: ImportGraph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['a.ts', 'c.ts']],
      ['c.ts', []],
      ['d.ts', ['d.ts']],
    ]);
    expect(importCycles(cyclic)).toEqual([['a.ts', 'b.ts'], ['d.ts']]);
    expect(importCycles(new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', []]]))).toEqual([]);
  });

  it('flags a forbidden import and lets the domain import the contracts', () => {
    const domainRule = RULES[0];
    if (domainRule === undefined) throw new Error('no domain rule');
    const sample: ImportGraph = new Map([
      ['src/domain/a.ts', ['src/contracts/x.ts', 'src/domain/b.ts', 'src/persistence/models.ts']],
    ]);
    expect(violations(sample, domainRule)).toEqual(['src/domain/a.ts → src/persistence/models.ts']);
  });
});

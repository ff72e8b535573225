import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type ImportGraph, importCycles, importGraph } from '../../support/import-graph.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
// test/fixtures/esp holds an ESP folder too (the sixth, fake ESP): it obeys the same rules.
const graph = importGraph(root, ['src', 'jobs', 'config', 'test/fixtures/esp']);

/** The stages an event passes through: ingest → apply → delivery, and reconcile beside them; operate reads them. */
const STAGES = ['src/ingest/', 'src/apply/', 'src/delivery/', 'src/reconcile/', 'src/operate/'] as const;
/** What drives the stages: processes, the composition root, the HTTP API and the CLI. */
const DRIVERS = ['src/bin/', 'src/app/', 'src/web/', 'src/cli/', 'src/dev/', 'src/scheduler/', 'jobs/'] as const;

/** Each rule: files under `from` may not import files under any of `forbidden`. */
const RULES: ReadonlyArray<{ from: string; forbidden: readonly string[]; why: string }> = [
  {
    from: 'src/domain/',
    forbidden: ['src/', 'jobs/', 'config/'],
    why: 'the consent rules are pure: they import nothing of ours but src/contracts/',
  },
  {
    from: 'src/contracts/',
    forbidden: [...STAGES, ...DRIVERS, 'src/persistence/', 'src/queues/', 'src/lib/', 'src/esp/'],
    why: 'the shared schemas are read by the API, the client and the jobs, and depend on none of them',
  },
  {
    from: 'src/persistence/',
    forbidden: [...STAGES, ...DRIVERS, 'src/queues/', 'src/metrics/'],
    why: 'models and queries know documents, not the stages that use them',
  },
  {
    from: 'src/esp/',
    forbidden: [...STAGES, ...DRIVERS, 'src/persistence/', 'src/metrics/', 'config/'],
    why: 'an adapter speaks to its ESP; the delivery stage decides when and what; each ESP declares its own settings, which config/ composes',
  },
  ...STAGES.map((stage) => ({
    from: stage,
    forbidden: [...DRIVERS, ...STAGES.filter((other) => other !== stage && !(stage === 'src/operate/'))],
    why: 'a stage is driven by the processes, never the other way, and shares with other stages only through persistence, queues and the domain (operate reads them all)',
  })),
  {
    from: 'src/client/',
    forbidden: [...STAGES, ...DRIVERS, 'src/persistence/', 'src/queues/', 'src/lib/', 'src/esp/', 'config/'],
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

/** An ESP's folder (src/esp/<esp>/ but the shared kit, or a fixture's test/fixtures/esp/<esp>/), by its path. */
const ESP_FOLDER = /^(src\/esp\/(?!kit\/)[^/]+\/|test\/fixtures\/esp\/[^/]+\/)/;
const espFolderOf = (file: string) => ESP_FOLDER.exec(file)?.[1];

function crossings(of: ImportGraph): string[] {
  return [...of].flatMap(([file, targets]) => {
    const own = espFolderOf(file);
    if (own === undefined) return [];
    return targets.filter((target) => (espFolderOf(target) ?? own) !== own).map((target) => `${file} → ${target}`);
  });
}

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
    expect(crossings(graph)).toEqual([]);
    // The check reads every ESP folder, the fixture's among them.
    const folders = new Set([...graph.keys()].map(espFolderOf).filter((f) => f !== undefined));
    expect(folders).toContain('src/esp/ometria/');
    expect(folders).toContain('test/fixtures/esp/acme-mail/');
    expect(folders).not.toContain('src/esp/kit/');
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

  it("flags an ESP folder importing another's, and lets every ESP folder import the kit", () => {
    const sample: ImportGraph = new Map([
      ['test/fixtures/esp/acme-mail/a.ts', ['src/esp/kit/outcome.ts', 'src/esp/ometria/ometria.mapping.ts']],
      ['src/esp/actito/b.ts', ['src/esp/actito/c.ts', 'src/esp/types.ts']],
    ]);
    expect(crossings(sample)).toEqual(['test/fixtures/esp/acme-mail/a.ts → src/esp/ometria/ometria.mapping.ts']);
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

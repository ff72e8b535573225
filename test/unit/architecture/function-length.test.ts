import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { longFunctions, longFunctionsIn } from '../../support/function-lengths.js';
import { importGraph } from '../../support/import-graph.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const MAX_LINES = 80;

describe('architecture: functions a reader holds in mind', () => {
  it(`no function in src/, jobs/ or config/ is over ${MAX_LINES} lines without a "long because" comment`, () => {
    const files = [...importGraph(root, ['src', 'jobs', 'config']).keys()];
    expect(files.length).toBeGreaterThan(100);
    const unexplained = longFunctionsIn(files, root, MAX_LINES)
      .filter((f) => !f.reasoned)
      .map((f) => `${f.file}:${f.line} ${f.name} (${f.lines} lines)`);
    expect(unexplained).toEqual([]);
  });

  it('measures arrows, declarations and methods, and reads the reason above the declaring statement', () => {
    const body = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const text = [
      `export function declared() {\n${body(85)}\n}`,
      `/** A table of routes: long because it reads better whole. */\nexport const arrow = () => {\n${body(85)}\n};`,
      `class K {\n  method() {\n${body(85)}\n  }\n}`,
      `const short = () => {\n${body(10)}\n};`,
    ].join('\n');
    const found = longFunctions('sample.ts', text, MAX_LINES).map((f) => [f.name, f.reasoned]);
    expect(found).toEqual([
      ['declared', false],
      ['arrow', true],
      ['method', false],
    ]);
  });
});

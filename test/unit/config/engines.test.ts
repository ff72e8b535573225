import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../../src/dev/project-root.js';

/**
 * `engines`, the README and the locked dependency set agree: `npm ci` on the Node running the
 * tests (CI runs them on 20, 22 and 24) finds no locked package whose own `engines` refuses it.
 * npm does the checking itself (engine-strict; npm 11 checks against the running Node only), on
 * a copy of package.json and package-lock.json, offline: nothing is installed or fetched.
 */

const root = projectRoot();
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
const minimum = /^>=(\d+)\.(\d+)$/.exec(pkg.engines.node);

function npmEngineCheck(): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'consent-engines-'));
  try {
    for (const file of ['package.json', 'package-lock.json']) copyFileSync(join(root, file), join(dir, file));
    const run = spawnSync(
      'npm',
      ['install', '--package-lock-only', '--engine-strict', '--ignore-scripts', '--no-audit', '--no-fund', '--offline'],
      {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: process.env['PATH'] ?? '', HOME: dir, npm_config_cache: join(dir, '.npm') },
      },
    );
    return { status: run.status, output: `${run.stdout}${run.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('Node versions', () => {
  it('engines is ">=major.minor" and the README states the same version', () => {
    expect(minimum, `engines.node is ${pkg.engines.node}`).not.toBeNull();
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(readme).toContain(`Node ${minimum![1]}.${minimum![2]}+ (22 and 24 work too)`);
  });

  it(`every locked package accepts this Node (${process.version}), as npm ci --engine-strict would`, () => {
    const check = npmEngineCheck();
    expect(check.output).not.toContain('EBADENGINE');
    expect(check.status, check.output).toBe(0);
  });
});

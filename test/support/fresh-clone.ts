import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../src/dev/project-root.js';

const clones: string[] = [];

/**
 * A clone as `git clone` + `npm ci` leaves it: the tracked sources and node_modules, no dist/
 * and no .consent-sync/. `nodeModules` null gives an empty node_modules (neither tsx nor a build).
 */
export function freshClone(nodeModules: string | null = join(projectRoot(), 'node_modules')): string {
  const root = projectRoot();
  const clone = mkdtempSync(join(tmpdir(), 'consent-clone-'));
  clones.push(clone);
  for (const entry of ['package.json', 'tsconfig.json', 'src', 'config', 'jobs']) cpSync(join(root, entry), join(clone, entry), { recursive: true });
  if (nodeModules) symlinkSync(nodeModules, join(clone, 'node_modules'));
  else mkdirSync(join(clone, 'node_modules'));
  return clone;
}

export function removeClones(): void {
  for (const clone of clones.splice(0)) rmSync(clone, { recursive: true, force: true });
}

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command in `cwd` as a user's terminal there would: PATH and HOME, plus `env`. */
export function runIn(cwd: string, command: string, args: readonly string[], env: Record<string, string> = {}): Promise<Finished> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd,
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * How `npm run dev` shares its stack with a second terminal: the settings it gave its own
 * processes (local Redis and MongoDB on random ports, simulator URLs and credentials), written to
 * `.consent-sync/dev.env` in the project (gitignored) while dev runs and removed when it stops.
 * The `consent-sync` CLI reads it; `npm run --silent dev -- --print-env` prints it for `eval`.
 * The format is shell: `KEY='value'`, so `set -a; . .consent-sync/dev.env` works too.
 */

export const DEV_ENV_FILE = join('.consent-sync', 'dev.env');

/** Any of these set in the environment means the CLI was pointed somewhere on purpose. */
const CONNECTION_VARS = ['REDIS_URL', 'REDIS_CLUSTER_NODES', 'MONGODB_URI'] as const;

const KEY = /^[A-Z_][A-Z0-9_]*$/;

const quote = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;

export function formatDevEnv(vars: Readonly<Record<string, string>>, prefix = ''): string {
  const lines = ['# written by `npm run dev` while it runs; removed when it stops'];
  for (const [key, value] of Object.entries(vars)) {
    if (!KEY.test(key)) throw new Error(`not an environment variable name: ${key}`);
    lines.push(`${prefix}${key}=${quote(value)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Reads what formatDevEnv wrote (with or without `export `); throws on a line it did not write. */
export function parseDevEnv(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(?:export )?([A-Z_][A-Z0-9_]*)='((?:[^']|'\\'')*)'$/.exec(line);
    if (!match) throw new Error(`${DEV_ENV_FILE} line ${i + 1}: expected KEY='value'`);
    vars[match[1]!] = match[2]!.replaceAll(`'\\''`, "'");
  }
  return vars;
}

export function writeDevEnv(root: string, vars: Readonly<Record<string, string>>): string {
  const file = join(root, DEV_ENV_FILE);
  mkdirSync(dirname(file), { recursive: true });
  // Credentials of local simulators only, but still nothing for other users to read.
  writeFileSync(file, formatDevEnv(vars), { mode: 0o600 });
  return file;
}

export function removeDevEnv(root: string): void {
  rmSync(join(root, DEV_ENV_FILE), { force: true });
}

export function readDevEnv(root: string): Record<string, string> | undefined {
  const file = join(root, DEV_ENV_FILE);
  return existsSync(file) ? parseDevEnv(readFileSync(file, 'utf8')) : undefined;
}

/**
 * The CLI's environment: the running dev stack's settings under the caller's own, but only when
 * the caller named no Redis or MongoDB at all, so the file never mixes with a real connection.
 */
export function withDevEnv(
  env: Readonly<Record<string, string | undefined>>,
  devEnv: Readonly<Record<string, string>> | undefined,
): { env: Record<string, string | undefined>; usedDevEnv: boolean } {
  if (!devEnv || CONNECTION_VARS.some((name) => env[name])) return { env: { ...env }, usedDevEnv: false };
  return { env: { ...devEnv, ...env }, usedDevEnv: true };
}

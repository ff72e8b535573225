import { ConfigError, loadConfig } from '../../../config/index.js';

/** The problems loadConfig reports for `env`, each naming its variable; fails if it reports none. */
export function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error('expected a ConfigError');
}

import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../config/index.js';
import { schedules } from '../../../src/scheduler/scheduler.js';

const reconcilePatterns = (env: Record<string, string>, esps: readonly string[]) =>
  Object.fromEntries(
    schedules(loadConfig(env), esps)
      .filter((s) => s.id.startsWith('reconcile-'))
      .map((s) => [s.id, s.pattern]),
  );

describe('reconciliation schedules', () => {
  it('run each ESP on RECONCILE_CRON unless its module gives it a schedule of its own (Dynamic Yield)', () => {
    expect(reconcilePatterns({}, ['ometria', 'dynamic-yield'])).toEqual({
      'reconcile-ometria': '0 3 * * *',
      'reconcile-dynamic-yield': '0 4 * * 0',
    });
    expect(
      reconcilePatterns({ RECONCILE_CRON: '0 1 * * *', RECONCILE_CRON_DYNAMIC_YIELD: '0 5 * * 1' }, ['ometria', 'dynamic-yield']),
    ).toEqual({ 'reconcile-ometria': '0 1 * * *', 'reconcile-dynamic-yield': '0 5 * * 1' });
  });

  it('name a bad schedule variable with its rule', () => {
    expect(() => loadConfig({ RECONCILE_CRON_DYNAMIC_YIELD: 'weekly' })).toThrow(ConfigError);
    expect(() => loadConfig({ RECONCILE_CRON_DYNAMIC_YIELD: 'weekly' })).toThrow(
      /RECONCILE_CRON_DYNAMIC_YIELD: a cron pattern of 5 or 6 fields/,
    );
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/metrics/metrics.js';

const root = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);

/** Metric selectors of a PromQL expression: each name with the label names its matcher uses. */
function selectors(expr: string): { name: string; labels: string[] }[] {
  const found: { name: string; labels: string[] }[] = [];
  // Grouping clauses list label names, not metrics; ranges hold durations.
  const text = expr
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ');
  const token = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?\s*(\()?/g;
  for (const match of text.matchAll(token)) {
    const [, name, matcher, call] = match;
    if (!name || call || KEYWORDS.has(name.toLowerCase())) continue;
    if (matcher === undefined && /^[0-9]/.test(name)) continue;
    const labels = [...(matcher ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"/g)].map((m) => m[1]!);
    found.push({ name, labels });
  }
  return found;
}

/** The app's metric names and label names, with the series a histogram adds. */
function registry(): Map<string, Set<string>> {
  const metrics = createMetrics();
  const names = new Map<string, Set<string>>();
  for (const metric of metrics.registry.getMetricsAsArray()) {
    const { name, labelNames = [] } = metric as unknown as { name: string; labelNames?: string[] };
    const type = (metric as unknown as { type: string }).type;
    const labels = new Set(labelNames);
    names.set(name, labels);
    if (type === 'histogram') {
      names.set(`${name}_bucket`, new Set([...labels, 'le']));
      names.set(`${name}_sum`, labels);
      names.set(`${name}_count`, labels);
    }
  }
  return names;
}

function alertExpressions(): { alert: string; expr: string; severity: string | undefined }[] {
  const rules: { alert: string; expr: string; severity: string | undefined }[] = [];
  let current: { alert: string; expr: string; severity: string | undefined } | undefined;
  for (const line of read('config/prometheus/alerts.yml').split('\n')) {
    const alert = /^\s*- alert:\s*(\S+)\s*$/.exec(line);
    if (alert) {
      current = { alert: alert[1]!, expr: '', severity: undefined };
      rules.push(current);
      continue;
    }
    const expr = /^\s*expr:\s*(.+)$/.exec(line);
    if (expr && current) current.expr = expr[1]!.trim();
    const severity = /^\s*severity:\s*(\S+)\s*$/.exec(line);
    if (severity && current) current.severity = severity[1];
  }
  return rules;
}

function dashboardExpressions(): string[] {
  const dashboard = JSON.parse(read('config/grafana/consent-sync.json')) as { panels: { targets?: { expr: string }[] }[] };
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
}

function unknownNames(exprs: readonly string[]): string[] {
  const known = registry();
  const problems: string[] = [];
  for (const expr of exprs) {
    for (const { name, labels } of selectors(expr)) {
      const labelNames = known.get(name);
      if (!labelNames) problems.push(`${name} (in ${expr})`);
      else for (const label of labels) if (!labelNames.has(label)) problems.push(`${name} has no label ${label} (in ${expr})`);
    }
  }
  return problems;
}

describe('alert rules and dashboard name only metrics the app exports', () => {
  it('reads metric names and matcher labels out of PromQL (a misspelled metric or label is caught)', () => {
    expect(selectors('max by (esp, lane) (consent_sync_oldest_pending_seconds{lane!="3"}) > 900')).toEqual([
      { name: 'consent_sync_oldest_pending_seconds', labels: ['lane'] },
    ]);
    expect(selectors('histogram_quantile(0.99, sum by (queue, le) (rate(consent_sync_job_duration_seconds_bucket[5m])))')).toEqual([
      { name: 'consent_sync_job_duration_seconds_bucket', labels: [] },
    ]);
    expect(unknownNames(['max(consent_sync_dead_letter) > 0'])).toEqual(['consent_sync_dead_letter (in max(consent_sync_dead_letter) > 0)']);
    expect(unknownNames(['max(consent_sync_dead_letters{lane="1"}) > 0'])).toHaveLength(1);
  });

  it('every alert rule names existing metrics and labels, and has a severity', () => {
    const rules = alertExpressions();
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect(rule.expr, rule.alert).not.toBe('');
      expect(['warning', 'page', 'ticket'], rule.alert).toContain(rule.severity);
      expect(selectors(rule.expr).length, rule.alert).toBeGreaterThan(0);
    }
    expect(unknownNames(rules.map((r) => r.expr))).toEqual([]);
  });

  it('the rules cover the promised conditions: a person\'s opt-out over 1 h warns and over 24 h pages, dead letters, a paused ESP, queue lag', () => {
    const rules = alertExpressions();
    const optOut = rules.filter((r) => r.expr.includes('consent_sync_oldest_pending_optout_seconds{lane="1"}'));
    expect(optOut.map((r) => [r.severity, Number(/>\s*(\d+)/.exec(r.expr)?.[1])])).toEqual([
      ['warning', 3600],
      ['page', 86400],
    ]);
    expect(rules.some((r) => /consent_sync_dead_letters\)\s*>\s*0/.test(r.expr))).toBe(true);
    expect(rules.some((r) => r.expr.includes('consent_sync_esp_queue_paused'))).toBe(true);
    expect(rules.some((r) => r.expr.includes('consent_sync_oldest_pending_seconds'))).toBe(true);
    expect(rules.some((r) => r.expr.includes('consent_sync_queue_jobs'))).toBe(true);
  });

  it('every dashboard panel query names existing metrics and labels', () => {
    const exprs = dashboardExpressions();
    expect(exprs.length).toBeGreaterThan(5);
    for (const expr of exprs) expect(selectors(expr).length, expr).toBeGreaterThan(0);
    expect(unknownNames(exprs)).toEqual([]);
  });
});

/**
 * Scripted faults. A script holds rules (method + path prefix, or `*`) each with a queue of steps; every matching
 * ESP request consumes the next step of the first rule that still has steps. `latencyMs` is persistent.
 */
import { z } from 'zod';
import type { FaultRule, FaultScript, FaultStep } from './types.js';

const stepSchema = z
  .object({
    status: z.number().int().min(100).max(999).optional(),
    body: z.unknown().optional(),
    headers: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
    delayMs: z.number().min(0).optional(),
    reset: z.boolean().optional(),
    timeout: z.boolean().optional(),
  })
  .strict();

const ruleSchema = z
  .object({
    method: z.string().min(1).optional(),
    path: z.string().min(1),
    steps: z.array(stepSchema),
  })
  .strict();

export const faultScriptSchema = z
  .object({
    rules: z.array(ruleSchema).optional(),
    latencyMs: z.number().min(0).optional(),
  })
  .strict();

/** Validate an untrusted fault script (e.g. the body of `POST /__sim/faults`). */
export function parseFaultScript(value: unknown): FaultScript {
  const parsed = faultScriptSchema.parse(value);
  const script: FaultScript = {};
  if (parsed.latencyMs !== undefined) script.latencyMs = parsed.latencyMs;
  if (parsed.rules) {
    script.rules = parsed.rules.map((r) => {
      const rule: FaultRule = { path: r.path, steps: r.steps.map(copyStep) };
      if (r.method !== undefined) rule.method = r.method;
      return rule;
    });
  }
  return script;
}

function copyStep(s: { [K in keyof FaultStep]?: FaultStep[K] | undefined }): FaultStep {
  const step: FaultStep = {};
  if (s.status !== undefined) step.status = s.status;
  if (s.body !== undefined) step.body = s.body;
  if (s.headers !== undefined) step.headers = { ...s.headers };
  if (s.delayMs !== undefined) step.delayMs = s.delayMs;
  if (s.reset !== undefined) step.reset = s.reset;
  if (s.timeout !== undefined) step.timeout = s.timeout;
  return step;
}

export class FaultInjector {
  private rules: FaultRule[] = [];
  private latency = 0;

  constructor(private readonly baseLatencyMs = 0) {
    this.latency = baseLatencyMs;
  }

  set(script: FaultScript): void {
    this.rules = (script.rules ?? []).map((r) => ({ ...r, steps: r.steps.map(copyStep) }));
    this.latency = script.latencyMs ?? this.baseLatencyMs;
  }

  clear(): void {
    this.rules = [];
    this.latency = this.baseLatencyMs;
  }

  get latencyMs(): number {
    return this.latency;
  }

  /** Consume the next step for this request, if any rule matches. */
  take(method: string, path: string): FaultStep | undefined {
    for (const rule of this.rules) {
      if (rule.steps.length === 0 || !ruleMatches(rule, method, path)) continue;
      return rule.steps.shift();
    }
    return undefined;
  }

  /** Remaining script, for `GET /__sim/faults`. */
  snapshot(): FaultScript {
    return {
      latencyMs: this.latency,
      rules: this.rules.map((r) => ({ ...r, steps: r.steps.map(copyStep) })),
    };
  }
}

function ruleMatches(rule: FaultRule, method: string, path: string): boolean {
  const m = (rule.method ?? '*').toUpperCase();
  if (m !== '*' && m !== method.toUpperCase()) return false;
  return rule.path === '*' || path.startsWith(rule.path);
}

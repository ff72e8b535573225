/** CrossEngage header checks and error bodies (esp-contracts.md §2 headers, §2.2 v1 errors, §2.4 v2 error codes). */
import { fail } from '../../../simulators/core/reply.js';
import type { RouteHandler, SimRequest } from '../../../simulators/core/types.js';
import type { ResolvedCrossEngageOptions } from './crossengage.options.js';
import type { CrossEngageState } from './crossengage.state.js';

export interface CeDeps {
  state: CrossEngageState;
  opts: ResolvedCrossEngageOptions;
  authToken: string;
  now(): Date;
}

/** v1 error body, e.g. `{"field":"event","type":"UNKNOWN_VALUE"}` (§2.2). */
export function v1Fail(status: number, field: string, type: string): never {
  fail(status, { field, type });
}

/** v2 error body `{"errors":[{code,title,details,info,source:{pointer}}]}` (§2.3, codes §2.4). */
export function v2Fail(status: number, code: number, title: string, pointer = ''): never {
  fail(status, { errors: [{ code, title, details: title, info: '', source: { pointer } }] });
}

/** `v1`: endpoints that exist only in User Management v1 (opt-out, blacklist, events, leads). */
export type ApiScope = 'v1' | 'any';

/**
 * Both headers are checked on every call (§2 Simulator notes): a missing or wrong `X-XNG-AuthToken` → 401; a missing
 * `X-XNG-ApiVersion` → `missingVersionStatus` (NOT FOUND, default 400); a value other than 1/2 → 400.
 */
export function guarded(
  deps: CeDeps,
  scope: ApiScope,
  handler: (req: SimRequest, version: '1' | '2') => ReturnType<RouteHandler>,
): RouteHandler {
  return (req) => {
    if (req.header('x-xng-authtoken') !== deps.authToken) fail(401, { message: 'Unauthorized' });
    const version = req.header('x-xng-apiversion');
    if (version === undefined || version === '')
      v1Fail(deps.opts.missingVersionStatus, 'X-XNG-ApiVersion', 'MISSING_VALUE');
    if (version !== '1' && version !== '2') v1Fail(400, 'X-XNG-ApiVersion', 'UNKNOWN_VALUE');
    if (scope === 'v1' && version !== '1' && deps.opts.strictApiVersion)
      v1Fail(400, 'X-XNG-ApiVersion', 'UNKNOWN_VALUE');
    return handler(req, version);
  };
}

/** A JSON object body, or a 400 in the version's error format (v2 code 1 "Invalid JSON"). */
export function objectBody(req: SimRequest, version: '1' | '2'): Record<string, unknown> {
  let value: unknown;
  try {
    value = req.json();
  } catch {
    value = null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    if (version === '2') v2Fail(400, 1, 'Invalid JSON');
    v1Fail(400, 'body', 'INVALID_VALUE');
  }
  return value as Record<string, unknown>;
}

export function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Shared pieces of the Optimizely Campaign REST simulator: auth, media type, paging and sorting (§1.2). */
import type { OptimizelyCampaignSimCredentials } from './optimizely-campaign.options.js';
import { fail, json } from '../../../simulators/core/reply.js';
import type { RouteHandler, SimReply, SimRequest } from '../../../simulators/core/types.js';
import { intParam } from '../../../simulators/core/util.js';
import {
  isMediaType,
  type MediaType,
  type ResolvedOptimizelyOptions,
} from './optimizely-campaign.options.js';
import type { OptimizelyState, UnsubscribeEntry } from './optimizely-campaign.state.js';

export interface RestApiDeps {
  state: OptimizelyState;
  opts: ResolvedOptimizelyOptions;
  creds: OptimizelyCampaignSimCredentials;
  now(): Date;
  onUnsubscribe(entry: UnsubscribeEntry): void;
}

export const REST_BASE = '/rest/:clientId';
const VND = 'application/vnd.optivo.broadmail.v1+json';

/** JSON in the media type the client asked for (the vendor type when explicitly accepted). */
export function out(req: SimRequest, status: number, value: unknown): SimReply {
  const reply = json(status, value);
  if ((req.header('accept') ?? '').includes(VND)) reply.headers = { ...reply.headers, 'content-type': VND };
  return reply;
}

/** int64 ids are numbers in the vendor's JSON; the simulator keeps them as strings. */
export const num = (v: string | null): number | string | null =>
  v !== null && /^\d+$/.test(v) ? Number(v) : v;

/** HTTP Basic `apiUser:apiPassword` (401) and the path's clientId (404). */
export function restAuth(
  creds: OptimizelyCampaignSimCredentials,
): (handler: RouteHandler) => RouteHandler {
  return (handler) => (req) => {
    const header = req.header('authorization') ?? '';
    const decoded = header.startsWith('Basic ')
      ? Buffer.from(header.slice(6), 'base64').toString('utf8')
      : '';
    if (decoded !== `${creds.apiUser}:${creds.apiPassword}`) {
      fail(
        401,
        { error: 'Unauthorized' },
        { 'www-authenticate': 'Basic realm="optimizely-campaign-simulator"' },
      );
    }
    if (req.param('clientId') !== creds.clientId)
      fail(404, { error: `unknown client ${req.param('clientId')}` });
    return handler(req);
  };
}

export function page<T>(
  req: SimRequest,
  items: T[],
  maxLimit: number,
): { elements: T[]; offset: number; limit: number } {
  const offset = intParam(req.query.get('offset'), 0);
  const limit = intParam(req.query.get('limit'), 100);
  if (offset === undefined || limit === undefined) fail(400, { error: 'invalid offset or limit' });
  if (limit >= maxLimit)
    fail(400, { error: `Invalid limit request. Change the limit to less than ${maxLimit}.` });
  return { elements: items.slice(offset, offset + limit), offset, limit };
}

export function sortBy<T>(
  req: SimRequest,
  items: T[],
  allowed: Record<string, (x: T) => string | number>,
): T[] {
  const sort = req.query.get('sort') ?? 'created';
  const direction = (req.query.get('direction') ?? 'ASC').toUpperCase();
  const key = allowed[sort];
  if (!key || (direction !== 'ASC' && direction !== 'DESC'))
    fail(400, { error: 'invalid sort or direction' });
  const sign = direction === 'DESC' ? -1 : 1;
  // Ties keep insertion order (ASC) or its reverse (DESC).
  return items
    .map((item, index) => ({ item, index, k: key(item) }))
    .sort((a, b) => (a.k < b.k ? -sign : a.k > b.k ? sign : sign * (a.index - b.index)))
    .map((x) => x.item);
}

export function mediaParam(value: string | null, fallback: MediaType | 'ALL'): MediaType | 'ALL' {
  if (value === null || value === '') return fallback;
  if (!isMediaType(value)) fail(400, { error: `invalid mediaType ${value}` });
  return value;
}

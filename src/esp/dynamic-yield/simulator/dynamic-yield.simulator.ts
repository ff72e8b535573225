/**
 * Dynamic Yield simulator (esp-contracts.md §4): `DY-API-Key` check, the legacy event API
 * `POST /v2/collect/user/event` with `message-optout-v1` / `message-optin-v1` events, and the Reconnect endpoints
 * `POST /v2/userdata/channels/{channel}/opt-in|opt-out`. DY has no opt-status read-back (§4.4): the state is
 * visible only through `/__sim/state`. No webhooks.
 *
 * Recipient key in `/__sim/state`: the identifier the event carried: `pushID` (channel push), the cuid
 * (`plainTextEmail` lower-cased, `hashedEmail`, `externalId`, phone number) for script-side email/SMS events, and for
 * Reconnect the first string of `identifier.{email, emailAddress, phone, phoneNumber, externalId, customId, id,
 * value}` (INFERENCE: the identifier schema is NOT FOUND, §4.3); emails are lower-cased.
 * Canonical mapping: opt-in → opted_in, opt-out → opted_out on push (pushID), email (email/hashed/external cuids and
 * the `email` Reconnect channel) or sms (phone number cuid, `sms` Reconnect channel). Tracking: none.
 * ESP detail keys: `events` (every accepted event incl. custom ones), `reconnect`, `host`.
 *
 * Acted-out unsubscribes (`POST /__sim/unsubscribe`) only change `/__sim/state` (nothing to read back).
 */
import { TokenBucket } from '../../../simulators/core/limits.js';
import type { SimContext, SimulatorDefinition } from '../../../simulators/core/definition.js';
import { empty, fail, isRecord, json } from '../../../simulators/core/reply.js';
import { Router } from '../../../simulators/core/router.js';
import type {
  CanonicalChannel,
  RecipientConsent,
  RouteHandler,
  UnsubscribeInput,
  UnsubscribeResult,
} from '../../../simulators/core/types.js';
import { channelOf, eventTime, pushCapped } from '../../../simulators/core/util.js';
import type { DynamicYieldSimCredentials } from './dynamic-yield.options.js';
import { type DynamicYieldOptions, resolveDynamicYieldOptions } from './dynamic-yield.options.js';

const OPT_OUT = 'message-optout-v1';
const OPT_IN = 'message-optin-v1';
/** DOC §4.2: cuidTypes per event and the property carrying the value (INFERENCE for the opt-in value names). */
const CUID_FIELDS: Record<string, { field: string[]; channel: CanonicalChannel }> = {
  email: { field: ['plainTextEmail', 'cuid'], channel: 'email' },
  he: { field: ['hashedEmail', 'cuid'], channel: 'email' },
  hashedEmail: { field: ['hashedEmail', 'cuid'], channel: 'email' },
  external: { field: ['externalId', 'cuid'], channel: 'email' },
  'phone number': { field: ['phoneNumber', 'phone', 'cuid'], channel: 'sms' },
};
const DOCUMENTED_CUID_TYPES: Record<string, string[]> = {
  [OPT_OUT]: ['email', 'external', 'he'],
  [OPT_IN]: ['hashedEmail', 'external', 'phone number'],
};
const IDENTIFIER_FIELDS = [
  'email',
  'emailAddress',
  'phone',
  'phoneNumber',
  'externalId',
  'customId',
  'id',
  'value',
];
const MAX_RECORDS = 5000;

interface ConsentRecord {
  channel: CanonicalChannel;
  value: 'opted_in' | 'opted_out';
  via: string;
  at: string;
}

interface Plan {
  key: string;
  channel: CanonicalChannel;
  value: ConsentRecord['value'];
}

function bad(message: string): never {
  return fail(400, { error: message });
}

/** One Dynamic Yield simulator's state: consent per recipient and channel, the events and Reconnect calls seen. */
interface DySim {
  opts: ReturnType<typeof resolveDynamicYieldOptions>;
  creds: DynamicYieldSimCredentials;
  ctx: SimContext;
  consent: Map<string, Map<CanonicalChannel, ConsentRecord>>;
  events: Record<string, unknown>[];
  reconnect: Record<string, unknown>[];
  bucket: TokenBucket | undefined;
}

function setConsent(
  { consent, ctx }: DySim,
  key: string,
  channel: CanonicalChannel,
  value: ConsentRecord['value'],
  via: string,
  at = ctx.now(),
): void {
  const m = consent.get(key) ?? new Map<CanonicalChannel, ConsentRecord>();
  consent.set(key, m);
  m.set(channel, { channel, value, via, at: at.toISOString() });
}

/** The key of the host (server-side or client-side, `direct.`) required, and the optional rate limit. */
const authed =
  ({ opts, creds, bucket }: DySim) =>
  (handler: RouteHandler): RouteHandler =>
  (req) => {
    const key = req.header('dy-api-key');
    const expected = opts.direct ? creds.clientApiKey : creds.apiKey;
    const otherKind = opts.direct ? creds.apiKey : creds.clientApiKey;
    if (key === otherKind) fail(opts.wrongKeyKindStatus, { error: 'API key not valid for this host' });
    if (key !== expected) fail(opts.missingKeyStatus, { error: 'Missing or invalid DY-API-Key' });
    if (bucket && !bucket.tryTake()) fail(429, { error: 'Too many requests' });
    return handler(req);
  };

/** Validate one opt-in/opt-out event and say what it changes (applied only once the whole request is valid). */
function planMessageEvent(
  opts: DySim['opts'],
  dyType: string,
  props: Record<string, unknown>,
): Plan {
  const value = dyType === OPT_IN ? 'opted_in' : 'opted_out';
  const { pushID, cuidType, channelType } = props;
  if (typeof pushID === 'string' || typeof pushID === 'number') {
    if (
      dyType === OPT_IN &&
      channelType !== undefined &&
      channelType !== 'APP_PUSH' &&
      channelType !== 'WEB_PUSH'
    ) {
      bad('channelType must be APP_PUSH or WEB_PUSH');
    }
    return { key: String(pushID), channel: 'push', value };
  }
  if (typeof cuidType !== 'string') return bad(`${dyType} needs pushID or cuidType`);
  const allowed = opts.strictCuidTypes ? (DOCUMENTED_CUID_TYPES[dyType] ?? []) : Object.keys(CUID_FIELDS);
  const spec = CUID_FIELDS[cuidType];
  if (!spec || !allowed.includes(cuidType)) return bad(`cuidType ${cuidType} is not valid for ${dyType}`);
  const raw = spec.field.map((f) => props[f]).find((v) => typeof v === 'string' && v !== '');
  if (typeof raw !== 'string')
    return bad(`${dyType} with cuidType ${cuidType} needs ${spec.field[0] ?? 'cuid'}`);
  return { key: raw.includes('@') ? raw.trim().toLowerCase() : raw, channel: spec.channel, value };
}

/** `POST /v2/collect/user/event`: every event validated before any is applied, so a 400 changes nothing. */
function collectEvents(sim: DySim): RouteHandler {
  const { opts, ctx } = sim;
  return (req) => {
    const body = req.json();
    if (!isRecord(body)) return bad('body must be a JSON object');
    const { user, session, events: list } = body;
    if (!isRecord(user) || Object.keys(user).length === 0)
      bad('user is required (dyid, dyid_server or id)');
    if (!isRecord(session) || Object.keys(session).length === 0)
      bad('session is required (dy, sessionId or custom)');
    if (!Array.isArray(list) || list.length === 0) bad('events must be a non-empty array');
    // Validate every event before applying any, so a 400 leaves the state unchanged.
    const parsed = list.map((e) => {
      if (!isRecord(e)) return bad('event must be an object');
      const { name, properties } = e;
      if (typeof name !== 'string' || name === '') bad('event name is required');
      const props = isRecord(properties) ? properties : {};
      const { dyType } = props;
      const type = typeof dyType === 'string' ? dyType : null;
      const plan = type === OPT_IN || type === OPT_OUT ? planMessageEvent(opts, type, props) : null;
      return { name, props, dyType: type, plan };
    });
    for (const e of parsed) {
      if (e.plan && e.dyType) setConsent(sim, e.plan.key, e.plan.channel, e.plan.value, e.dyType);
      const recipient = e.plan?.key ?? null;
      pushCapped(
        sim.events,
        {
          at: ctx.now().toISOString(),
          name: e.name,
          dyType: e.dyType,
          recipient,
          properties: e.props,
          user,
        },
        MAX_RECORDS,
      );
    }
    return empty(opts.collectSuccessStatus);
  };
}

/** `POST /v2/userdata/channels/{channel}/opt-in|opt-out` (Reconnect). */
function reconnectOpt(sim: DySim): RouteHandler {
  const { opts, ctx } = sim;
  return (req) => {
    const channel = req.param('channel');
    const action = req.param('action');
    if (action !== 'opt-in' && action !== 'opt-out') fail(404, { error: 'not found' });
    if (!opts.reconnectChannels.includes(channel)) bad(`unknown channel ${channel}`);
    const body = req.json();
    const identifier = isRecord(body) ? body['identifier'] : undefined;
    if (!isRecord(identifier)) return bad('identifier is required');
    const raw = IDENTIFIER_FIELDS.map((f) => identifier[f]).find((v) => typeof v === 'string' && v !== '');
    if (typeof raw !== 'string') return bad('identifier has no usable value');
    const key = raw.includes('@') ? raw.trim().toLowerCase() : raw;
    const canonical: CanonicalChannel | undefined =
      channel === 'email' || channel === 'sms' || channel === 'push' ? channel : undefined;
    if (canonical)
      setConsent(sim, key, canonical, action === 'opt-in' ? 'opted_in' : 'opted_out', `reconnect:${action}`);
    pushCapped(
      sim.reconnect,
      { at: ctx.now().toISOString(), channel, action, recipient: key, identifier },
      MAX_RECORDS,
    );
    return opts.reconnectSuccessBody === undefined ? empty(202) : json(202, opts.reconnectSuccessBody);
  };
}

/** What `/__sim/state` shows. */
function stateView({ consent, events, reconnect, opts }: DySim) {
  const recipients: Record<string, RecipientConsent> = {};
  for (const [key, m] of consent) {
    const c: RecipientConsent = {};
    for (const r of m.values()) c[r.channel] = r.value;
    recipients[key] = c;
  }
  return {
    recipients,
    consent: Object.fromEntries([...consent].map(([k, m]) => [k, Object.fromEntries(m)])),
    events: events.map((e) => ({ ...e })),
    reconnect: reconnect.map((r) => ({ ...r })),
    host: { region: opts.region, direct: opts.direct },
  };
}

export function createDynamicYieldSimulator(
  options: DynamicYieldOptions,
  creds: DynamicYieldSimCredentials,
  ctx: SimContext,
): SimulatorDefinition {
  const opts = resolveDynamicYieldOptions(options);
  const sim: DySim = {
    opts,
    creds,
    ctx,
    consent: new Map(),
    events: [],
    reconnect: [],
    bucket: opts.rateLimitPerSecond ? new TokenBucket(opts.rateLimitPerSecond) : undefined,
  };

  const routes = new Router();
  routes.post('/v2/collect/user/event', authed(sim)(collectEvents(sim)));
  routes.post('/v2/userdata/channels/:channel/:action', authed(sim)(reconnectOpt(sim)));

  const unsubscribe = (input: UnsubscribeInput): UnsubscribeResult => {
    const channel = channelOf(input);
    const type = input.type ?? 'unsubscribe';
    setConsent(sim, input.recipient, channel, 'opted_out', `sim:${type}`, eventTime(input, ctx.now));
    return { recipient: input.recipient, channel, type, webhook: false };
  };

  return {
    name: 'dynamic-yield',
    routes,
    hasWebhooks: false,
    unsubscribe,
    reset: () => {
      sim.consent.clear();
      sim.events = [];
      sim.reconnect = [];
      sim.bucket?.reset();
    },
    state: () => stateView(sim),
  };
}

import { pino, type DestinationStream, type Logger } from 'pino';
import { REDACTED, scrubString, scrubValue } from './redact.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level: string;
  format: 'json' | 'pretty';
  name?: string;
  /** Tests pass a stream to read what was logged. */
  destination?: DestinationStream;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/**
 * fastify logs its request and reply objects under `req` and `res`. pino runs the log formatter
 * before any serializer, and the scrubbing formatter copies own properties only, which a
 * request's getters are not: without this, every request line carried `req: {}` and `res: {}`.
 * The path only (a query may hold a token or an address), never headers or the client's IP.
 */
function summariseHttp(object: Record<string, unknown>): Record<string, unknown> {
  const { req, res } = object;
  if (!isObject(req) && !isObject(res)) return object;
  const out = { ...object };
  if (isObject(req) && typeof req['method'] === 'string') {
    out['req'] = { method: req['method'], url: typeof req['url'] === 'string' ? req['url'].split('?')[0] : undefined };
  }
  if (isObject(res) && typeof res['statusCode'] === 'number') out['res'] = { statusCode: res['statusCode'] };
  return out;
}

/** The one place pino is configured; every process and library logs through a child of this. */
export function createLogger(options: LoggerOptions): Logger {
  const base = {
    level: options.level,
    name: options.name ?? 'consent-sync',
    // Path redaction is the cheap first line; scrubbing by value below catches the rest.
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        '*.headers.authorization',
        '*.password',
        '*.token',
        '*.apiKey',
        '*.email',
        '*.phone',
      ],
      censor: REDACTED,
    },
    formatters: {
      log: (object: Record<string, unknown>) => scrubValue(summariseHttp(object)) as Record<string, unknown>,
    },
    hooks: {
      logMethod(this: Logger, args: unknown[], method: (...a: unknown[]) => void) {
        method.apply(
          this,
          args.map((a) => (typeof a === 'string' ? scrubString(a) : a)),
        );
      },
    },
    serializers: { err: (err: unknown) => scrubValue(err) },
  };
  if (options.destination) return pino(base, options.destination);
  if (options.format === 'pretty') {
    return pino({
      ...base,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  return pino(base);
}

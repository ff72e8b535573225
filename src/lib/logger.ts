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
      log: (object: Record<string, unknown>) => scrubValue(object) as Record<string, unknown>,
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

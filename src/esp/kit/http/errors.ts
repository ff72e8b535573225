import type { EspName } from '../../types.js';
import type { Classification, EspErrorKind } from './classify.js';

export type { EspErrorKind } from './classify.js';

/**
 * A failed ESP call whose `kind` says what happens next (src/README.md, "Failures, in one vocabulary"):
 * `retryable` → backoff and retry; `rate_limited` → wait (retryAfterMs when known) without using
 * up attempts; `permanent` → dead letter; `auth` → pause that ESP's queue and alert.
 *
 * It deliberately carries no `cause`: an underlying error may hold the request (its URL with
 * query credentials, its headers), and any logger that serialises causes would print them.
 */
export class EspError extends Error {
  readonly kind: EspErrorKind;
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly esp: EspName;

  constructor(
    esp: EspName,
    kind: EspErrorKind,
    message: string,
    extra: { status?: number; retryAfterMs?: number } = {},
  ) {
    super(message);
    this.name = 'EspError';
    this.esp = esp;
    this.kind = kind;
    if (extra.status !== undefined) this.status = extra.status;
    if (extra.retryAfterMs !== undefined) this.retryAfterMs = extra.retryAfterMs;
  }

  static from(esp: EspName, c: Classification): EspError {
    return new EspError(esp, c.kind, `${esp}: ${c.reason}`, {
      ...(c.status === undefined ? {} : { status: c.status }),
      ...(c.retryAfterMs === undefined ? {} : { retryAfterMs: c.retryAfterMs }),
    });
  }

  /** Matches across module copies too (name check), as BullMQ does for its own errors. */
  static is(err: unknown): err is EspError {
    return (
      err instanceof EspError ||
      (err instanceof Error && err.name === 'EspError' && 'kind' in err && 'esp' in err)
    );
  }
}

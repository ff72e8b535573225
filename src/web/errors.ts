import type { FastifyError, FastifyInstance } from 'fastify';

export interface Problem {
  field: string;
  rule: string;
}

/** One error shape for every 4xx: a code, a sentence, and each problem naming its field. */
export function errorBody(error: string, message: string, problems: readonly Problem[] = []) {
  return { error, message, ...(problems.length > 0 ? { problems } : {}) };
}

/** A 400 a body parser raises, naming the field and the rule (see json-body.ts). */
export class BodyError extends Error {
  readonly statusCode = 400;
  constructor(
    readonly code: string,
    message: string,
    readonly field: string,
    readonly rule: string,
  ) {
    super(message);
  }
}

/** 1048576 → "1 MiB", 262144 → "256 KiB", 1000 → "1000 bytes". */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

/** What a 4xx raised by fastify itself (body parsing and limits) says, with the field and rule. */
export function frameworkProblem(err: FastifyError, bodyLimit: number): { code: string; message: string; problem: Problem } {
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    const rule = `at most ${bodyLimit} bytes (${formatBytes(bodyLimit)})`;
    return { code: 'payload_too_large', message: `the body is larger than ${bodyLimit} bytes (${formatBytes(bodyLimit)}); nothing was stored`, problem: { field: '(body)', rule } };
  }
  if (err instanceof BodyError) return { code: err.code, message: err.message, problem: { field: err.field, rule: err.rule } };
  if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) {
    return { code: 'invalid_json', message: err.message, problem: { field: '(body)', rule: `must be valid JSON: ${err.message}` } };
  }
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return { code: 'unsupported_media_type', message: err.message, problem: { field: 'content-type', rule: err.message } };
  }
  return { code: 'bad_request', message: err.message, problem: { field: '(body)', rule: err.message } };
}

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const { code, message, problem } = frameworkProblem(err, request.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit ?? 1_048_576);
      return reply.code(status).send(errorBody(code, message, [problem]));
    }
    request.log.error({ err }, 'request failed');
    return reply.code(500).send(errorBody('internal_error', 'the request failed; nothing was lost, retry it'));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody('not_found', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );
}

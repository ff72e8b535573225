import type { FastifyError, FastifyInstance } from 'fastify';

export interface Problem {
  field: string;
  rule: string;
}

/** One error shape for every 4xx: a code, a sentence, and each problem naming its field. */
export function errorBody(error: string, message: string, problems: readonly Problem[] = []) {
  return { error, message, ...(problems.length > 0 ? { problems } : {}) };
}

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code =
        err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError
          ? 'invalid_json'
          : err.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
            ? 'payload_too_large'
            : err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
              ? 'unsupported_media_type'
              : 'bad_request';
      return reply.code(status).send(errorBody(code, err.message, [{ field: '(body)', rule: err.message }]));
    }
    request.log.error({ err }, 'request failed');
    return reply.code(500).send(errorBody('internal_error', 'the request failed; nothing was lost, retry it'));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody('not_found', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );
}

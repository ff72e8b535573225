import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BodyError, errorBody } from './errors.js';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** Whether a request has a body at all (a bodyless POST needs no content type). */
function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * 415 for a body that is not JSON, before it is read: fastify would otherwise parse text/plain
 * into a string and answer 400 "expected object", which hides what is wrong.
 */
export async function requireJsonBody(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  if (!BODY_METHODS.has(request.method) || !hasBody(request)) return undefined;
  const type = request.headers['content-type'];
  if (type !== undefined && JSON_TYPE.test(type)) return undefined;
  const given = type === undefined ? 'no Content-Type' : type.split(';')[0]!.trim();
  return reply
    .code(415)
    .send(
      errorBody('unsupported_media_type', `the body must be JSON (Content-Type: application/json), not ${given}`, [
        { field: 'content-type', rule: `must be application/json, not ${given}` },
      ]),
    );
}

/**
 * The path of the first key that could reach a prototype (`__proto__`, or `constructor` holding
 * `prototype`), or undefined. JSON.parse makes such keys plain own properties, harmless until
 * some later copy or merge treats them as the prototype: they are refused before anything does.
 */
export function forbiddenKeyPath(value: unknown, path: readonly string[] = []): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  for (const key of Object.keys(value)) {
    const child = (value as Record<string, unknown>)[key];
    if (key === '__proto__') return [...path, key].join('.');
    if (key === 'constructor' && typeof child === 'object' && child !== null && 'prototype' in child) {
      return [...path, key, 'prototype'].join('.');
    }
    const found = forbiddenKeyPath(child, [...path, key]);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * The JSON parser of the /v1/ API in place of fastify's, whose error for a `__proto__` key is
 * the same "Body is not valid JSON" as for a typo: here each says what it is and where.
 */
export function useExplainingJsonParser(scope: FastifyInstance): void {
  scope.removeContentTypeParser('application/json');
  scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    let value: unknown;
    try {
      value = JSON.parse(body as string);
    } catch (err) {
      const rule = `must be valid JSON: ${(err as Error).message}`;
      return done(new BodyError('invalid_json', `the body is not valid JSON: ${(err as Error).message}`, '(body)', rule), undefined);
    }
    const path = forbiddenKeyPath(value);
    if (path !== undefined) {
      const rule = 'no key may be named __proto__, nor constructor with a prototype inside (they could change object prototypes)';
      return done(new BodyError('forbidden_key', `the body has a forbidden key at ${path}`, path, rule), undefined);
    }
    done(null, value);
  });
}

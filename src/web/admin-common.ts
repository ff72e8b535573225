import type { FastifyReply } from 'fastify';
import { basicAuthHook } from './basic-auth.js';

/** The operator page beside Bull Board (web/admin.routes.ts); the board links to it. */
export const ADMIN_BASE_PATH = '/admin/consent';

/** Bull Board and the operator page share one login (BOARD_USERNAME / BOARD_PASSWORD) and realm, so a browser asks once. */
export function boardLoginHook(board: { username: string; password: string }) {
  return basicAuthHook({ username: board.username, password: board.password }, 'consent-sync board');
}

/** Admin pages are never framed, sniffed or leaked through a Referer to another site. */
export function setAdminPageHeaders(reply: FastifyReply): void {
  reply.header('x-frame-options', 'DENY');
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'same-origin');
}

/** Queue names: no ':' (BullMQ uses it as a key separator). */
export const QUEUE_APPLY = 'consent-apply';
export const QUEUE_MAINTENANCE = 'maintenance';
export const QUEUE_RECONCILE = 'reconcile';
export const ESP_QUEUE_PREFIX = 'esp-sync-';

const FIRST_LANE_INFIX = 'first-';

/** The ESP's queue for lanes 2 and 3 (other opt-outs, imports, repairs). */
export function espQueueName(esp: string): string {
  return `${ESP_QUEUE_PREFIX}${esp}`;
}

/**
 * The ESP's queue for lane 1, a person's own opt-outs. A queue of its own, with its own worker
 * slots: an import's push jobs waiting for the ESP's budget hold the other queue's slots, never
 * these. Both queues share the ESP's budget in each worker, where lane 1 goes first.
 */
export function espFirstLaneQueueName(esp: string): string {
  return `${ESP_QUEUE_PREFIX}${FIRST_LANE_INFIX}${esp}`;
}

/** Both queues of an ESP. */
export function espQueueNames(esp: string): string[] {
  return [espFirstLaneQueueName(esp), espQueueName(esp)];
}

/** The ESP an ESP queue belongs to; undefined for other queues. */
export function espOfQueue(name: string): string | undefined {
  if (!name.startsWith(ESP_QUEUE_PREFIX)) return undefined;
  const rest = name.slice(ESP_QUEUE_PREFIX.length);
  return rest.startsWith(FIRST_LANE_INFIX) ? rest.slice(FIRST_LANE_INFIX.length) : rest;
}

/** Every queue the workers run, for Bull Board, metrics and the worker process. */
export function allQueueNames(esps: readonly string[]): string[] {
  return [QUEUE_APPLY, ...esps.flatMap(espQueueNames), QUEUE_RECONCILE, QUEUE_MAINTENANCE];
}

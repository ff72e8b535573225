/** Queue names: no ':' (BullMQ uses it as a key separator). */
export const QUEUE_APPLY = 'consent-apply';
export const QUEUE_MAINTENANCE = 'maintenance';
export const QUEUE_RECONCILE = 'reconcile';
export const ESP_QUEUE_PREFIX = 'esp-sync-';

export function espQueueName(esp: string): string {
  return `${ESP_QUEUE_PREFIX}${esp}`;
}

/** Every queue the workers run, for Bull Board, metrics and the worker process. */
export function allQueueNames(esps: readonly string[]): string[] {
  return [QUEUE_APPLY, ...esps.map(espQueueName), QUEUE_RECONCILE, QUEUE_MAINTENANCE];
}

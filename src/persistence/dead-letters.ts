import type { Models } from './models.js';

/**
 * Contacts holding a dead letter for `esp`. A range on `at` (every dead letter has one) rather
 * than `$exists`, so the `deadLetters.<esp>.at` index answers it: counts at every scrape and
 * the operator's list stay cheap however many contacts there are.
 */
export function deadLetterFilter(esp: string): Record<string, unknown> {
  return { [`deadLetters.${esp}.at`]: { $gte: new Date(0) } };
}

export function countDeadLetters(models: Pick<Models, 'contacts'>, esp: string): Promise<number> {
  return models.contacts.countDocuments(deadLetterFilter(esp) as never);
}

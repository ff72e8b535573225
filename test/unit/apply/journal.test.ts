import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JOURNAL_CAP, JOURNAL_LENGTH, journalOverflow, trimJournal } from '../../../src/apply/journal.js';
import type { JournalEntry } from '../../../src/persistence/models.js';

const entry = (i: number): JournalEntry => ({
  eventId: `e${i}`,
  outcome: 'applied',
  previous: { marketing: {}, tracking: 'unknown' },
  next: { marketing: {}, tracking: 'unknown' },
  version: i,
  appliedAt: new Date(0),
});

/** A journal of n entries (oldest first), how many the write adds, and which events are unsettled. */
const journalCase = fc
  .integer({ min: 0, max: 160 })
  .chain((n) =>
    fc.record({
      journal: fc.constant(Array.from({ length: n }, (_, i) => entry(i))),
      added: fc.integer({ min: 0, max: n }),
      unsettled: fc.subarray(Array.from({ length: n }, (_, i) => `e${i}`)).map((ids) => new Set(ids)),
    }),
  );

describe('journal trimming (an entry leaves only once its event is settled)', () => {
  it('keeps the window and every unsettled entry, in order, within the cap', () => {
    fc.assert(
      fc.property(journalCase, ({ journal, added, unsettled }) => {
        const before = journal.slice(0, journal.length - added);
        const kept = trimJournal(before, journal, unsettled);
        const window = Math.max(JOURNAL_LENGTH, added);
        const ids = kept.map((j) => j.eventId);
        // order preserved: a subsequence of the journal
        expect(kept.map((j) => j.version)).toEqual([...kept.map((j) => j.version)].sort((a, b) => a - b));
        // the newest `window` entries (every one this write adds) are always kept
        for (const j of journal.slice(-window)) expect(ids).toContain(j.eventId);
        // an older entry stays exactly when its event is unsettled, unless the cap takes it
        const older = journal.slice(0, Math.max(0, journal.length - window));
        const keptOlder = older.filter((j) => unsettled.has(j.eventId));
        expect(kept.length).toBe(Math.min(keptOlder.length + Math.min(window, journal.length), Math.max(JOURNAL_CAP, window)));
        for (const j of older) if (!unsettled.has(j.eventId)) expect(ids).not.toContain(j.eventId);
        if (keptOlder.length + window <= JOURNAL_CAP) for (const j of keptOlder) expect(ids).toContain(j.eventId);
        // what may be dropped is exactly what lies beyond the window
        expect(journalOverflow(before, journal)).toEqual(older.map((j) => j.eventId));
      }),
      { numRuns: 300 },
    );
  });

  it('with every event settled, keeps the last JOURNAL_LENGTH entries (or all this write adds)', () => {
    const journal = Array.from({ length: 25 }, (_, i) => entry(i));
    expect(trimJournal(journal.slice(0, 24), journal, new Set()).map((j) => j.eventId)).toEqual(journal.slice(-JOURNAL_LENGTH).map((j) => j.eventId));
    expect(trimJournal(journal.slice(0, 11), journal, new Set())).toHaveLength(14);
  });
});

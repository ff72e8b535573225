import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withContactLinks } from '../../../src/web/board.js';

describe('Bull Board job data links to the operator page', () => {
  it('a push job links each of its contacts, an apply job each of its events', () => {
    const id = '97f69956-4b50-4c1e-9a8d-bd133b645caa';
    expect(withContactLinks({ contactIds: [id], lane: 1 }, { contactIds: [id], lane: 1 })).toEqual({
      contactIds: [id],
      lane: 1,
      contactPages: [`/admin/consent/#contact=${id}`],
    });
    expect(withContactLinks({ eventIds: ['e-1'] }, { eventIds: ['e-1'] })).toMatchObject({ contactPages: ['/admin/consent/#event=e-1'] });
    // Links come from the job's own ids, whatever the display did to them.
    expect(withContactLinks({ contactIds: [id] }, { contactIds: ['[redacted]'] })).toMatchObject({ contactPages: [`/admin/consent/#contact=${id}`] });
    expect(withContactLinks({ runId: 'r-1' }, { runId: 'r-1' })).toEqual({ runId: 'r-1' });
  });

  it('lists at most 20 links and says how many more there are', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.uuid(), { maxLength: 60 }), (ids) => {
        const shown = withContactLinks({ contactIds: ids }, { contactIds: ids }) as { contactPages?: string[] };
        if (ids.length === 0) {
          expect(shown.contactPages).toBeUndefined();
          return;
        }
        const links = shown.contactPages!;
        expect(links.slice(0, 20)).toEqual(ids.slice(0, 20).map((id) => `/admin/consent/#contact=${id}`));
        expect(links.length).toBe(Math.min(ids.length, 21));
        if (ids.length > 20) expect(links.at(-1)).toBe(`… ${ids.length - 20} more`);
      }),
    );
  });
});

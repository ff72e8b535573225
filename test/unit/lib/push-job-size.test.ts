import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.js';
import { contactsPerPushJob } from '../../../src/app/wiring/esp-sync.js';

describe('contactsPerPushJob: about 2 s of the ESP’s request budget', () => {
  const config = loadConfig({});
  it('counts the contacts one request really carries, not the contacts one push() call groups', () => {
    // CrossEngage: 10 requests/s, one person per request although push() takes 50 at a time.
    expect(contactsPerPushJob(config, 'crossengage', { maxBatch: 50, contactsPerRequest: 1 })).toBe(20);
    // Ometria: 8 requests/s of 100 records.
    expect(contactsPerPushJob(config, 'ometria', { maxBatch: 100 })).toBe(1_600);
    // Actito: 100 calls a minute, one profile each: a job of 3 contacts.
    expect(contactsPerPushJob(config, 'actito', { maxBatch: 1 })).toBe(3);
  });

  it('never exceeds PUSH_JOB_MAX_CONTACTS', () => {
    expect(contactsPerPushJob(config, 'optimizely-campaign', { maxBatch: 500 })).toBe(2_000);
    expect(contactsPerPushJob(loadConfig({ PUSH_JOB_MAX_CONTACTS: '100' }), 'ometria', { maxBatch: 100 })).toBe(100);
  });
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { unzip, zipOneFile } from '../../../src/lib/zip.js';

describe('one-file ZIP', () => {
  it('reads back what it wrote, names and bytes alike', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), fc.uint8Array({ maxLength: 5_000 }), (name, bytes) => {
        const files = unzip(zipOneFile(name, Buffer.from(bytes)));
        expect(files).toHaveLength(1);
        expect(files[0]!.name).toBe(name);
        expect(Buffer.compare(files[0]!.content, Buffer.from(bytes))).toBe(0);
      }),
    );
  });

  it('writes an archive a standard tool accepts (python zipfile)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'zip-'));
    const path = join(dir, 'a.zip');
    writeFileSync(path, zipOneFile('profiles.csv', Buffer.from('emailAddress;marketingConsent\nä@example.com;true\n')));
    const out = execFileSync('python3', ['-c', 'import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); print(z.testzip(), z.namelist()[0], z.read("profiles.csv").decode())', path]).toString();
    expect(out).toContain('None profiles.csv');
    expect(out).toContain('ä@example.com;true');
  });

  it('refuses what is not a ZIP, and a corrupted entry', () => {
    expect(() => unzip(Buffer.from('emailAddress;marketingConsent'))).toThrow(/not a ZIP/);
    const zip = zipOneFile('x.csv', Buffer.from('hello hello hello'));
    const corrupt = Buffer.from(zip);
    const centralAt = corrupt.readUInt32LE(corrupt.length - 22 + 16);
    corrupt.writeUInt32LE(1, centralAt + 16); // the CRC the central directory records
    expect(() => unzip(corrupt)).toThrow();
  });
});

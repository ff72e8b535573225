import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';

/**
 * A ZIP archive of exactly one file, as Actito's bulk import takes it ("a ZIP file containing a
 * single UTF-8 CSV file"), written and read here so no archive library is needed for one entry.
 * Layout (PKWARE APPNOTE 4.3): local file header, deflated data, central directory entry, end of
 * central directory. No ZIP64: files stay far below 4 GB (Actito refuses zips above 100 MB).
 */

const LOCAL = 0x04034b50;
const CENTRAL = 0x02014b50;
const END = 0x06054b50;
const DEFLATE = 8;
const VERSION = 20;
/** Bit 11: the file name is UTF-8. */
const UTF8_NAME = 0x0800;

export function zipOneFile(name: string, content: Buffer): Buffer {
  const fileName = Buffer.from(name, 'utf8');
  const data = deflateRawSync(content);
  const crc = crc32(content);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(LOCAL, 0);
  local.writeUInt16LE(VERSION, 4);
  local.writeUInt16LE(UTF8_NAME, 6);
  local.writeUInt16LE(DEFLATE, 8);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(content.length, 22);
  local.writeUInt16LE(fileName.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(CENTRAL, 0);
  central.writeUInt16LE(VERSION, 4);
  central.writeUInt16LE(VERSION, 6);
  central.writeUInt16LE(UTF8_NAME, 8);
  central.writeUInt16LE(DEFLATE, 10);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(content.length, 24);
  central.writeUInt16LE(fileName.length, 28);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(END, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + fileName.length, 12);
  end.writeUInt32LE(local.length + fileName.length + data.length, 16);
  return Buffer.concat([local, fileName, data, central, fileName, end]);
}

/** The files of a ZIP archive, read from its central directory; throws on anything it cannot read. */
export function unzip(archive: Buffer): { name: string; content: Buffer }[] {
  const endAt = archive.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (endAt < 0 || archive.length - endAt < 22) throw new Error('not a ZIP archive (no end of central directory)');
  const count = archive.readUInt16LE(endAt + 10);
  let at = archive.readUInt32LE(endAt + 16);
  const files: { name: string; content: Buffer }[] = [];
  for (let i = 0; i < count; i++) {
    if (archive.readUInt32LE(at) !== CENTRAL) throw new Error('corrupt ZIP central directory');
    const method = archive.readUInt16LE(at + 10);
    const crc = archive.readUInt32LE(at + 16);
    const packed = archive.readUInt32LE(at + 20);
    const nameLength = archive.readUInt16LE(at + 28);
    const extraLength = archive.readUInt16LE(at + 30);
    const commentLength = archive.readUInt16LE(at + 32);
    const localAt = archive.readUInt32LE(at + 42);
    const name = archive.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    if (archive.readUInt32LE(localAt) !== LOCAL) throw new Error(`corrupt ZIP local header for ${name}`);
    const dataAt = localAt + 30 + archive.readUInt16LE(localAt + 26) + archive.readUInt16LE(localAt + 28);
    const raw = archive.subarray(dataAt, dataAt + packed);
    const content = method === DEFLATE ? inflateRawSync(raw) : method === 0 ? Buffer.from(raw) : undefined;
    if (!content) throw new Error(`ZIP entry ${name} uses compression method ${method}`);
    if (crc32(content) !== crc) throw new Error(`ZIP entry ${name} fails its CRC check`);
    files.push({ name, content });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return files;
}

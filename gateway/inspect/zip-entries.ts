import { inflateRawSync } from 'node:zlib';

/**
 * The entries of a zip archive, for skill uploads sent as one .zip instead of files[] (the gateway's skill upload
 * stage and the mock upstream read them alike). Hand-written (stored and deflated entries, no zip64) because no zip
 * library is a dependency; node:zlib inflates. Every entry's size is capped while it is inflated, so a zip bomb
 * costs at most `maxBytes`.
 */

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/** The files of a zip (directories left out), or a message saying why it cannot be read. */
export function unzip(zip: Buffer, maxBytes: number): Array<{ path: string; data: Buffer }> | string {
  // The end-of-central-directory record sits in the last 22 bytes plus a comment of at most 65535.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--)
    if (zip.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  if (eocd < 0) return 'the zip archive has no end of central directory record';
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const files: Array<{ path: string; data: Buffer }> = [];
  let total = 0;
  for (let n = 0; n < count; n++) {
    if (at + 46 > zip.length || zip.readUInt32LE(at) !== CENTRAL) return 'the zip central directory is malformed';
    const method = zip.readUInt16LE(at + 10);
    const compressed = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const local = zip.readUInt32LE(at + 42);
    const path = zip.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
    if (path.endsWith('/')) continue;
    if (compressed === 0xffffffff || size === 0xffffffff || local === 0xffffffff)
      return 'zip64 archives are not supported';
    if (local + 30 > zip.length || zip.readUInt32LE(local) !== LOCAL) return `zip entry ${path} is malformed`;
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const raw = zip.subarray(start, start + compressed);
    if (total + size > maxBytes) return `the zip archive unpacks to more than ${maxBytes} bytes`;
    let data: Buffer;
    if (method === 0) data = raw;
    else if (method === 8) {
      try {
        data = inflateRawSync(raw, { maxOutputLength: Math.max(1, maxBytes - total) });
      } catch {
        return `zip entry ${path} cannot be inflated (or unpacks past ${maxBytes} bytes)`;
      }
    } else return `zip entry ${path} uses compression method ${method}; only stored and deflated are supported`;
    if (data.length !== size) return `zip entry ${path} does not unpack to its declared size`;
    total += data.length;
    files.push({ path, data });
  }
  return files;
}

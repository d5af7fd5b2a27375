/**
 * `line` and a newline in UTF-8, in one buffer. Written straight into the buffer: encoding
 * `${line}\n` made V8 first copy the ~10 KB line into a flat string of its own, per event.
 */
export function lineBytes(line: string): Buffer {
  const length = Buffer.byteLength(line, 'utf8');
  const bytes = Buffer.allocUnsafe(length + 1);
  bytes.write(line, 0, length, 'utf8');
  bytes[length] = 0x0a;
  return bytes;
}

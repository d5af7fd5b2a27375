import { deflateRawSync } from 'node:zlib';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SluiceError } from '../../../gateway/errors.ts';
import { MAX_SKILL_BYTES, spoolSkillUpload } from '../../../gateway/inspect/skill-upload.ts';

const BOUNDARY = 'sk1ll';
const SPOOL = join(tmpdir(), `sluice-skill-spool-test-${process.pid}`);
const TYPE = `multipart/form-data; boundary=${BOUNDARY}`;
const SKILL_MD = '---\nname: tidy\ndescription: Tidies tables\n---\nUse scripts/tidy.py\n';

type Part = { name: string; filename?: string; type?: string; data: Buffer | string };

function multipart(parts: Part[]): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) {
    const filename = p.filename === undefined ? '' : `; filename="${p.filename}"`;
    const type = p.type === undefined ? '' : `\r\nContent-Type: ${p.type}`;
    out.push(
      Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${p.name}"${filename}${type}\r\n\r\n`),
    );
    out.push(Buffer.from(p.data), Buffer.from('\r\n'));
  }
  out.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(out);
}

async function* chunks(body: Buffer, size: number): AsyncIterable<Buffer> {
  for (let at = 0; at < body.length; at += size) yield body.subarray(at, at + size);
}

const file = (path: string, data: Buffer | string, type?: string): Part => ({
  name: 'files[]',
  filename: path,
  data,
  ...(type ? { type } : {}),
});

async function refusal(parts: Part[]): Promise<SluiceError> {
  const err = await spoolSkillUpload(chunks(multipart(parts), 7), { 'content-type': TYPE }, SPOOL).catch(
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SluiceError);
  return err as SluiceError;
}

/** A zip of deflated entries (CRCs left 0: the reader does not check them, the upstream does). */
function zip(files: Record<string, Buffer | string>, declaredSize?: number): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [path, content] of Object.entries(files)) {
    const name = Buffer.from(path);
    const raw = Buffer.from(content);
    const data = deflateRawSync(raw);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(declaredSize ?? raw.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(centrals.length / 2, 8);
  end.writeUInt16LE(centrals.length / 2, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

afterAll(() => rm(SPOOL, { recursive: true, force: true }));

describe('spoolSkillUpload', () => {
  it('reads files[] parts as a skill: paths, frontmatter, text, hashes; private files, removed after', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2]);
    const skill = await spoolSkillUpload(
      chunks(
        multipart([
          { name: 'display_title', data: 'Tidy tables' },
          file('tidy/SKILL.md', SKILL_MD, 'text/markdown'),
          file('tidy\\\\scripts\\\\tidy.py', 'print(1)\n'),
          file('tidy/logo.png', png, 'image/png'),
        ]),
        5,
      ),
      { 'content-type': TYPE },
      SPOOL,
    );
    expect(skill).toMatchObject({
      name: 'tidy',
      description: 'Tidies tables',
      directory: 'tidy',
      displayTitle: { field: 'display_title', value: 'Tidy tables' },
    });
    expect(skill.files.map((f) => [f.path, f.mediaType, f.text !== undefined])).toEqual([
      ['tidy/SKILL.md', 'text/markdown', true],
      ['tidy/scripts/tidy.py', 'text/x-python', true],
      ['tidy/logo.png', 'image/png', false],
    ]);
    expect(skill.sizeBytes).toBe(Buffer.byteLength(SKILL_MD) + 9 + png.length);
    const py = skill.files[1]!;
    expect(await readFile(py.diskPath, 'utf8')).toBe('print(1)\n');
    expect((await stat(py.diskPath)).mode & 0o777).toBe(0o600);
    expect((await stat(skill.dir)).mode & 0o777).toBe(0o700);
    await skill.remove();
    expect(await readdir(SPOOL)).toEqual([]);
  });

  it('unpacks a single .zip part into the same files', async () => {
    const body = multipart([
      file('tidy.zip', zip({ 'tidy/SKILL.md': SKILL_MD, 'tidy/run.sh': 'echo hi\n' }), 'application/zip'),
    ]);
    const skill = await spoolSkillUpload(chunks(body, 64), { 'content-type': TYPE }, SPOOL);
    expect(skill.files.map((f) => [f.path, f.text])).toEqual([
      ['tidy/SKILL.md', SKILL_MD],
      ['tidy/run.sh', 'echo hi\n'],
    ]);
    await skill.remove();
  });

  it('refuses what the API refuses, and leaves nothing behind', async () => {
    const cases: Array<[Part[], string]> = [
      [[file('../etc/SKILL.md', SKILL_MD)], 'invalid file path'],
      [[file('/abs/SKILL.md', SKILL_MD)], 'invalid file path'],
      [[file('a/SKILL.md', SKILL_MD), file('b/x.py', 'x')], 'same top-level directory'],
      [[file('a/notes.md', 'x')], 'SKILL.md must be in the top-level directory'],
      [[file('a/SKILL.md', 'no frontmatter')], 'YAML frontmatter'],
      [[file('a/SKILL.md', '---\nname: a\n---\n')], 'description is required'],
      [[file('a/SKILL.md', SKILL_MD), file('a/./SKILL.md', SKILL_MD)], 'appears more than once'],
      [[{ name: 'file', filename: 'a/SKILL.md', data: SKILL_MD }], 'unexpected part "file"'],
      [[{ name: 'display_title', data: 'x' }], 'no files[] part'],
      [[{ name: 'display_title', data: 'a\nb' }, file('a/SKILL.md', SKILL_MD)], 'a single line'],
      [[file('a.zip', Buffer.from('PK not a zip'), 'application/zip')], 'end of central directory'],
    ];
    for (const [parts, message] of cases) {
      const err = await refusal(parts);
      expect(err.code, message).toBe('SLUICE_ERR_BAD_UPLOAD');
      expect(err.message).toContain(message);
    }
    expect(await readdir(SPOOL)).toEqual([]);
  });

  it('bounds the skill: its bytes (sent or unpacked) and its number of files', async () => {
    const big = await refusal([file('a/SKILL.md', SKILL_MD), file('a/big.bin', Buffer.alloc(MAX_SKILL_BYTES))]);
    expect(big.code).toBe('SLUICE_ERR_UPLOAD_TOO_LARGE');
    // A zip bomb: a few KiB that would inflate past the limit.
    const bomb = zip({ 'a/SKILL.md': SKILL_MD, 'a/zeros': Buffer.alloc(MAX_SKILL_BYTES + 1) });
    expect(bomb.length).toBeLessThan(64 * 1024);
    expect((await refusal([file('a.zip', bomb, 'application/zip')])).message).toContain('unpacks to more than');
    const many = Array.from({ length: 501 }, (_, i) => file(`a/f${i}.txt`, 'x'));
    expect((await refusal([file('a/SKILL.md', SKILL_MD), ...many])).message).toContain('more than 501 parts');
    const declared = await spoolSkillUpload(
      chunks(Buffer.alloc(0), 1),
      { 'content-type': TYPE, 'content-length': String(MAX_SKILL_BYTES * 2) },
      SPOOL,
    ).catch((e: unknown) => e);
    expect((declared as SluiceError).code).toBe('SLUICE_ERR_UPLOAD_TOO_LARGE');
    expect(await readdir(SPOOL)).toEqual([]);
  });
});

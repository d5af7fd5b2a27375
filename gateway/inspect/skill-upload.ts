/**
 * A Skills API upload (skills.create, skills.versions.create), spooled: the multipart body's files (`files[]` parts,
 * or one .zip) are streamed to a private temporary directory while each is measured and hashed, then read back as
 * the skill the upstream will build: its paths under one top-level directory, SKILL.md's name and description, and
 * each file's text when it is text. What goes upstream is rebuilt from these files (skill-upload-stage.ts), so the
 * policy decides on exactly the files the upstream receives, a zip's included.
 */
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { basename, join, posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SluiceError } from '../errors.ts';
import { multipartBoundary, readMultipart, type PartSink } from './multipart-stream.ts';
import { effectiveMediaType, FieldSink } from './upload-spool.ts';
import { unzip } from './zip-entries.ts';

/** The API's limit on one skill upload, all files together (unpacked, for a zip). */
export const MAX_SKILL_BYTES = 8 * 1024 * 1024;
/** Files of one skill: a skill is a handful of instructions and scripts, not a repository. */
export const MAX_SKILL_FILES = 500;
/** Longest plain field (`display_title`): the API takes 255 characters, at most 4 bytes each. */
const MAX_FIELD_BYTES = 1024;

/** One file of the skill, on disk. */
export interface SkillFile {
  /** Its path in the skill, `<directory>/…`, normalised (no `..`, no leading `/`). */
  readonly path: string;
  /** The temporary file holding its bytes (mode 0600, in the upload's private directory). */
  readonly diskPath: string;
  readonly mediaType: string;
  readonly sizeBytes: number;
  /** Hex SHA-256 of its bytes. */
  readonly sha256: string;
  /** Its content when it is UTF-8 text without NUL bytes (SKILL.md, scripts, references); undefined otherwise. */
  readonly text: string | undefined;
}

/** A skill upload as spooled and read. */
export interface SpooledSkill {
  /** The private directory holding every file; gone after `remove()`. */
  readonly dir: string;
  readonly files: readonly SkillFile[];
  /** The top-level directory every file is under. */
  readonly directory: string;
  /** SKILL.md's frontmatter. */
  readonly name: string;
  readonly description: string;
  /** The `display_title` (beta) or `display_name` field, as sent; undefined when absent. */
  readonly displayTitle: { readonly field: 'display_title' | 'display_name'; readonly value: string } | undefined;
  /** All files together. */
  readonly sizeBytes: number;
  /** Removes the directory; safe to call more than once. */
  remove(): Promise<void>;
}

const bad = (detail: string): SluiceError => new SluiceError('SLUICE_ERR_BAD_UPLOAD', `skill upload: ${detail}`);

function tooLarge(): SluiceError {
  return new SluiceError('SLUICE_ERR_UPLOAD_TOO_LARGE', `a skill's files exceed the limit of ${MAX_SKILL_BYTES} bytes`);
}

/** Counts the bytes of every file of one upload against MAX_SKILL_BYTES. */
class Budget {
  used = 0;
  take(n: number): void {
    this.used += n;
    if (this.used > MAX_SKILL_BYTES) throw tooLarge();
  }
}

/** Writes one file part to disk, hashing and counting as it goes. */
class FileSink implements PartSink {
  readonly hash: Hash = createHash('sha256');
  size = 0;

  constructor(
    private readonly out: WriteStream,
    private readonly budget: Budget,
  ) {}

  async write(data: Buffer): Promise<void> {
    this.size += data.length;
    this.budget.take(data.length);
    this.hash.update(data);
    if (!this.out.write(data)) await once(this.out, 'drain');
  }

  async end(): Promise<void> {
    this.out.end();
    await once(this.out, 'finish');
  }
}

interface Part {
  readonly filename: string;
  readonly declaredType: string | undefined;
  readonly diskPath: string;
  readonly sink: FileSink;
  out: WriteStream;
}

/** Script and text extensions the Files API's table does not know: their files are text/plain-like scripts. */
const SCRIPT_TYPES: Readonly<Record<string, string>> = {
  '.py': 'text/x-python',
  '.sh': 'text/x-shellscript',
  '.js': 'text/javascript',
  '.ts': 'text/x-typescript',
  '.yaml': 'application/yaml',
  '.yml': 'application/yaml',
};

function mediaTypeOf(path: string, declared: string | undefined): string {
  const type = effectiveMediaType(basename(path), declared);
  if (type !== 'application/octet-stream') return type;
  return SCRIPT_TYPES[posix.extname(path).toLowerCase()] ?? type;
}

/** Its text when `bytes` are UTF-8 without NUL bytes (what a model or a shell reads as text). */
function textOf(bytes: Buffer): string | undefined {
  if (bytes.includes(0)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

function isZip(part: Part): boolean {
  return /\.zip$/i.test(part.filename) || /^application\/(x-)?zip(-compressed)?$/i.test(part.declaredType ?? '');
}

/** A path as the skill keeps it: `/` separators, normalised; refused when it leaves the skill's directory. */
function skillPath(raw: string): string {
  const path = posix.normalize(raw.replace(/\\/g, '/'));
  if (path.startsWith('/') || path === '..' || path.startsWith('../') || path === '.' || /[\0\r\n]/.test(path))
    throw bad(`invalid file path ${JSON.stringify(raw.slice(0, 256))}`);
  return path;
}

/** SKILL.md's YAML frontmatter: its `name` and `description`, both required (the API refuses a skill without). */
export function skillFrontmatter(text: string): { name: string; description: string } {
  const block = /^\uFEFF?---\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/.exec(text);
  if (!block) throw bad('SKILL.md must start with YAML frontmatter between --- lines');
  let data: unknown;
  try {
    data = parseYaml(block[1]!);
  } catch {
    throw bad('SKILL.md frontmatter is not valid YAML');
  }
  const fields = typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
  const { name, description } = fields;
  if (typeof name !== 'string' || name === '') throw bad('SKILL.md frontmatter: name is required');
  if (typeof description !== 'string' || description.trim() === '')
    throw bad('SKILL.md frontmatter: description is required');
  return { name, description };
}

/** The parts as the skill's entries: each part one file, or the entries of a single .zip part. */
async function entries(
  parts: readonly Part[],
  dir: string,
): Promise<Array<{ path: string; diskPath: string; declaredType: string | undefined; bytes: Buffer }>> {
  if (parts.length === 1 && isZip(parts[0]!)) {
    // A skill is at most MAX_SKILL_BYTES: the archive and its entries fit in memory.
    const unpacked = unzip(await readFile(parts[0]!.diskPath), MAX_SKILL_BYTES);
    if (typeof unpacked === 'string') throw bad(unpacked);
    if (unpacked.length > MAX_SKILL_FILES) throw bad(`more than ${MAX_SKILL_FILES} files`);
    return Promise.all(
      unpacked.map(async (entry, i) => {
        const diskPath = join(dir, `entry-${i}`);
        await writeFile(diskPath, entry.data, { flag: 'wx', mode: 0o600 });
        return { path: entry.path, diskPath, declaredType: undefined, bytes: entry.data };
      }),
    );
  }
  return Promise.all(
    parts.map(async (p) => ({
      path: p.filename,
      diskPath: p.diskPath,
      declaredType: p.declaredType,
      bytes: await readFile(p.diskPath),
    })),
  );
}

/** Reads the spooled parts as a skill: one top-level directory holding SKILL.md, every path unique. */
async function readSkill(parts: readonly Part[], dir: string): Promise<Omit<SpooledSkill, 'dir' | 'remove'>> {
  const files: SkillFile[] = [];
  const seen = new Set<string>();
  for (const entry of await entries(parts, dir)) {
    const path = skillPath(entry.path);
    if (seen.has(path)) throw bad(`file ${JSON.stringify(path)} appears more than once`);
    seen.add(path);
    files.push({
      path,
      diskPath: entry.diskPath,
      mediaType: mediaTypeOf(path, entry.declaredType),
      sizeBytes: entry.bytes.length,
      sha256: createHash('sha256').update(entry.bytes).digest('hex'),
      text: textOf(entry.bytes),
    });
  }
  const directories = new Set(files.map((f) => (f.path.includes('/') ? f.path.split('/')[0]! : '')));
  const directory = [...directories][0] ?? '';
  if (directories.size !== 1 || directory === '') throw bad('all files must be in the same top-level directory');
  const skillMd = files.find((f) => f.path === `${directory}/SKILL.md`);
  if (!skillMd) throw bad('SKILL.md must be in the top-level directory');
  if (skillMd.text === undefined) throw bad('SKILL.md is not UTF-8 text');
  const { name, description } = skillFrontmatter(skillMd.text);
  const sizeBytes = files.reduce((n, f) => n + f.sizeBytes, 0);
  return { files, directory, name, description, sizeBytes, displayTitle: undefined };
}

/**
 * Streams a skill upload's multipart body (`files[]` or `files` parts, optional `display_title` or `display_name`,
 * nothing else) into a private temporary directory, then reads it as a skill. A body past MAX_SKILL_BYTES is
 * refused at that byte (413); a malformed skill is refused (400) as the API would. Any failure removes the files.
 */
export async function spoolSkillUpload(
  body: AsyncIterable<Buffer>,
  headers: { readonly 'content-type'?: string; readonly 'content-length'?: string },
  spoolDir: string,
): Promise<SpooledSkill> {
  const boundary = multipartBoundary(headers['content-type']);
  const declared = Number(headers['content-length']);
  // The framing of a few hundred parts is small beside the files; a declared length far over the limit is not read.
  if (Number.isFinite(declared) && declared > MAX_SKILL_BYTES + 1024 * 1024) throw tooLarge();

  await mkdir(spoolDir, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(join(spoolDir, 'skill-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  const budget = new Budget();
  const parts: Part[] = [];
  let title: { field: 'display_title' | 'display_name'; sink: FieldSink } | undefined;
  try {
    await readMultipart(
      body,
      boundary,
      (part) => {
        if ((part.name === 'files[]' || part.name === 'files') && part.filename !== undefined) {
          const diskPath = join(dir, `part-${parts.length}`);
          const out = createWriteStream(diskPath, { flags: 'wx', mode: 0o600 });
          const sink = new FileSink(out, budget);
          parts.push({ filename: part.filename, declaredType: part.contentType, diskPath, sink, out });
          return sink;
        }
        if ((part.name === 'display_title' || part.name === 'display_name') && part.filename === undefined && !title) {
          title = { field: part.name, sink: new FieldSink(part.name, MAX_FIELD_BYTES, 'skill upload: ') };
          return title.sink;
        }
        throw bad(`unexpected part "${part.name.slice(0, 64)}": send files[] and optionally display_title`);
      },
      // Each file is a part, plus the title.
      MAX_SKILL_FILES + 1,
    );
    if (parts.length === 0) throw bad('no files[] part');
    const skill = await readSkill(parts, dir);
    const value = title?.sink.value;
    if (value !== undefined && (value.length > 255 || /[\r\n]/.test(value)))
      throw bad(`${title!.field}: a single line of at most 255 characters`);
    const displayTitle = title && value !== undefined ? { field: title.field, value } : undefined;
    return { ...skill, displayTitle, dir, remove };
  } catch (err) {
    for (const part of parts) {
      // Writes still buffered fail once the stream is destroyed: the files are being removed, so that is expected.
      part.out.on('error', () => undefined);
      part.out.destroy();
    }
    await remove();
    throw err;
  }
}

/**
 * A Skills API upload through the pipeline's stages: the text files of the spooled skill (SKILL.md, scripts) read
 * for entities and given to the text rules as the call's text (detect), masked by writing masked copies beside them
 * (mask), and sent upstream as a fresh multipart body of `files[]` parts streamed from disk (forward).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { EntityMatch } from '../inspect/combined-scan.ts';
import type { Detection } from '../inspect/detect-entities.ts';
import type { DetectorKit } from '../inspect/detector-kit.ts';
import type { Inspected } from '../inspect/inspect-request.ts';
import { redactFindings } from '../inspect/redact-findings.ts';
import type { SkillFile, SpooledSkill } from '../inspect/skill-upload.ts';
import type { ForwardPlan } from '../mask/mask-stage.ts';
import { MaskPlan } from '../mask/mask-plan.ts';
import { maskText } from '../mask/mask-text.ts';
import type { PlaceholderNumbering } from '../mask/placeholder-numbering.ts';
import type { MaskDirective } from '../policy/decision.ts';
import type { SkillFacts } from '../policy/input.ts';

/** The detect stage's view of a skill: the policy's facts, the text it reads, and each text file's entities. */
export interface SkillScan {
  readonly facts: SkillFacts;
  readonly findings: Readonly<Record<string, number>>;
  /**
   * The display title and the text files' text, each headed by its field name or path, entity values replaced by their
   * type: `request.text`.
   */
  readonly text: string;
  /** Entities found in each text file, for masking. */
  readonly matches: ReadonlyMap<SkillFile, readonly EntityMatch[]>;
}

/** Finds the entities of every text file; names, paths and the description reach the policy without their values. */
export function scanSkill(skill: SpooledSkill, kit: DetectorKit): SkillScan {
  const findings: Record<string, number> = {};
  const matches = new Map<SkillFile, readonly EntityMatch[]>();
  const texts: string[] = [];
  // The title is text the upstream keeps and shows: its entities count, and the text rules read it.
  if (skill.displayTitle) {
    for (const m of kit.detector.scan(skill.displayTitle.value)) findings[m.type] = (findings[m.type] ?? 0) + 1;
    texts.push(`${skill.displayTitle.field}\n${redactFindings(skill.displayTitle.value, { kit })}`);
  }
  for (const file of skill.files) {
    if (file.text === undefined) continue;
    const found = kit.detector.scan(file.text);
    matches.set(file, found);
    for (const m of found) findings[m.type] = (findings[m.type] ?? 0) + 1;
    texts.push(`${file.path}\n${redactFindings(file.text, { kit })}`);
  }
  const clean = (value: string): string => redactFindings(value, { kit });
  const facts: SkillFacts = {
    name: clean(skill.name),
    description: clean(skill.description),
    display_title: skill.displayTitle === undefined ? null : clean(skill.displayTitle.value),
    directory: clean(skill.directory),
    size_bytes: skill.sizeBytes,
    files: skill.files.map((f) => ({
      path: clean(f.path),
      size_bytes: f.sizeBytes,
      sha256: f.sha256,
      media_type: f.mediaType,
      text: f.text !== undefined,
    })),
  };
  return { facts, findings, text: texts.join('\n\n'), matches };
}

/** The detect stage's output for a skill upload: its findings and text in the facts the policy reads. */
export function skillDetection(kit: DetectorKit, inspected: Inspected, scan: SkillScan): Detection {
  const found = Object.keys(scan.findings).length > 0;
  return {
    facts: { ...inspected.facts, findings: scan.findings, text: scan.text },
    scan: { places: [], findings: scan.findings, details: [] },
    maskedInputPaths: found ? ['/input/request/text', '/input/skill'] : [],
    kit,
  };
}

/** A file as it goes upstream: the spooled one, or its masked copy. */
interface SentFile {
  readonly path: string;
  readonly mediaType: string;
  readonly diskPath: string;
  readonly sizeBytes: number;
}

/**
 * The mask stage for a skill: the policy's request masks applied to each text file holding such an entity, the
 * masked text written beside it (same private directory, mode 0600). The plan's body, recorded in the audit,
 * describes the skill (the policy's facts), never a file's content.
 */
export async function maskSkill(
  skill: SpooledSkill,
  scan: SkillScan,
  plan: { directive: MaskDirective; kit: DetectorKit; hashKey: Buffer; numbering: PlaceholderNumbering },
): Promise<{ forwardPlan: ForwardPlan; files: SentFile[]; displayTitle: string | undefined }> {
  const mask = new MaskPlan(plan.kit, plan.directive, plan.hashKey, plan.numbering);
  const files: SentFile[] = [];
  // The title is text the policy saw too (its entities replaced by their types): masked as the files are.
  let displayTitle = skill.displayTitle?.value;
  if (displayTitle !== undefined && mask.requestTypes.size > 0) {
    const title = maskText(displayTitle, plan.kit.detector.scan(displayTitle), mask.requestTypes, mask.replacer);
    if (title.counts.size > 0) mask.ledger.add('request.skill.display_title', title.counts);
    displayTitle = title.text;
  }
  for (const [i, file] of skill.files.entries()) {
    const found = scan.matches.get(file) ?? [];
    const masked =
      file.text !== undefined && found.length > 0 && mask.requestTypes.size > 0
        ? maskText(file.text, found, mask.requestTypes, mask.replacer)
        : undefined;
    if (!masked || masked.counts.size === 0) {
      files.push(file);
      continue;
    }
    mask.ledger.add(`request.skill.files[${i}]`, masked.counts);
    const bytes = Buffer.from(masked.text, 'utf8');
    const diskPath = `${file.diskPath}.masked`;
    await writeFile(diskPath, bytes, { flag: 'wx', mode: 0o600 });
    files.push({ path: file.path, mediaType: file.mediaType, diskPath, sizeBytes: bytes.length });
  }
  mask.replacer.sealRequest();
  return { forwardPlan: { bytes: undefined, body: { skill: scan.facts }, mask }, files, displayTitle };
}

/** A quoted-string for a Content-Disposition parameter, escaped as browsers and undici's FormData do. */
function quoted(value: string): string {
  return `"${value.replace(/\r/g, '%0D').replace(/\n/g, '%0A').replace(/"/g, '%22')}"`;
}

/**
 * The multipart body sent upstream: the display title (under the field name the caller used) and one `files[]` part
 * per file, its path as the filename, streamed from disk; and the headers that describe it.
 */
export function skillBody(
  skill: SpooledSkill,
  sent: { readonly files: readonly SentFile[]; readonly displayTitle: string | undefined },
): { body: Readable; headers: Record<string, string> } {
  const { files } = sent;
  const boundary = `sluice-${randomBytes(24).toString('hex')}`;
  const title =
    skill.displayTitle && sent.displayTitle !== undefined
      ? Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="${skill.displayTitle.field}"\r\n\r\n` +
            `${sent.displayTitle}\r\n`,
        )
      : Buffer.alloc(0);
  const heads = files.map((f) =>
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="files[]"; filename=${quoted(f.path)}\r\n` +
        `Content-Type: ${f.mediaType}\r\n\r\n`,
    ),
  );
  const tail = Buffer.from(`--${boundary}--\r\n`);
  const crlf = Buffer.from('\r\n');
  async function* body(): AsyncIterable<Buffer> {
    yield title;
    for (const [i, file] of files.entries()) {
      yield heads[i]!;
      for await (const chunk of createReadStream(file.diskPath)) yield chunk as Buffer;
      yield crlf;
    }
    yield tail;
  }
  const length =
    title.length +
    heads.reduce((n, h) => n + h.length, 0) +
    files.reduce((n, f) => n + f.sizeBytes + crlf.length, 0) +
    tail.length;
  return {
    body: Readable.from(body(), { objectMode: false }),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(length) },
  };
}

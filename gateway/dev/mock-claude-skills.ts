import { posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { multipartBoundary, parseMultipart, type FormPart } from './mock-claude-multipart.ts';
import { listPage } from './mock-claude-pages.ts';
import { mockId } from './mock-claude-responses.ts';
import type { MockCall, MockReply } from './mock-claude-types.ts';
import { unzip } from '../inspect/zip-entries.ts';

/**
 * The Skills API of mock-claude (/v1/skills and its versions), with Anthropic's pre-built skills (xlsx, pptx, docx,
 * pdf) listed beside the custom ones. The API answers in two shapes: requests carrying the `skills-2025-10-02` beta
 * get the beta's (display_title, latest_version, source as a string, versions addressed by their epoch-microsecond
 * `version`); requests without it get the current one (display_name, latest_version_id, source as an object,
 * versions addressed by id). An upload is files under one top-level directory (as files[] parts, or one .zip)
 * whose SKILL.md frontmatter gives the version's name and description.
 */

type Obj = Record<string, unknown>;
type Source = 'custom' | 'anthropic';

/** The beta whose requests get the beta's shapes. */
export const SKILLS_BETA = 'skills-2025-10-02';
/** The API's limit on one skill upload, all files together. */
const MAX_SKILL_BYTES = 8 * 1024 * 1024;
const NAME = /^[a-z0-9-]{1,64}$/;

interface SkillVersion {
  readonly id: string;
  /** The beta's version id: Unix epoch microseconds, as a string. */
  readonly epoch: string;
  readonly createdAt: string;
  readonly name: string;
  readonly description: string;
  readonly directory: string;
  readonly files: ReadonlyArray<{ path: string; data: Buffer }>;
}

interface Skill {
  readonly id: string;
  readonly source: Source;
  readonly displayName: string | null;
  readonly createdAt: string;
  updatedAt: string;
  /** Oldest first. */
  readonly versions: SkillVersion[];
}

/** Anthropic's pre-built skills: shared and read-only, addressed by these short ids. */
const ANTHROPIC_SKILLS: ReadonlyArray<[id: string, title: string, description: string]> = [
  ['xlsx', 'Excel', 'Create, edit and analyze Excel spreadsheets with formulas, formatting and charts'],
  ['pptx', 'PowerPoint', 'Create and edit PowerPoint presentations with layouts, charts and speaker notes'],
  ['docx', 'Word', 'Create and edit Word documents with tracked changes, comments and formatting'],
  ['pdf', 'PDF', 'Extract text and tables from PDFs, fill PDF forms, and merge or split documents'],
];
const ANTHROPIC_CREATED = '2025-10-16T00:00:00.000Z';

/** Whether a request carries the Skills beta (anthropic-beta may list several betas, or repeat the header). */
export function usesSkillsBeta(headers: MockCall['headers']): boolean {
  const beta = headers['anthropic-beta'];
  const values = (Array.isArray(beta) ? beta.join(',') : (beta ?? '')).split(',').map((b) => b.trim());
  return values.includes(SKILLS_BETA);
}

/** The skills of one mock: Anthropic's, then the custom ones in creation order. */
export class MockSkillStore {
  private readonly skills = new Map<string, Skill>();
  private lastEpoch = 0;

  constructor() {
    for (const [id, title, description] of ANTHROPIC_SKILLS) {
      const version = {
        id: '20251013',
        epoch: '20251013',
        createdAt: ANTHROPIC_CREATED,
        name: id,
        description,
        directory: id,
        files: [],
      };
      this.skills.set(id, {
        id,
        source: 'anthropic',
        displayName: title,
        createdAt: ANTHROPIC_CREATED,
        updatedAt: ANTHROPIC_CREATED,
        versions: [version],
      });
    }
  }

  /**
   * The version `version` (an id, an epoch, or `latest`; default latest) of skill `id` of `source`, or undefined —
   * how a Messages request's `container.skills` entry resolves.
   */
  resolve(id: string, source: string, version = 'latest'): { name: string; version: string } | undefined {
    const skill = this.skills.get(id);
    if (!skill || skill.source !== source) return undefined;
    const found =
      version === 'latest'
        ? skill.versions.at(-1)
        : skill.versions.find((v) => v.id === version || v.epoch === version);
    return found && { name: found.name, version: found.epoch };
  }

  /** Answers a /v1/skills call; false when the path is not the Skills API's. */
  route(call: MockCall, reply: MockReply): boolean {
    const match = /^\/v1\/skills(?:\/([^/]+)(?:\/(versions)(?:\/([^/]+))?)?)?$/.exec(call.url.pathname);
    if (!match) return false;
    const [, skillId, versions, version] = match;
    const beta = usesSkillsBeta(call.headers);
    const route = `${call.method} ${skillId ? '/id' : ''}${versions ? '/versions' : ''}${version ? '/v' : ''}`;
    switch (route) {
      case 'POST ':
        return (this.create(call, reply, beta), true);
      case 'GET ':
        return (this.list(call, reply, beta), true);
      case 'GET /id':
      case 'DELETE /id':
      case 'POST /id/versions':
      case 'GET /id/versions':
      case 'GET /id/versions/v':
      case 'DELETE /id/versions/v':
        break;
      default:
        return false;
    }
    const skill = this.skills.get(skillId!);
    if (!skill) return (reply.error(404, `Skill not found: ${skillId}`), true);
    if (route === 'GET /id') return (reply.json(200, skillView(skill, beta)), true);
    if (route === 'GET /id/versions') {
      const page = listPage([...skill.versions].reverse(), call.url.searchParams);
      if (typeof page === 'string') return (reply.error(400, page), true);
      const data = page.data.map((v) => versionView(skill, v, beta));
      return (reply.json(200, { data, has_more: page.has_more, next_page: page.next_page }), true);
    }
    if (route === 'GET /id/versions/v') {
      const found = findVersion(skill, version!, beta);
      if (!found) return (reply.error(404, `Skill version not found: ${version}`), true);
      return (reply.json(200, versionView(skill, found, beta)), true);
    }
    if (skill.source !== 'custom')
      return (reply.error(403, `Skill ${skill.id} is managed by Anthropic and read-only`), true);
    if (route === 'POST /id/versions') return (this.addVersion(call, reply, skill, beta), true);
    if (route === 'DELETE /id') {
      // The beta makes the caller delete the versions first; the current API deletes them with the skill.
      if (beta && skill.versions.length > 0)
        return (reply.error(400, `Skill ${skill.id} has versions: delete every version before the skill`), true);
      this.skills.delete(skill.id);
      return (reply.json(200, { id: skill.id, type: 'skill_deleted' }), true);
    }
    const found = findVersion(skill, version!, beta);
    if (!found) return (reply.error(404, `Skill version not found: ${version}`), true);
    // The current API keeps at least one version in a skill: the last one goes with the skill.
    if (!beta && skill.versions.length === 1)
      return (reply.error(400, `Version ${found.id} is the only version of skill ${skill.id}: delete the skill`), true);
    skill.versions.splice(skill.versions.indexOf(found), 1);
    return (reply.json(200, { id: beta ? found.epoch : found.id, type: 'skill_version_deleted' }), true);
  }

  private create(call: MockCall, reply: MockReply, beta: boolean): void {
    const form = readForm(call);
    if (typeof form === 'string') return reply.error(400, form);
    const version = readUpload(form);
    if (typeof version === 'string') return reply.error(400, version);
    const title = form.find(
      (p) => p.filename === undefined && (p.name === 'display_title' || p.name === 'display_name'),
    );
    const displayName = title ? title.data.toString('utf8') : null;
    if (displayName !== null && (displayName.length > 255 || /[\r\n]/.test(displayName)))
      return reply.error(400, `${title!.name}: a single line of at most 255 characters`);
    const now = new Date().toISOString();
    const skill: Skill = {
      id: mockId('skill'),
      source: 'custom',
      displayName,
      createdAt: now,
      updatedAt: now,
      versions: [this.version(version, now)],
    };
    this.skills.set(skill.id, skill);
    reply.json(200, skillView(skill, beta));
  }

  private addVersion(call: MockCall, reply: MockReply, skill: Skill, beta: boolean): void {
    const form = readForm(call);
    if (typeof form === 'string') return reply.error(400, form);
    const upload = readUpload(form);
    if (typeof upload === 'string') return reply.error(400, upload);
    const name = skill.versions[0]?.name;
    if (name !== undefined && upload.name !== name)
      return reply.error(400, `SKILL.md name '${upload.name}' does not match the skill's name '${name}'`);
    const now = new Date().toISOString();
    const version = this.version(upload, now);
    skill.versions.push(version);
    skill.updatedAt = now;
    reply.json(200, versionView(skill, version, beta));
  }

  private version(upload: Omit<SkillVersion, 'id' | 'epoch' | 'createdAt'>, createdAt: string): SkillVersion {
    // Epoch microseconds, strictly increasing so two versions made in one millisecond still differ.
    this.lastEpoch = Math.max(this.lastEpoch + 1, Date.parse(createdAt) * 1000);
    return { ...upload, id: mockId('skillver'), epoch: String(this.lastEpoch), createdAt };
  }

  private list(call: MockCall, reply: MockReply, beta: boolean): void {
    const source = call.url.searchParams.get('source');
    if (source !== null && source !== 'custom' && source !== 'anthropic')
      return reply.error(400, "source: Input should be 'custom' or 'anthropic'");
    const all = [...this.skills.values()];
    // Custom skills newest first, then Anthropic's.
    const ordered = [
      ...all.filter((s) => s.source === 'custom').reverse(),
      ...all.filter((s) => s.source !== 'custom'),
    ];
    const page = listPage(
      ordered.filter((s) => source === null || s.source === source),
      call.url.searchParams,
    );
    if (typeof page === 'string') return reply.error(400, page);
    reply.json(200, {
      data: page.data.map((s) => skillView(s, beta)),
      has_more: page.has_more,
      next_page: page.next_page,
    });
  }
}

function findVersion(skill: Skill, version: string, beta: boolean): SkillVersion | undefined {
  if (version === 'latest') return skill.versions.at(-1);
  return skill.versions.find((v) => (beta ? v.epoch : v.id) === version);
}

function skillView(skill: Skill, beta: boolean): Obj {
  const latest = skill.versions.at(-1);
  const common = { type: 'skill', id: skill.id, created_at: skill.createdAt, updated_at: skill.updatedAt };
  if (beta)
    return {
      ...common,
      display_title: skill.displayName,
      latest_version: latest?.epoch ?? null,
      source: skill.source,
    };
  return {
    ...common,
    display_name: skill.displayName ?? latest?.name ?? '',
    latest_version_id: latest?.id ?? null,
    source: { type: skill.source },
  };
}

function versionView(skill: Skill, version: SkillVersion, beta: boolean): Obj {
  const common = {
    type: 'skill_version',
    id: version.id,
    skill_id: skill.id,
    created_at: version.createdAt,
    name: version.name,
    description: version.description,
  };
  return beta ? { ...common, directory: version.directory, version: version.epoch } : common;
}

function readForm(call: MockCall): FormPart[] | string {
  const boundary = multipartBoundary(call.headers['content-type']);
  if (!boundary) return 'Content-Type must be multipart/form-data with a boundary';
  return parseMultipart(call.bytes, boundary);
}

/**
 * The version an upload makes: its files (all under one top-level directory holding SKILL.md) and the name and
 * description of SKILL.md's frontmatter; a string says what is wrong, in the API's words where known.
 */
function readUpload(form: FormPart[]): Omit<SkillVersion, 'id' | 'epoch' | 'createdAt'> | string {
  const parts = form.filter((p) => (p.name === 'files' || p.name === 'files[]') && p.filename !== undefined);
  if (parts.length === 0) return 'files: Field required';
  if (parts.reduce((n, p) => n + p.data.length, 0) > MAX_SKILL_BYTES)
    return `Total upload size exceeds the ${MAX_SKILL_BYTES / 1024 / 1024} MB limit`;
  // One .zip holds the whole directory; otherwise each part is one file, its filename the path.
  const zipped = parts.length === 1 && isZip(parts[0]!) ? unzip(parts[0]!.data, MAX_SKILL_BYTES) : undefined;
  if (typeof zipped === 'string') return zipped;
  const entries = zipped ?? parts.map((p) => ({ path: p.filename!, data: p.data }));
  const files: Array<{ path: string; data: Buffer }> = [];
  for (const entry of entries) {
    const path = posix.normalize(entry.path.replace(/\\/g, '/'));
    if (path.startsWith('/') || path.startsWith('../') || path === '..') return `Invalid file path: ${entry.path}`;
    files.push({ path, data: entry.data });
  }
  const directories = new Set(files.map((f) => (f.path.includes('/') ? f.path.split('/')[0] : '')));
  const directory = [...directories][0] ?? '';
  if (directories.size !== 1 || directory === '') return 'All files must be in the same top-level directory';
  const skillMd = files.find((f) => f.path === `${directory}/SKILL.md`);
  if (!skillMd) return 'SKILL.md file must be exactly in the top level folder';
  const frontmatter = readFrontmatter(skillMd.data.toString('utf8'));
  if (typeof frontmatter === 'string') return frontmatter;
  return { ...frontmatter, directory, files };
}

function isZip(part: FormPart): boolean {
  return /\.zip$/i.test(part.filename ?? '') || /^application\/(x-)?zip(-compressed)?\b/i.test(part.contentType ?? '');
}

/** SKILL.md's YAML frontmatter: `name` (kebab-case, at most 64) and `description` (at most 1024 characters). */
function readFrontmatter(text: string): { name: string; description: string } | string {
  const block = /^\uFEFF?---\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/.exec(text);
  if (!block) return 'SKILL.md must start with YAML frontmatter between --- lines';
  let data: unknown;
  try {
    data = parseYaml(block[1]!);
  } catch {
    return 'SKILL.md frontmatter is not valid YAML';
  }
  const fields = typeof data === 'object' && data !== null ? (data as Obj) : {};
  const { name, description } = fields;
  if (typeof name !== 'string' || name === '') return 'SKILL.md frontmatter: name is required';
  if (!NAME.test(name)) return 'SKILL.md frontmatter: name must be at most 64 lowercase letters, digits and hyphens';
  if (/anthropic|claude/.test(name)) return 'SKILL.md frontmatter: name cannot contain reserved words';
  if (typeof description !== 'string' || description.trim() === '')
    return 'SKILL.md frontmatter: description is required';
  if (description.length > 1024) return 'SKILL.md frontmatter: description must be at most 1024 characters';
  return { name, description };
}

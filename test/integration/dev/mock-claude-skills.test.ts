/** mock-claude's Skills API driven by the official SDK (client.beta.skills), in both of the API's shapes. */
import { crc32, deflateRawSync } from 'node:zlib';
import Anthropic, { toFile } from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { useMockClaude } from './sdk-tap.ts';

const mockClaude = useMockClaude();
const client = mockClaude.client;
const betas = ['skills-2025-10-02' as const];

const skillMd = (name: string, description: string) => `---\nname: ${name}\ndescription: ${description}\n---\n# Body\n`;
const upload = async (dir: string, md: string, extra: Record<string, string> = {}) => [
  await toFile(Buffer.from(md), `${dir}/SKILL.md`, { type: 'text/markdown' }),
  ...(await Promise.all(Object.entries(extra).map(([path, text]) => toFile(Buffer.from(text), `${dir}/${path}`)))),
];
/** A zip archive of `entries` (deflated when asked), written by hand as the test's fixture. */
function zipOf(entries: Array<{ path: string; data: Buffer; deflate?: boolean; size?: number }>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const { path, data, deflate, size = data.length } of entries) {
    const name = Buffer.from(path);
    const body = deflate ? deflateRawSync(data) : data;
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(20, 4);
    header.writeUInt16LE(deflate ? 8 : 0, 8);
    header.writeUInt32LE(crc32(data), 14);
    header.writeUInt32LE(body.length, 18);
    header.writeUInt32LE(size, 22);
    header.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc32(data), 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(header, name, body);
    centrals.push(central, name);
    offset += header.length + name.length + body.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('mock-claude: Skills API, current shape (no skills beta)', () => {
  it('create derives display_name from SKILL.md; versions are addressed by id; the last version stays', async () => {
    const files = await upload('report-helper', skillMd('report-helper', 'Writes reports'), {
      'scripts/run.py': 'print(1)\n',
    });
    const skill = await client().beta.skills.create({ files });
    expect(skill).toEqual({
      type: 'skill',
      id: expect.stringMatching(/^skill_01[A-Za-z0-9]{22}$/),
      display_name: 'report-helper',
      latest_version_id: expect.stringMatching(/^skillver_01[A-Za-z0-9]{22}$/),
      source: { type: 'custom' },
      created_at: expect.stringMatching(ISO),
      updated_at: expect.stringMatching(ISO),
    });
    const sent = mockClaude.mock.requests.at(-1)!;
    expect(sent.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(sent.text).toContain('filename="report-helper/scripts/run.py"');
    expect(await client().beta.skills.retrieve(skill.id)).toEqual(skill);

    const first = await client().beta.skills.versions.retrieve(skill.latest_version_id, { skill_id: skill.id });
    expect(first).toEqual({
      type: 'skill_version',
      id: skill.latest_version_id,
      skill_id: skill.id,
      created_at: skill.created_at,
      name: 'report-helper',
      description: 'Writes reports',
    });
    const second = await client().beta.skills.versions.create(skill.id, {
      files: await upload('report-helper', skillMd('report-helper', 'Writes better reports')),
    });
    expect(second).toMatchObject({ name: 'report-helper', description: 'Writes better reports', skill_id: skill.id });
    expect(second.id).not.toBe(first.id);
    expect((await client().beta.skills.retrieve(skill.id)).latest_version_id).toBe(second.id);
    expect(await client().beta.skills.versions.retrieve('latest', { skill_id: skill.id })).toEqual(second);
    const listed = await client().beta.skills.versions.list(skill.id);
    expect(listed.data.map((v) => v.id)).toEqual([second.id, first.id]);

    expect(await client().beta.skills.versions.delete(first.id, { skill_id: skill.id })).toEqual({
      id: first.id,
      type: 'skill_version_deleted',
    });
    await expect(client().beta.skills.versions.delete(second.id, { skill_id: skill.id })).rejects.toBeInstanceOf(
      Anthropic.BadRequestError,
    );
    expect(await client().beta.skills.delete(skill.id)).toEqual({ id: skill.id, type: 'skill_deleted' });
    const gone = await client()
      .beta.skills.retrieve(skill.id)
      .catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(Anthropic.NotFoundError);
    expect((gone as { error: unknown }).error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });
});

describe('mock-claude: Skills API, beta shape (anthropic-beta: skills-2025-10-02)', () => {
  it('display_title, latest_version, versions as epoch-microsecond strings; versions go first', async () => {
    const skill = (await client().beta.skills.create({
      files: await upload('sales-helper', skillMd('sales-helper', 'Drafts outreach')),
      display_name: 'Sales helper',
      betas,
    })) as unknown as Record<string, string>;
    expect(skill).toEqual({
      type: 'skill',
      id: expect.stringMatching(/^skill_01/),
      display_title: 'Sales helper',
      latest_version: expect.stringMatching(/^\d{16}$/),
      source: 'custom',
      created_at: expect.stringMatching(ISO),
      updated_at: expect.stringMatching(ISO),
    });
    expect(Math.abs(Number(skill.latest_version) / 1000 - Date.parse(skill.created_at!))).toBeLessThan(1000);
    const next = (await client().beta.skills.versions.create(skill.id!, {
      files: await upload('sales-helper', skillMd('sales-helper', 'Drafts better outreach')),
      betas,
    })) as unknown as Record<string, string>;
    expect(next).toEqual({
      type: 'skill_version',
      id: expect.stringMatching(/^skillver_01/),
      skill_id: skill.id,
      created_at: expect.stringMatching(ISO),
      name: 'sales-helper',
      description: 'Drafts better outreach',
      directory: 'sales-helper',
      version: expect.stringMatching(/^\d{16}$/),
    });
    expect(BigInt(next.version!)).toBeGreaterThan(BigInt(skill.latest_version!));
    const byEpoch = await client().beta.skills.versions.retrieve(skill.latest_version!, {
      skill_id: skill.id!,
      betas,
    });
    expect(byEpoch).toMatchObject({ version: skill.latest_version, description: 'Drafts outreach' });

    await expect(client().beta.skills.delete(skill.id!, { betas })).rejects.toBeInstanceOf(Anthropic.BadRequestError);
    for (const version of [skill.latest_version!, next.version!])
      expect(await client().beta.skills.versions.delete(version, { skill_id: skill.id!, betas })).toEqual({
        id: version,
        type: 'skill_version_deleted',
      });
    expect(await client().beta.skills.delete(skill.id!, { betas })).toEqual({ id: skill.id, type: 'skill_deleted' });
  });
});

describe('mock-claude: Skills API, listing and refusals', () => {
  it("lists Anthropic's pre-built skills beside custom ones, filtered by source, paged", async () => {
    const anthropic = await client().beta.skills.list({ source: 'anthropic', betas });
    expect(anthropic.data.map((s) => s.id)).toEqual(['xlsx', 'pptx', 'docx', 'pdf']);
    expect(anthropic.data.every((s) => (s.source as unknown) === 'anthropic')).toBe(true);
    const custom = await client().beta.skills.create({
      files: await upload('lister', skillMd('lister', 'Lists things')),
    });
    const mine = await client().beta.skills.list({ source: 'custom' });
    expect(mine.data.map((s) => s.id)).toEqual([custom.id]);
    expect(mine.data[0]?.source).toEqual({ type: 'custom' });
    const page = await client().beta.skills.list({ limit: 2 });
    expect(page.data.map((s) => s.id)).toEqual([custom.id, 'xlsx']);
    expect(page.next_page).toMatch(/^page_/);
    const all: string[] = [];
    for await (const s of client().beta.skills.list({ limit: 2 })) all.push(s.id);
    expect(all).toEqual([custom.id, 'xlsx', 'pptx', 'docx', 'pdf']);
    await expect(client().beta.skills.delete('pptx')).rejects.toBeInstanceOf(Anthropic.PermissionDeniedError);
    await client().beta.skills.delete(custom.id);
  });

  it('refuses uploads the API refuses, saying why', async () => {
    const cases: [Promise<File[]>, string][] = [
      [
        (async () => [
          await toFile(Buffer.from(skillMd('a', 'b')), 'one/SKILL.md'),
          await toFile(Buffer.from('x'), 'two/x.txt'),
        ])(),
        'same top-level directory',
      ],
      [upload('dir', '# no frontmatter'), 'frontmatter'],
      [(async () => [await toFile(Buffer.from('x'), 'dir/README.md')])(), 'SKILL.md'],
      [upload('dir', skillMd('Not-Kebab', 'x')), 'name must be'],
      [upload('dir', skillMd('my-claude-helper', 'x')), 'reserved'],
      [upload('dir', '---\nname: ok-name\n---\n'), 'description is required'],
    ];
    for (const [files, message] of cases) {
      const err = await client()
        .beta.skills.create({ files: await files })
        .catch((e: unknown) => e);
      expect(err, message).toBeInstanceOf(Anthropic.BadRequestError);
      expect((err as Error).message).toContain(message);
    }
    const skill = await client().beta.skills.create({ files: await upload('fixed', skillMd('fixed', 'x')) });
    const renamed = await client()
      .beta.skills.versions.create(skill.id, { files: await upload('other', skillMd('other', 'x')) })
      .catch((e: unknown) => e);
    expect(renamed).toBeInstanceOf(Anthropic.BadRequestError);
    expect((renamed as Error).message).toContain("does not match the skill's name");
  });

  it('accepts the directory as one .zip (stored, deflated entries), refuses one that unpacks too far', async () => {
    const zip = zipOf([
      { path: 'zipped-skill/', data: Buffer.alloc(0) },
      { path: 'zipped-skill/SKILL.md', data: Buffer.from(skillMd('zipped-skill', 'From a zip')), deflate: true },
      { path: 'zipped-skill/data/table.csv', data: Buffer.from('a,b\n') },
    ]);
    const skill = await client().beta.skills.create({
      files: [await toFile(zip, 'zipped-skill.zip', { type: 'application/zip' })],
      betas,
    });
    const version = await client().beta.skills.versions.retrieve('latest', { skill_id: skill.id, betas });
    expect(version).toMatchObject({ name: 'zipped-skill', description: 'From a zip', directory: 'zipped-skill' });

    // 9 MB of zeros in a few KB, once declared honestly and once declared as 10 bytes.
    for (const size of [undefined, 10]) {
      const bomb = zipOf([
        { path: 'bomb/SKILL.md', data: Buffer.from(skillMd('bomb', 'x')) },
        { path: 'bomb/zeros.bin', data: Buffer.alloc(9 * 1024 * 1024), deflate: true, size },
      ]);
      expect(bomb.length).toBeLessThan(100_000);
      const refused = await client()
        .beta.skills.create({ files: [await toFile(bomb, 'bomb.zip')] })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(Anthropic.BadRequestError);
      expect((refused as Error).message).toMatch(/unpacks (to more than|past)/);
    }
  });
});

/**
 * New embedded databases are copies of a template this process keeps in the temp directory. A temp
 * cleaner may remove it under a long-running gateway: the next new database must still open.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect, it } from 'vitest';
import { MIGRATIONS } from '../../../gateway/store/migrations.ts';
import { embeddedTemplate, openPglite, sweepOrphanTemplates } from '../../../gateway/store/pglite-db.ts';

async function tableCount(location: { dir: string } | 'memory'): Promise<number> {
  const db = await openPglite(location, MIGRATIONS);
  try {
    const [row] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'");
    return row!.n;
  } finally {
    await db.close();
  }
}

it('makes the template again when the temp directory lost it', async () => {
  const tables = await tableCount('memory');
  expect(tables).toBeGreaterThan(0);
  const first = await embeddedTemplate();
  expect(first && existsSync(first.dir)).toBe(true);
  await rm(dirname(first!.dir), { recursive: true, force: true });

  const stateDir = await mkdtemp(join(tmpdir(), 'sluice-template-'));
  try {
    expect(await tableCount({ dir: join(stateDir, 'db') })).toBe(tables);
    expect(await tableCount('memory')).toBe(tables);
    const second = await embeddedTemplate();
    expect(second!.dir).not.toBe(first!.dir);
    expect(existsSync(second!.dir)).toBe(true);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
});

it('removes the templates of processes that are gone, and only those', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sluice-sweep-'));
  try {
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    const names = {
      orphan: `sluice-pglite-${gone}-aaaa`,
      own: `sluice-pglite-${process.pid}-bbbb`,
      live: `sluice-pglite-${process.ppid}-cccc`,
      other: `sluice-policy-${gone}-dddd`,
    };
    for (const name of Object.values(names)) await mkdir(join(root, name, 'db'), { recursive: true });
    // A link named like an orphan is not followed, nor removed as a template.
    await symlink(join(root, names.live), join(root, `sluice-pglite-${gone}-link`));

    sweepOrphanTemplates(root);

    expect((await readdir(root)).sort()).toEqual(
      [names.own, names.live, names.other, `sluice-pglite-${gone}-link`].sort(),
    );
    expect(existsSync(join(root, names.live, 'db'))).toBe(true);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

/**
 * A real small filesystem (tmpfs) for full-disk tests. Mounting needs mount(2): root, as on the
 * development machines and CI; elsewhere `mounted` is false and the tests that need it skip.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SmallDisk {
  readonly mountPoint: string;
  readonly mounted: boolean;
  /** Fills what is left of the disk: the filler takes every byte the files on it have not. */
  fill(): void;
  /** Gives the filler's space back. */
  free(): void;
  /** Frees, unmounts and removes the mount point. */
  remove(): void;
}

export function smallDisk(prefix: string, size: '256k' | '1m'): SmallDisk {
  const mountPoint = mkdtempSync(join(tmpdir(), prefix));
  let mounted = true;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', mountPoint], { stdio: 'ignore' });
  } catch {
    mounted = false;
  }
  const filler = join(mountPoint, 'filler');
  const free = () => rmSync(filler, { force: true });
  return {
    mountPoint,
    mounted,
    fill() {
      try {
        writeFileSync(filler, Buffer.alloc(4 * 1024 * 1024));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    },
    free,
    remove() {
      free();
      if (mounted) execFileSync('umount', [mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    },
  };
}

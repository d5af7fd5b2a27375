/**
 * The key of the keyed-hash mask style. It comes from the environment variable the config names
 * (`masking.hashKeyEnv`); when that is unset a random key is generated at start, which keeps
 * hashes stable for the life of the process only (the caller is told through the start log).
 */
import { randomBytes } from 'node:crypto';

/** The key and where it came from. */
export interface HashKey {
  readonly key: Buffer;
  readonly generated: boolean;
}

/** Reads the key (at least 16 bytes of text) from `env[name]`, or generates 32 random bytes. */
export function loadHashKey(name: string, env: NodeJS.ProcessEnv): HashKey {
  const value = env[name];
  if (value === undefined || value === '') return { key: randomBytes(32), generated: true };
  if (Buffer.byteLength(value) < 16) throw new Error(`masking.hashKeyEnv: ${name} must hold at least 16 bytes`);
  return { key: Buffer.from(value, 'utf8'), generated: false };
}

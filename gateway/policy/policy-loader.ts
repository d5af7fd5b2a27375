/**
 * The one path every bundle takes into the gateway, whatever its source: unpack → verify the
 * signature (when a key is configured) → read the WASM and data → instantiate → smoke-evaluate
 * → swap. Any failed step refuses the bundle and leaves the current engine serving; a request
 * never sees a half-loaded policy because the swap is the last, single assignment.
 */
import { createHash } from 'node:crypto';
import { parseBundle, unpackBundle } from './bundle-reader.ts';
import { verifyBundleSignature, type BundleVerificationKey, type VerifiedSignature } from './bundle-verify.ts';
import type { PolicyStore } from './policy-store.ts';
import { PolicyEngine } from './wasm-engine.ts';

/** The logger methods the loader and sources use (pino's signature). */
export interface PolicyLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** A logger that drops everything, until the gateway's own is attached. */
export const SILENT_LOG: PolicyLog = { info() {}, warn() {} };

/** An engine built from bundle bytes, not yet serving. */
export interface PreparedBundle {
  readonly engine: PolicyEngine;
  readonly signature: VerifiedSignature | undefined;
  /** SHA-256 of the bundle bytes: the same bytes are never loaded twice. */
  readonly digest: string;
}

/**
 * Builds an engine from bundle bytes, checking the signature first when `key` is given (an
 * unsigned bundle is then refused). Throws with `source` in the message on any failure.
 */
export async function prepareBundle(
  bytes: Buffer,
  source: string,
  key: BundleVerificationKey | undefined,
): Promise<PreparedBundle> {
  const digest = createHash('sha256').update(bytes).digest('hex');
  let files: Map<string, Buffer>;
  try {
    files = await unpackBundle(bytes);
  } catch (err) {
    throw new Error(`policy bundle ${source} is not a readable .tar.gz: ${(err as Error).message}`, { cause: err });
  }
  let signature: VerifiedSignature | undefined;
  if (key) {
    try {
      signature = await verifyBundleSignature(files, key);
    } catch (err) {
      throw new Error(`policy bundle ${source} refused: ${(err as Error).message}`, { cause: err });
    }
  }
  const engine = await PolicyEngine.fromParsed(parseBundle(files, source), source);
  return { engine, signature, digest };
}

/** The outcome of one load attempt. */
export type LoadResult =
  | { readonly kind: 'loaded'; readonly revision: string; readonly durationMs: number }
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'refused'; readonly error: Error };

/** Loads bundles into a PolicyStore, one at a time, keeping the last good one on failure. */
export class PolicyLoader {
  private queue: Promise<unknown> = Promise.resolve();
  private lastDigest: string | undefined;
  private lastRefusedDigest: string | undefined;
  private log: PolicyLog;

  constructor(
    readonly store: PolicyStore,
    private readonly key: BundleVerificationKey | undefined,
    log: PolicyLog = SILENT_LOG,
  ) {
    this.log = log;
  }

  /** Sends later messages to `log` (the gateway's logger exists only once the app is built). */
  useLog(log: PolicyLog): void {
    this.log = log;
  }

  /** The logger in use; sources log their own failures (downloads) to it. */
  get logger(): PolicyLog {
    return this.log;
  }

  /**
   * Verifies, loads and swaps in `bytes`; never throws. Loads are serialized so two sources (or
   * a watcher firing twice) cannot race and swap an older bundle in after a newer one.
   */
  load(bytes: Buffer, source: string): Promise<LoadResult> {
    const run = this.queue.then(() => this.loadNow(bytes, source));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async loadNow(bytes: Buffer, source: string): Promise<LoadResult> {
    const started = performance.now();
    const digest = createHash('sha256').update(bytes).digest('hex');
    // The same bytes again (a watcher firing twice, a server ignoring ETags): nothing to do.
    if ((digest === this.lastDigest && this.store.current()) || digest === this.lastRefusedDigest)
      return { kind: 'unchanged' };
    try {
      const prepared = await prepareBundle(bytes, source, this.key);
      const previous = this.store.current()?.revision;
      this.store.swap(prepared.engine, source);
      this.lastDigest = digest;
      this.lastRefusedDigest = undefined;
      const durationMs = performance.now() - started;
      this.log.info(
        {
          source,
          revision: prepared.engine.revision,
          previous,
          signed: prepared.signature !== undefined,
          policyReadsText: prepared.engine.readsText,
          durationMs: Math.round(durationMs * 10) / 10,
        },
        'policy bundle loaded',
      );
      return { kind: 'loaded', revision: prepared.engine.revision, durationMs };
    } catch (err) {
      const error = err as Error;
      this.lastRefusedDigest = digest;
      this.store.failed(source, error.message);
      this.log.warn(
        { source, error: error.message, serving: this.store.current()?.revision ?? null },
        'policy bundle refused; the previous bundle keeps serving',
      );
      return { kind: 'refused', error };
    }
  }
}

/**
 * Downloads bundles from an HTTP bundle server with OPA's bundle protocol: `If-None-Match` with
 * the last ETag (304 = unchanged), polling at a random delay between min and max, exponential
 * back-off on errors, and optional long polling (`Prefer: wait=N`; the server shows support by
 * answering `Content-Type: application/vnd.openpolicyagent.bundles`, and the next request is
 * then sent at once).
 */
import { request } from 'undici';
import type { LoadResult, PolicyLoader } from './policy-loader.ts';

/** The content type by which a bundle server says it supports long polling (OPA's). */
export const OPA_BUNDLE_CONTENT_TYPE = 'application/vnd.openpolicyagent.bundles';

/** Largest bundle accepted from a server. */
const MAX_BUNDLE_BYTES = 64 * 1024 * 1024;

/** Options of HttpBundleSource. */
export interface HttpBundleSourceOptions {
  readonly url: string;
  readonly loader: PolicyLoader;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  /** Enables long polling with this server-side wait. */
  readonly longPollingTimeoutSeconds?: number;
  /** Time to response headers for a normal poll. */
  readonly timeoutMs?: number;
}

/** What one poll did. */
export type PollResult =
  | { readonly status: 304 }
  | { readonly status: 200; readonly load: LoadResult }
  | { readonly status: 'error'; readonly error: Error };

/** Polls one bundle URL and loads every new bundle through the loader. */
export class HttpBundleSource {
  private etag: string | undefined;
  private longPolling: boolean;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly abort = new AbortController();
  private stopped = false;
  /** Polls made, by result, for tests and metrics. */
  readonly counts = { ok: 0, notModified: 0, errors: 0 };

  constructor(private readonly options: HttpBundleSourceOptions) {
    this.longPolling = options.longPollingTimeoutSeconds !== undefined;
  }

  /** One request now. Never throws: failures are logged and counted. */
  async poll(): Promise<PollResult> {
    const { url, loader, longPollingTimeoutSeconds } = this.options;
    const headers: Record<string, string> = { accept: `application/gzip, ${OPA_BUNDLE_CONTENT_TYPE}` };
    if (this.etag) headers['if-none-match'] = this.etag;
    const waitS = this.longPolling ? longPollingTimeoutSeconds : undefined;
    if (waitS !== undefined) headers.prefer = `wait=${waitS}`;
    const timeout = waitS !== undefined ? (waitS + 30) * 1000 : (this.options.timeoutMs ?? 30_000);
    try {
      const res = await request(url, {
        method: 'GET',
        headers,
        signal: this.abort.signal,
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
      const contentType = String(res.headers['content-type'] ?? '');
      this.longPolling = longPollingTimeoutSeconds !== undefined && contentType.startsWith(OPA_BUNDLE_CONTENT_TYPE);
      if (res.statusCode === 304) {
        await res.body.dump();
        this.failures = 0;
        this.counts.notModified++;
        return { status: 304 };
      }
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new Error(`bundle server answered HTTP ${res.statusCode}`);
      }
      const length = Number(res.headers['content-length'] ?? 0);
      if (length > MAX_BUNDLE_BYTES) {
        await res.body.dump();
        throw new Error(`bundle of ${length} bytes is larger than ${MAX_BUNDLE_BYTES}`);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_BUNDLE_BYTES) throw new Error(`bundle is larger than ${MAX_BUNDLE_BYTES} bytes`);
        chunks.push(chunk);
      }
      const etag = res.headers.etag;
      const load = await loader.load(Buffer.concat(chunks), url);
      // Remember the ETag even for a refused bundle: refetching the same bad bytes helps nobody.
      this.etag = typeof etag === 'string' ? etag : undefined;
      this.failures = load.kind === 'refused' ? this.failures + 1 : 0;
      this.counts.ok++;
      return { status: 200, load };
    } catch (err) {
      this.failures++;
      this.counts.errors++;
      const error = err as Error;
      if (!this.stopped) this.options.loader.store.failed(this.options.url, error.message);
      if (!this.stopped)
        this.options.loader.logger.warn(
          { source: url, error: error.message },
          'policy bundle download failed; the previous bundle keeps serving',
        );
      return { status: 'error', error };
    }
  }

  /** Starts polling after `firstDelayMs`; stop() ends it. */
  start(firstDelayMs = this.nextDelayMs()): void {
    this.schedule(firstDelayMs);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    this.running = this.poll();
    await this.running;
    this.schedule(this.nextDelayMs());
  }

  /**
   * The wait before the next poll: none while long polling works, back-off after failures, else random in [min, max].
   */
  nextDelayMs(): number {
    const { minDelayMs, maxDelayMs } = this.options;
    if (this.failures > 0)
      return Math.min(maxDelayMs, minDelayMs * 2 ** (this.failures - 1)) * (0.5 + Math.random() / 2);
    if (this.longPolling) return 0;
    return minDelayMs + Math.random() * (maxDelayMs - minDelayMs);
  }

  /** Stops polling and aborts a request in flight (a long poll may otherwise hold close for minutes). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort(new Error('policy bundle source stopped'));
    await this.running;
  }
}

/**
 * Bundle sources: a watched file (hot reload, bad versions refused) and a bundle server with
 * OPA's protocol (ETag / If-None-Match → 304, errors with back-off, long polling), including
 * `sluice bundle serve`'s own server.
 */
import { once } from 'node:events';
import { copyFile, readFile, rename, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../../../gateway/policy/bundle-build.ts';
import { serveBundles, type BundleServer } from '../../../gateway/cli/bundle-server.ts';
import { HttpBundleSource, OPA_BUNDLE_CONTENT_TYPE } from '../../../gateway/policy/bundle-source-http.ts';
import { openPolicy, type PolicyRuntime } from '../../../gateway/policy/load-policy.ts';
import { PolicyLoader, SILENT_LOG } from '../../../gateway/policy/policy-loader.ts';
import { PolicyStore } from '../../../gateway/policy/policy-store.ts';
import { tempDir } from '../../helpers/policy-fixtures.ts';

let v1: Buffer;
let v2: Buffer;
const cleanup: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  const dir = await tempDir();
  v1 = await readFile(
    (await buildBundle({ policiesDir: 'policies', outFile: join(dir, 'v1.tar.gz'), revision: 'v1' })).file,
  );
  v2 = await readFile(
    (await buildBundle({ policiesDir: 'policies', outFile: join(dir, 'v2.tar.gz'), revision: 'v2' })).file,
  );
});

afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((f) => f()));
});

/**
 * Resolves once `store.method` has next run: the store has no events of its own, so the call is
 * the event (the method is wrapped for that one call, then the prototype's is used again).
 */
function nextCall(store: PolicyStore, method: 'swap' | 'failed'): Promise<void> {
  return new Promise((resolve) => {
    const original = PolicyStore.prototype[method] as (this: PolicyStore, ...args: unknown[]) => void;
    Object.assign(store, {
      [method]: (...args: unknown[]) => {
        delete (store as Partial<Record<typeof method, unknown>>)[method];
        original.apply(store, args);
        resolve();
      },
    });
  });
}

/** Writes `bytes` beside `path` and renames it into place, as a deploy does. */
async function deploy(path: string, bytes: Buffer): Promise<void> {
  await writeFile(`${path}.new`, bytes);
  await rename(`${path}.new`, path);
}

describe('file bundle hot reload', () => {
  it('swaps in a new file, refuses a broken one and keeps serving, stops on close', async () => {
    const path = join(await tempDir(), 'sluice.tar.gz');
    await writeFile(path, v1);
    const runtime: PolicyRuntime = await openPolicy({
      bundle: path,
      buildIfMissing: false,
      policiesDir: 'policies',
      polling: { minDelaySeconds: 0.2, maxDelaySeconds: 1 },
    });
    cleanup.push(() => runtime.close());
    runtime.watch(SILENT_LOG);
    expect(runtime.store.current()!.revision).toBe('v1');
    const swapped = nextCall(runtime.store, 'swap');
    await deploy(path, v2);
    await swapped;
    expect(runtime.store.current()?.revision).toBe('v2');
    const refused = nextCall(runtime.store, 'failed');
    await deploy(path, Buffer.from('not a bundle'));
    await refused;
    expect(runtime.store.status().failures).toBe(1);
    expect(runtime.store.current()!.revision).toBe('v2');
    expect(runtime.store.status().lastFailure?.message).toMatch(/is not a readable \.tar\.gz/);
    await runtime.close();
    await deploy(path, v1);
    // The sleep is the test: a closed watcher must stay still for longer than its 0.2 s polling delay.
    await new Promise((r) => setTimeout(r, 500));
    expect(runtime.store.current()!.revision).toBe('v2');
  });

  it('refuses to start on a broken file bundle', async () => {
    const path = join(await tempDir(), 'sluice.tar.gz');
    await writeFile(path, 'junk');
    await expect(openPolicy({ bundle: path, buildIfMissing: false, policiesDir: 'policies' })).rejects.toThrow(
      /is not a readable \.tar\.gz/,
    );
  });
});

/** What the scripted server answers to one request. */
type ScriptedAnswer = { status: number; etag?: string; type?: string; body?: Buffer; delayMs?: number };

/** A scripted bundle server recording each request's headers (its `server` emits 'request'). */
async function scripted(
  handler: (headers: IncomingHttpHeaders, n: number) => ScriptedAnswer,
): Promise<{ url: string; seen: IncomingHttpHeaders[]; server: Server }> {
  const seen: IncomingHttpHeaders[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(req.headers);
    const r = handler(req.headers, seen.length);
    // Not a wait: the delay is the scripted server's behaviour (a long poll it holds).
    setTimeout(() => {
      res.writeHead(r.status, { ...(r.etag ? { etag: r.etag } : {}), 'content-type': r.type ?? 'application/gzip' });
      res.end(r.body);
    }, r.delayMs ?? 0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve))));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundles/sluice.tar.gz`, seen, server };
}

function source(url: string, extra: Partial<ConstructorParameters<typeof HttpBundleSource>[0]> = {}): HttpBundleSource {
  const s = new HttpBundleSource({
    url,
    loader: new PolicyLoader(new PolicyStore(), undefined),
    minDelayMs: 1000,
    maxDelayMs: 2000,
    ...extra,
  });
  cleanup.push(() => s.stop());
  return s;
}

describe('HTTP bundle server protocol', () => {
  it('sends If-None-Match with the last ETag; 304 keeps the bundle; a new ETag swaps', async () => {
    let current = { etag: '"v1"', body: v1 };
    const server = await scripted((h) =>
      h['if-none-match'] === current.etag ? { status: 304, etag: current.etag } : { status: 200, ...current },
    );
    const s = source(server.url);
    const store = (s as unknown as { options: { loader: PolicyLoader } }).options.loader.store;
    expect(await s.poll()).toMatchObject({ status: 200, load: { kind: 'loaded', revision: 'v1' } });
    expect(server.seen[0]!['if-none-match']).toBeUndefined();
    expect(await s.poll()).toEqual({ status: 304 });
    expect(server.seen[1]!['if-none-match']).toBe('"v1"');
    expect(store.current()!.revision).toBe('v1');
    current = { etag: '"v2"', body: v2 };
    expect(await s.poll()).toMatchObject({ status: 200, load: { kind: 'loaded', revision: 'v2' } });
    expect(s.counts).toEqual({ ok: 2, notModified: 1, errors: 0 });
    const delay = s.nextDelayMs();
    expect(delay).toBeGreaterThanOrEqual(1000);
    expect(delay).toBeLessThanOrEqual(2000);
  });

  it('keeps serving through server errors and a refused bundle, backing off', async () => {
    const answers = [
      { status: 200, etag: '"v1"', body: v1 },
      { status: 500 },
      { status: 200, etag: '"bad"', body: Buffer.from('garbage') },
      { status: 503 },
    ];
    const server = await scripted((_h, n) => answers[n - 1] ?? { status: 500 });
    const s = source(server.url, { minDelayMs: 100, maxDelayMs: 10_000 });
    const store = (s as unknown as { options: { loader: PolicyLoader } }).options.loader.store;
    await s.poll();
    expect(await s.poll()).toMatchObject({ status: 'error', error: { message: 'bundle server answered HTTP 500' } });
    expect(await s.poll()).toMatchObject({ status: 200, load: { kind: 'refused' } });
    await s.poll();
    expect(store.current()!.revision).toBe('v1');
    expect(store.status().failures).toBe(3);
    // Three failures in a row: 100 ms · 2² = 400 ms, jittered down to no less than half.
    const delay = s.nextDelayMs();
    expect(delay).toBeGreaterThanOrEqual(200);
    expect(delay).toBeLessThanOrEqual(400);
  });

  it('long polls with Prefer: wait=N while the server answers with the OPA bundle type, else falls back', async () => {
    let type = OPA_BUNDLE_CONTENT_TYPE;
    const server = await scripted((h) =>
      h['if-none-match'] === '"v1"'
        ? { status: 304, etag: '"v1"', type }
        : { status: 200, etag: '"v1"', body: v1, type },
    );
    const s = source(server.url, { longPollingTimeoutSeconds: 7 });
    await s.poll();
    expect(server.seen[0]!.prefer).toBe('wait=7');
    expect(s.nextDelayMs()).toBe(0);
    type = 'application/gzip';
    await s.poll();
    expect(s.nextDelayMs()).toBeGreaterThanOrEqual(1000);
    await s.poll();
    expect(server.seen[2]!.prefer).toBeUndefined();
  });

  it('stop() aborts a long poll in flight at once', async () => {
    const server = await scripted(() => ({ status: 304, delayMs: 10_000 }));
    const s = source(server.url, { longPollingTimeoutSeconds: 30 });
    const arrived = once(server.server, 'request');
    const pending = s.poll();
    await arrived;
    const started = Date.now();
    await s.stop();
    expect(await pending).toMatchObject({ status: 'error' });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('a gateway started against an unreachable bundle server is not ready, then loads when it appears', async () => {
    const dir = await tempDir();
    const bundles: BundleServer = await serveBundles({ dir, port: 0 });
    cleanup.push(() => bundles.close());
    const runtime = await openPolicy({
      bundle: `${bundles.url}/sluice.tar.gz`,
      buildIfMissing: false,
      policiesDir: 'policies',
      polling: { minDelaySeconds: 0.1, maxDelaySeconds: 0.2 },
    });
    cleanup.push(() => runtime.close());
    expect(runtime.store.current()).toBeUndefined();
    expect(runtime.store.status().lastFailure?.message).toBe('bundle server answered HTTP 404');
    const swapped = nextCall(runtime.store, 'swap');
    runtime.watch(SILENT_LOG);
    await writeFile(join(dir, 'sluice.tar.gz'), v2);
    await swapped;
    expect(runtime.store.current()?.revision).toBe('v2');
  });
});

describe('sluice bundle serve', () => {
  it('serves with a strong ETag, 304, and answers a long poll when the bundle changes', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'sluice.tar.gz'), v1);
    const server = await serveBundles({ dir, port: 0 });
    cleanup.push(() => server.close());
    const first = await fetch(`${server.url}/sluice.tar.gz`);
    const etag = first.headers.get('etag')!;
    expect(first.status).toBe(200);
    expect(Buffer.from(await first.arrayBuffer()).equals(v1)).toBe(true);
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    expect((await fetch(`${server.url}/sluice.tar.gz`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    // Long poll: held until the file changes.
    const arrived = once(server.server, 'request');
    let answered = false;
    const poll = fetch(`${server.url}/sluice.tar.gz`, { headers: { 'if-none-match': etag, prefer: 'wait=10' } });
    void poll.then(
      () => (answered = true),
      () => undefined,
    );
    await arrived;
    // The sleep is the test: a held poll is one still unanswered a while after it arrived.
    await new Promise((r) => setTimeout(r, 400));
    expect(answered).toBe(false);
    await copyFile(join(dir, 'sluice.tar.gz'), join(dir, 'old'));
    await writeFile(join(dir, 'sluice.tar.gz'), v2);
    const changed = Date.now();
    const held = await poll;
    expect(held.status).toBe(200);
    expect(held.headers.get('content-type')).toBe(OPA_BUNDLE_CONTENT_TYPE);
    expect(Date.now() - changed).toBeLessThan(5000);
    // Nothing changes: 304 after the wait.
    const again = await fetch(`${server.url}/sluice.tar.gz`, {
      headers: { 'if-none-match': held.headers.get('etag')!, prefer: 'wait=1' },
    });
    expect(again.status).toBe(304);
  });

  it('serves nothing outside the directory, no dotfiles, GET/HEAD only', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, '.secret'), 'x');
    const server = await serveBundles({ dir, port: 0 });
    cleanup.push(() => server.close());
    expect((await fetch(`${server.url}/%2e%2e/%2e%2e/etc/passwd`)).status).toBe(404);
    expect((await fetch(`${server.url}/.secret`)).status).toBe(404);
    expect((await fetch(`${server.url}/missing.tar.gz`)).status).toBe(404);
    expect((await fetch(`${server.url}/x`, { method: 'POST' })).status).toBe(405);
  });
});

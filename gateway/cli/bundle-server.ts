/**
 * A small static bundle server speaking OPA's bundle protocol, so a team can host bundles
 * without more software: GET /<file> under a directory, a strong ETag (SHA-256 of the bytes),
 * 304 on If-None-Match, and long polling (`Prefer: wait=N`: the answer waits until the bundle
 * changes or N seconds pass). Own code: about 80 lines, where a static-file plugin would still
 * need the ETag and long-poll parts written.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join, normalize, resolve, sep } from 'node:path';
import { OPA_BUNDLE_CONTENT_TYPE } from '../policy/bundle-source-http.ts';

/** Longest long-poll wait the server grants, whatever the client asks. */
const MAX_WAIT_SECONDS = 300;
const RECHECK_MS = 250;

/** Options of serveBundles. */
export interface BundleServerOptions {
  readonly dir: string;
  readonly host?: string;
  readonly port?: number;
}

/** A running bundle server. */
export interface BundleServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

async function current(file: string): Promise<{ bytes: Buffer; etag: string } | undefined> {
  const bytes = await readFile(file).catch(() => undefined);
  return bytes && { bytes, etag: `"${createHash('sha256').update(bytes).digest('hex')}"` };
}

/** Serves the bundles under `dir` until close(). */
export async function serveBundles(options: BundleServerOptions): Promise<BundleServer> {
  const root = resolve(options.dir);
  const server = createServer((req, res) => {
    void (async () => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      const file = normalize(join(root, path));
      if (
        (req.method !== 'GET' && req.method !== 'HEAD') ||
        !file.startsWith(root + sep) ||
        path.split('/').some((p) => p.startsWith('.'))
      ) {
        res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 404 : 405).end();
        return;
      }
      const wait = Math.min(
        MAX_WAIT_SECONDS,
        Number(/(?:^|[;,\s])wait=(\d+)/.exec(String(req.headers.prefer ?? ''))?.[1] ?? 0),
      );
      const known = req.headers['if-none-match'];
      const deadline = Date.now() + wait * 1000;
      let bundle = await current(file);
      // Long poll: hold the request while the client already has this version.
      while (bundle && known === bundle.etag && Date.now() < deadline && !req.destroyed) {
        await new Promise((r) => setTimeout(r, RECHECK_MS));
        bundle = await current(file);
      }
      if (!bundle) return void res.writeHead(404).end();
      const contentType = wait > 0 ? OPA_BUNDLE_CONTENT_TYPE : 'application/gzip';
      if (known === bundle.etag)
        return void res.writeHead(304, { etag: bundle.etag, 'content-type': contentType }).end();
      res.writeHead(200, {
        etag: bundle.etag,
        'content-type': contentType,
        'content-length': bundle.bytes.length,
        'cache-control': 'no-cache',
      });
      res.end(req.method === 'HEAD' ? undefined : bundle.bytes);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8181, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const host = (options.host ?? '127.0.0.1').includes(':') ? `[${options.host}]` : (options.host ?? '127.0.0.1');
  return {
    url: `http://${host}:${port}`,
    server,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

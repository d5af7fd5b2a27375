/**
 * The floor: the least a Node reverse proxy can do — undici to the upstream, bodies streamed
 * both ways, nothing inspected. Sluice's cost is reported as a ratio to this.
 */
import { createServer, type Server } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'undici';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'content-length']);

export function startBareProxy(
  upstreamUrl: string,
  upstreamKey: string,
  port = 0,
): Promise<{ url: string; server: Server }> {
  const pool = new Pool(upstreamUrl, { connections: 128 });
  const server = createServer(async (req, res) => {
    try {
      const headers: Record<string, string> = { 'x-api-key': upstreamKey };
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === 'string' && !HOP_BY_HOP.has(name) && name !== 'authorization') headers[name] = value;
      }
      const upstream = await pool.request({ method: req.method as 'POST', path: req.url ?? '/', headers, body: req });
      const out: Record<string, string> = {};
      for (const [name, value] of Object.entries(upstream.headers))
        if (typeof value === 'string' && !HOP_BY_HOP.has(name)) out[name] = value;
      res.writeHead(upstream.statusCode, out);
      await pipeline(upstream.body, res);
    } catch {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    }
  });
  return new Promise((resolve) =>
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      resolve({ url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}`, server });
    }),
  );
}

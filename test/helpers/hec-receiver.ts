/**
 * A local Splunk HTTP Event Collector stand-in that checks the wire format as Splunk documents it
 * ("Format events for HTTP Event Collector"): `POST /services/collector/event`, `Authorization:
 * Splunk <token>`, a body of one or more JSON event documents one after another, each with
 * `event` (required, not blank) and optional `time` (epoch seconds), `host`, `source`,
 * `sourcetype`, `index`, `fields` (flat: string or string-array values). Answers as Splunk does:
 * `{"text":"Success","code":0}`, 401/403 for a missing/wrong token, 400 code 6/12/13/15 for bad
 * data, and 503 `{"text":"Server is busy","code":9}` while `busy`. `stop()` closes the port for a
 * real outage (connections refused); `start()` listens on the same port again.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One event document as received. */
export interface HecDocument {
  readonly time?: number;
  readonly host?: string;
  readonly source?: string;
  readonly sourcetype?: string;
  readonly index?: string;
  readonly event: unknown;
  readonly fields?: Record<string, string | string[]>;
}

const META = new Set(['time', 'host', 'source', 'sourcetype', 'index', 'event', 'fields']);

/** Splits a body of concatenated JSON values (whitespace between them allowed) into their texts. */
export function splitConcatenatedJson(body: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === '}') {
      if (--depth === 0) out.push(body.slice(start, i + 1));
      if (depth < 0) throw new Error('unbalanced }');
    } else if (depth === 0 && !/\s/.test(c!)) throw new Error(`unexpected ${c} between events`);
  }
  if (depth !== 0 || inString) throw new Error('truncated event');
  return out;
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    text: string,
  ) {
    super(text);
  }
}

function checkDocument(text: string): HecDocument {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Refusal(400, 6, 'Invalid data format');
  }
  for (const k of Object.keys(doc)) if (!META.has(k)) throw new Refusal(400, 6, `Invalid data format (${k})`);
  if (!('event' in doc)) throw new Refusal(400, 12, 'Event field is required');
  if (doc.event === '' || doc.event === null) throw new Refusal(400, 13, 'Event field cannot be blank');
  if (doc.time !== undefined && (typeof doc.time !== 'number' || doc.time < 1e9 || doc.time > 1e10))
    throw new Refusal(400, 6, 'Invalid data format (time must be epoch seconds)');
  for (const k of ['host', 'source', 'sourcetype', 'index'])
    if (doc[k] !== undefined && typeof doc[k] !== 'string') throw new Refusal(400, 6, `Invalid data format (${k})`);
  if (doc.fields !== undefined) {
    const fields = doc.fields as Record<string, unknown>;
    if (typeof fields !== 'object' || fields === null || Array.isArray(fields))
      throw new Refusal(400, 15, 'Error in handling indexed fields');
    for (const v of Object.values(fields))
      if (typeof v !== 'string' && !(Array.isArray(v) && v.every((x) => typeof x === 'string')))
        throw new Refusal(400, 15, 'Error in handling indexed fields');
  }
  return doc as unknown as HecDocument;
}

export class HecReceiver {
  readonly documents: HecDocument[] = [];
  /** Requests answered per status (200, 503, …). */
  readonly answered = new Map<number, number>();
  /** While true, every request gets 503 code 9 (Server is busy). */
  busy = false;
  /** A document this returns true for is refused with 400 code 6 (Invalid data format), with its whole request. */
  refuse: (doc: HecDocument) => boolean = () => false;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private waiters: Array<() => void> = [];

  private constructor(
    readonly token: string,
    private port: number,
  ) {}

  static async start(token: string): Promise<HecReceiver> {
    const r = new HecReceiver(token, 0);
    await r.start();
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Closes the port and every open connection: clients see refused or reset connections. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Resolves once `predicate` holds for what was received (checked after each request). */
  async until(predicate: (r: HecReceiver) => boolean): Promise<void> {
    while (!predicate(this)) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const answer = (status: number, body: { text: string; code: number }): void => {
      this.answered.set(status, (this.answered.get(status) ?? 0) + 1);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    };
    try {
      if (req.method !== 'POST' || req.url !== '/services/collector/event') throw new Refusal(404, 404, 'Not Found');
      const auth = req.headers.authorization;
      if (auth === undefined) throw new Refusal(401, 2, 'Token is required');
      if (!/^Splunk /.test(auth)) throw new Refusal(401, 3, 'Invalid authorization');
      if (auth !== `Splunk ${this.token}`) throw new Refusal(403, 4, 'Invalid token');
      if (this.busy) throw new Refusal(503, 9, 'Server is busy');
      const body = Buffer.concat(chunks).toString('utf8');
      if (body.trim() === '') throw new Refusal(400, 5, 'No data');
      let texts: string[];
      try {
        texts = splitConcatenatedJson(body);
      } catch {
        throw new Refusal(400, 6, 'Invalid data format');
      }
      // Checked whole before any is kept, so a refused batch leaves nothing half-indexed here.
      const docs = texts.map(checkDocument);
      if (docs.some((d) => this.refuse(d))) throw new Refusal(400, 6, 'Invalid data format');
      this.documents.push(...docs);
      answer(200, { text: 'Success', code: 0 });
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      answer(err.status, { text: err.message, code: err.code });
    }
  }
}

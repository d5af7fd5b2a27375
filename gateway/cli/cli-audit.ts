/**
 * `sluice audit verify`, `tail` and `migrate`: check the hash chain of the JSONL file or the
 * Kafka topics, print events readably, rewrite a schema-1 file as schema 2.
 * Brokers and topics come from --config (audit.kafka), SLUICE_KAFKA_BROKERS or --brokers.
 */
import { open, readFile, stat } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { AuditEvent } from '../audit/events.ts';
import { migrateAuditFile } from './audit-migrate.ts';
import { createTailFilter, formatEvent } from './audit-tail-format.ts';
import { formatReport, parseChainHead, verifyChain, type ReadLine } from './audit-verify.ts';
import { loadConfig } from '../config.ts';

/** The flags of `sluice audit verify` and `tail` (the usage text in cli.ts names each). */
export const AUDIT_OPTIONS = {
  config: { type: 'string' },
  kafka: { type: 'boolean', default: false },
  brokers: { type: 'string' },
  topics: { type: 'string' },
  file: { type: 'string' },
  subject: { type: 'string' },
  outcome: { type: 'string' },
  session: { type: 'string' },
  follow: { type: 'boolean', short: 'f', default: false },
  json: { type: 'boolean', default: false },
  head: { type: 'string', multiple: true },
  out: { type: 'string' },
} as const;

type Values = ReturnType<
  typeof parseArgs<{ args: string[]; options: typeof AUDIT_OPTIONS; allowPositionals: true }>
>['values'];

/** Runs `sluice audit <verify|tail> …` and returns the exit code (verify: 1 when a chain is broken). */
export async function auditCommand(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({ args: rest, options: AUDIT_OPTIONS, allowPositionals: true });
  if (sub === 'verify') return verify(values, positionals, env);
  if (sub === 'tail') return tail(values, env);
  if (sub === 'migrate') return migrate(values);
  throw new Error(
    `unknown subcommand "${sub ?? ''}": use audit verify FILE|--kafka, audit tail [--file F | --kafka] ` +
      'or audit migrate --file OLD --out NEW',
  );
}

async function migrate(values: Values): Promise<number> {
  if (!values.file || !values.out) throw new Error('audit migrate: give --file OLD (schema 1) and --out NEW');
  const r = await migrateAuditFile(values.file, values.out);
  process.stdout.write(
    `migrated ${r.migrated} schema-1 events into ${values.out} (chain ${r.instanceId}), ` +
      `continuing ${r.v1Heads.join(', ') || 'no schema-1 chain'}; copied ${r.copied} schema-2 lines as they were\n`,
  );
  return 0;
}

function kafkaSource(values: Values, env: NodeJS.ProcessEnv): { brokers: string[]; topics: string[] } {
  const configured = loadConfig(values.config, env).audit.kafka;
  const brokers = values.brokers ? values.brokers.split(',') : [...(configured?.brokers ?? [])];
  if (brokers.length === 0)
    throw new Error(
      'no Kafka brokers: pass --brokers host:port, set SLUICE_KAFKA_BROKERS, or --config with audit.kafka',
    );
  const topics = values.topics
    ? values.topics.split(',')
    : [
        configured?.topics.decisions ?? 'sluice.audit.decisions',
        configured?.topics.sessions ?? 'sluice.audit.sessions',
      ];
  return { brokers, topics };
}

async function verify(values: Values, files: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const lines: ReadLine[] = [];
  if (values.kafka) {
    const { brokers, topics } = kafkaSource(values, env);
    const { readTopics } = await import('./audit-kafka-reader.ts');
    await readTopics({
      brokers,
      topics,
      onLine: (m) => lines.push({ line: m.line, stream: `${m.topic}/${m.partition}`, at: `offset ${m.offset}` }),
    });
  } else {
    if (files.length === 0) throw new Error('give the audit file(s) to verify, or --kafka');
    for (const file of files) {
      const text = await readFile(file, 'utf8');
      text.split('\n').forEach((line, i) => line !== '' && lines.push({ line, stream: file, at: `line ${i + 1}` }));
    }
  }
  const report = verifyChain(lines, (values.head ?? []).map(parseChainHead));
  process.stdout.write(values.json ? JSON.stringify(report) + '\n' : formatReport(report));
  return report.problems.length === 0 ? 0 : 1;
}

async function tail(values: Values, env: NodeJS.ProcessEnv): Promise<number> {
  const keep = createTailFilter({ subject: values.subject, outcome: values.outcome, session: values.session });
  const print = (line: string): void => {
    let event: AuditEvent;
    try {
      event = JSON.parse(line) as AuditEvent;
    } catch {
      return; // a torn last line while the gateway is writing; the next read completes it
    }
    if (keep(event)) process.stdout.write((values.json ? line : formatEvent(event)) + '\n');
  };
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    if (values.kafka) {
      const { brokers, topics } = kafkaSource(values, env);
      const { readTopics } = await import('./audit-kafka-reader.ts');
      await readTopics({ brokers, topics, follow: values.follow, signal: stop.signal, onLine: (m) => print(m.line) });
    } else {
      await tailFile(values.file ?? loadConfig(values.config, env).audit.file.path, values.follow, stop.signal, print);
    }
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
  return 0;
}

/** Prints the file's lines, then (with follow) polls for appended bytes until the signal aborts. */
async function tailFile(
  path: string,
  follow: boolean,
  signal: AbortSignal,
  print: (line: string) => void,
): Promise<void> {
  let offset = 0;
  let partial = '';
  const decoder = new StringDecoder('utf8'); // a read may end inside a multi-byte character
  for (;;) {
    const size = (await stat(path).catch(() => ({ size: 0 }))).size;
    if (size < offset) offset = 0; // rotated or truncated: start over
    if (size > offset) {
      const fh = await open(path, 'r');
      const { buffer, bytesRead } = await fh.read(Buffer.alloc(size - offset), 0, size - offset, offset);
      await fh.close();
      offset += bytesRead;
      const lines = (partial + decoder.write(buffer.subarray(0, bytesRead))).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line) print(line);
    }
    if (!follow || signal.aborted) return;
    await sleep(250, undefined, { signal }).catch(() => undefined);
    if (signal.aborted) return;
  }
}

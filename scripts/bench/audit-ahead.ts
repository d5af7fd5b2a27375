/**
 * `node --import tsx scripts/bench/audit-ahead.ts [DIR] [--quick]`: what the write-ahead wait costs
 * a call. Each simulated call records a decision-sized event (2 KB) and waits for AuditLog.written(),
 * as runExchange does before forwarding; closed loops at concurrency 1 and 32, with the file sink's
 * fsync off and on, on the file system holding DIR (default: the OS temp dir). With fsync, calls
 * decided during one fdatasync share the next (group commit): 32 concurrent calls then get far more
 * calls a second through than one call at a time, which pays a whole sync per call.
 * Prints a Markdown table; writes bench-results/audit-ahead.json.
 */
import * as hdr from 'hdr-histogram-js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AuditLog } from '../../gateway/audit/audit-log.ts';
import { FileAuditSink } from '../../gateway/audit/file-sink.ts';

const quick = process.argv.includes('--quick');
const base = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? tmpdir();
const SECONDS = quick ? 2 : 5;
const text = 'The quarterly report shows steady growth. '.repeat(48);

async function run(fsync: boolean, concurrency: number) {
  const dir = await mkdtemp(join(base, 'sluice-audit-ahead-'));
  const sink = new FileAuditSink(join(dir, 'audit.jsonl'), { sync: fsync ? 'every' : 'none' });
  const audit = new AuditLog([sink]);
  const h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const end = performance.now() + SECONDS * 1000;
  let calls = 0;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now();
      audit.record({ kind: 'access', timestamp: new Date().toISOString(), subject: 'bench', text } as never);
      await audit.written();
      h.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
      calls++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  await audit.close();
  await rm(dir, { recursive: true, force: true });
  const us = (p: number) => Math.round(h.getValueAtPercentile(p));
  return { fsync, concurrency, callsPerSecond: Math.round(calls / SECONDS), p50Us: us(50), p99Us: us(99) };
}

const results = [];
for (const fsync of [false, true]) for (const concurrency of [1, 32]) results.push(await run(fsync, concurrency));
const rows = results.map(
  (r) => `| ${r.fsync ? 'on' : 'off'} | ${r.concurrency} | ${r.callsPerSecond} | ${r.p50Us} | ${r.p99Us} |`,
);
const md = [
  `Write-ahead wait (record a 2 KB decision, await written()), ${SECONDS}s each, file system of ${base}`,
  '',
  '| fsync | concurrency | calls/s | p50 µs | p99 µs |',
  '|---|---|---|---|---|',
  ...rows,
].join('\n');
process.stdout.write(`${md}\n`);
await mkdir('bench-results', { recursive: true });
await writeFile('bench-results/audit-ahead.json', JSON.stringify(results, null, 2));

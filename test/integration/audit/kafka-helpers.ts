/** Shared steps of the Kafka audit tests: unique topics, reading them back, waiting for delivery. */
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { readTopics, type TopicLine } from '../../../gateway/cli/audit-kafka-reader.ts';
import type { Harness } from '../../helpers/gateway-harness.ts';

export interface Topics {
  readonly decisions: string;
  readonly sessions: string;
}

/** Fresh topic names, so tests sharing one broker never see each other's events. */
export function uniqueTopics(): Topics {
  const id = randomUUID().slice(0, 8);
  return { decisions: `test-${id}.decisions`, sessions: `test-${id}.sessions` };
}

export async function readAll(brokers: string, topics: Topics): Promise<TopicLine[]> {
  const lines: TopicLine[] = [];
  await readTopics({ brokers: [brokers], topics: [topics.decisions, topics.sessions], onLine: (l) => lines.push(l) });
  return lines;
}

/** The raw lines of the harness's JSONL audit file: what Kafka must hold, byte for byte. */
export async function fileLines(h: Harness): Promise<string[]> {
  await h.gateway.audit.flush();
  return (await readFile(h.auditFile, 'utf8')).split('\n').filter(Boolean);
}

export function kafkaMetrics(h: Harness): Record<string, number> {
  return h.gateway.audit.status().sinks.find((s) => s.name === 'kafka')!.metrics;
}

/** Waits until `calls` exchanges are audited: a session record is written just after its response ends. */
export async function waitRecorded(h: Harness, calls: number): Promise<void> {
  await expect
    .poll(async () => (await fileLines(h)).filter((l) => l.includes('"kind":"exchange"')).length, { timeout: 10_000 })
    .toBe(calls);
}

/** Waits until the Kafka sink has delivered everything it spooled. */
export async function waitDelivered(h: Harness, timeoutMs = 60_000): Promise<void> {
  await expect.poll(() => kafkaMetrics(h).spool_depth_records, { timeout: timeoutMs, interval: 100 }).toBe(0);
}

/** One value per event id (consumers dedupe by event_id); returns the lines and the duplicate count. */
export function dedupe(lines: readonly TopicLine[]): { values: string[]; duplicates: number } {
  const seen = new Map<string, string>();
  for (const l of lines) seen.set((JSON.parse(l.line) as { event_id: string }).event_id, l.line);
  return { values: [...seen.values()], duplicates: lines.length - seen.size };
}

/** Every line in a spool directory's segment files. */
export async function spooledLines(spool: string): Promise<string[]> {
  const files = (await readdir(spool)).filter((f) => f.startsWith('segment-')).sort();
  const texts = await Promise.all(files.map((f) => readFile(join(spool, f), 'utf8')));
  return texts.join('').split('\n').filter(Boolean);
}

/** Creates a topic with topic-level configs, as an operator managing topics would. */
export async function createTopic(brokers: string, topic: string, config: Record<string, string>): Promise<void> {
  const admin = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: 1,
          replicationFactor: 1,
          configEntries: Object.entries(config).map(([name, value]) => ({ name, value })),
        },
      ],
    });
  } finally {
    await admin.disconnect();
  }
}

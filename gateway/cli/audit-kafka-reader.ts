import { Kafka, logLevel } from 'kafkajs';
import { randomUUID } from 'node:crypto';

/** One message of an audit topic: its value is the exact audit line. */
export interface TopicLine {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly line: string;
}

/** Where and how to read. Without `follow` reading stops at the end offsets seen at the start. */
export interface ReadTopicsOptions {
  readonly brokers: readonly string[];
  readonly topics: readonly string[];
  readonly follow?: boolean;
  readonly signal?: AbortSignal;
  readonly onLine: (line: TopicLine) => void;
}

/**
 * Reads audit topics from the beginning with a throwaway consumer group (nothing committed, group
 * deleted afterwards), for `sluice audit verify --kafka`, `audit tail --kafka` and the tests.
 */
export async function readTopics(opts: ReadTopicsOptions): Promise<void> {
  const kafka = new Kafka({
    clientId: 'sluice-audit-reader',
    brokers: [...opts.brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
  });
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `sluice-audit-reader-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  try {
    const remaining = new Map<string, bigint>(); // "topic/partition" → end offset still to reach
    const existing = new Set(await admin.listTopics());
    const topics = opts.topics.filter((t) => existing.has(t));
    for (const topic of topics) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        if (BigInt(p.high) > BigInt(p.low)) remaining.set(`${topic}/${p.partition}`, BigInt(p.high));
      }
    }
    if (topics.length === 0 || (!opts.follow && remaining.size === 0)) return;
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      opts.signal?.addEventListener('abort', () => resolve(), { once: true });
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ topic, partition, message }) => {
            opts.onLine({
              topic,
              partition,
              offset: message.offset,
              key: message.key?.toString('utf8') ?? null,
              line: message.value?.toString('utf8') ?? '',
            });
            const key = `${topic}/${partition}`;
            const end = remaining.get(key);
            if (end !== undefined && BigInt(message.offset) + 1n >= end) remaining.delete(key);
            if (!opts.follow && remaining.size === 0) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}

import type { Admin } from 'kafkajs';
import { createMissingTopics, type TopicSpec } from '../audit/kafka-topics.ts';
import type { StateKind } from './state-merge.ts';

/** Topic name per kind of shared state (config `state.kafka.topics`). */
export type StateTopics = { readonly [K in StateKind]: string };

/** Where each partition of the state topics ends right now: "topic/partition" → high watermark. */
export type EndOffsets = Map<string, bigint>;

/**
 * Creates the state topics if missing, compacted: only the newest copy of each record (keyed by
 * its id) has to stay, so the topics stay as small as the state itself and replay from the
 * beginning stays cheap. An existing topic is left as it is (an operator may manage it).
 */
export async function ensureStateTopics(admin: Admin, topics: readonly string[], spec: TopicSpec): Promise<void> {
  await createMissingTopics(admin, topics, spec, [{ name: 'cleanup.policy', value: 'compact' }]);
}

/** The partitions that hold records, with the offset a consumer must reach to have seen them all. */
export async function endOffsets(admin: Admin, topics: readonly string[]): Promise<EndOffsets> {
  const ends: EndOffsets = new Map();
  for (const topic of topics) {
    for (const p of await withLeaderRetry(() => admin.fetchTopicOffsets(topic))) {
      if (BigInt(p.high) > BigInt(p.low)) ends.set(`${topic}/${p.partition}`, BigInt(p.high));
    }
  }
  return ends;
}

// Just after a topic is created the broker may not know its leader yet, and kafkajs's admin does
// not retry listOffsets on that; the caller's start timeout bounds the whole wait.
async function withLeaderRetry<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 50 || (err as { retriable?: boolean }).retriable !== true) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

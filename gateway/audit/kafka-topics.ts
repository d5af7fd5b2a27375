import type { Admin, Kafka, TopicMessages } from 'kafkajs';
import { AUDIT_SCHEMA_VERSION } from './events.ts';
import type { SpoolRecord } from './spool-segments.ts';

/** Topics Sluice creates take records up to this size (an exchange record holds a whole prompt). */
const TOPIC_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/**
 * One produce request's messages. Exchange records (prompts and answers) go to their own topic;
 * decisions and the approval and access events that belong with them go to the decisions topic.
 * The value is the exact audit line's bytes: the hash chain (prev_hash) is computed over them.
 */
export function toTopicMessages(
  batch: readonly SpoolRecord[],
  topics: { decisions: string; sessions: string },
): TopicMessages[] {
  const byTopic = new Map<string, TopicMessages['messages']>();
  for (const rec of batch) {
    const topic = rec.kind === 'exchange' ? topics.sessions : topics.decisions;
    const messages = byTopic.get(topic) ?? byTopic.set(topic, []).get(topic)!;
    messages.push({
      key: rec.key,
      value: rec.value,
      headers: {
        'content-type': 'application/json',
        'sluice-schema-version': String(AUDIT_SCHEMA_VERSION),
        'sluice-kind': rec.kind,
      },
    });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/** Topic settings Sluice creates its topics with. */
export interface TopicSpec {
  readonly partitions: number;
  readonly replicationFactor: number;
}

/**
 * Creates `topics` with `configEntries` where they do not exist (an existing topic is left as it is: an operator may
 * manage it).
 */
export async function createMissingTopics(
  admin: Admin,
  topics: readonly string[],
  spec: TopicSpec,
  configEntries: { name: string; value: string }[],
): Promise<void> {
  await admin.createTopics({
    waitForLeaders: true,
    topics: topics.map((topic) => ({
      topic,
      numPartitions: spec.partitions,
      replicationFactor: spec.replicationFactor,
      configEntries,
    })),
  });
}

/** Creates the audit topics if they do not exist, accepting records up to TOPIC_MAX_MESSAGE_BYTES. */
export async function ensureTopics(kafka: Kafka, topics: readonly string[], spec: TopicSpec): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await createMissingTopics(admin, topics, spec, [
      { name: 'max.message.bytes', value: String(TOPIC_MAX_MESSAGE_BYTES) },
    ]);
  } finally {
    await admin.disconnect();
  }
}

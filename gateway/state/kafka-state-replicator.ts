import { Kafka, Partitioners, logLevel, type Admin, type Consumer, type Producer } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { supersedes, type StateKind, type StateRecords } from './state-merge.ts';
import { endOffsets, ensureStateTopics, type StateTopics } from './state-topics.ts';

/** What the replicator needs (the `state.kafka` config section). */
export interface StateReplicatorOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly topics: StateTopics;
  /** Create missing topics (compacted) with this layout; absent → topics are managed elsewhere. */
  readonly createTopics?: { readonly partitions: number; readonly replicationFactor: number };
  /** How long start() may take to reach the end of the topics before the gateway refuses to start. */
  readonly startTimeoutMs: number;
  readonly logger: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

/** A local store as the replicator sees it: merge a remote copy in, list the local copies. */
export interface StateTarget<K extends StateKind> {
  apply(record: StateRecords[K]): Promise<void>;
  records(): Promise<Array<StateRecords[K]>>;
}

/** Where replicated stores send their writes. */
export interface StatePublisher {
  publish<K extends StateKind>(kind: K, record: StateRecords[K]): void;
}

const INSTANCE_HEADER = 'sluice-instance';
const KINDS: readonly StateKind[] = ['approvals', 'sessions', 'grants'];

/**
 * Shares approvals, sessions and grants between Sluice instances through one compacted topic per
 * kind: every local write is published (key = record id, value = the whole record), and every
 * instance consumes all topics from the beginning with its own consumer group and merges each
 * copy into its local store (state-merge.ts decides which copy wins). Publishing never blocks a
 * request: writes wait in an outbox that keeps only the newest copy per id and is retried until
 * the broker takes it.
 */
export class KafkaStateReplicator implements StatePublisher {
  /** Identifies this process's writes, so it skips its own echoes. */
  readonly instanceId = randomUUID();
  readonly #kafka: Kafka;
  readonly #opts: StateReplicatorOptions;
  readonly #targets = new Map<StateKind, StateTarget<StateKind>>();
  readonly #kindOf = new Map<string, StateKind>();
  // topic → id → JSON of the newest unsent copy.
  #outbox = new Map<string, Map<string, string>>();
  #producer: Producer | undefined;
  #consumer: Consumer | undefined;
  #admin: Admin | undefined;
  #wake: (() => void) | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(opts: StateReplicatorOptions) {
    this.#opts = opts;
    this.#kafka = new Kafka({
      clientId: opts.clientId,
      brokers: [...opts.brokers],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 3000,
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2000 },
    });
    for (const kind of KINDS) this.#kindOf.set(opts.topics[kind], kind);
  }

  /** Connects the store of `kind`; call for every kind before start(). */
  register<K extends StateKind>(kind: K, target: StateTarget<K>): void {
    this.#targets.set(kind, target as unknown as StateTarget<StateKind>);
  }

  publish<K extends StateKind>(kind: K, record: StateRecords[K]): void {
    if (this.#closed)
      return this.#opts.logger.warn({ kind, id: record.id }, 'shared state: write after close is kept locally only');
    const topic = this.#opts.topics[kind];
    const pending = this.#outbox.get(topic) ?? this.#outbox.set(topic, new Map()).get(topic)!;
    pending.set(record.id, JSON.stringify(record));
    this.#wake?.();
  }

  /**
   * Creates the topics, reads them to their current end (merging every copy into the local
   * stores), then publishes the local records the topics lack or hold older copies of (written
   * while this instance ran alone, or not yet sent when it stopped). Resolves once caught up, so
   * the gateway only listens with the shared state in place; rejects after startTimeoutMs.
   */
  async start(): Promise<void> {
    const topics = KINDS.map((k) => this.#opts.topics[k]);
    const admin = (this.#admin = this.#kafka.admin());
    const seen = new Map<string, StateRecords[StateKind]>(); // "kind/id" → newest copy read so far
    const work = async (): Promise<void> => {
      await admin.connect();
      if (this.#opts.createTopics) await ensureStateTopics(admin, topics, this.#opts.createTopics);
      const remaining = await endOffsets(admin, topics);
      this.#producer = this.#kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await this.#producer.connect();
      // A short fetch wait: disconnect waits for the fetch in flight, and records still arrive at once.
      const consumer = (this.#consumer = this.#kafka.consumer({
        groupId: `${this.#opts.clientId}-${this.instanceId}`,
        sessionTimeout: 10_000,
        heartbeatInterval: 1000,
        maxWaitTimeInMs: 1000,
      }));
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: true });
      let caughtUp: () => void = () => {};
      const done = new Promise<void>((resolve) => (caughtUp = resolve));
      if (remaining.size === 0) caughtUp();
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ topic, partition, message }) => {
          const kind = this.#kindOf.get(topic);
          const own = message.headers?.[INSTANCE_HEADER]?.toString() === this.instanceId;
          if (kind && message.value && !own) {
            try {
              const record = JSON.parse(message.value.toString('utf8')) as StateRecords[StateKind];
              if (remaining.size > 0) {
                const key = `${kind}/${record.id}`;
                if (supersedes(kind, record, seen.get(key))) seen.set(key, record);
              }
              await this.#targets.get(kind)?.apply(record);
            } catch (err) {
              // One bad record must not stop replication of the others (kafkajs would retry it forever).
              this.#opts.logger.error(
                { topic, partition, offset: message.offset, err: (err as Error).message },
                'shared state: record skipped',
              );
            }
          }
          const key = `${topic}/${partition}`;
          const end = remaining.get(key);
          if (end !== undefined && BigInt(message.offset) + 1n >= end && remaining.delete(key) && remaining.size === 0)
            caughtUp();
        },
      });
      await done;
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `shared state: could not read the state topics (${topics.join(', ')}) ` +
                `from ${this.#opts.brokers.join(', ')} within ${this.#opts.startTimeoutMs} ms`,
            ),
          ),
        this.#opts.startTimeoutMs,
      );
    });
    try {
      await Promise.race([work(), timeout]);
    } finally {
      clearTimeout(timer);
    }
    for (const [kind, target] of this.#targets) {
      for (const record of await target.records()) {
        if (supersedes(kind, record, seen.get(`${kind}/${record.id}`))) this.publish(kind, record);
      }
    }
    this.#flushing = this.#flushLoop();
  }

  /** Sends what the outbox holds (waiting up to `timeoutMs`), then disconnects; the rest is lost to peers. */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake?.();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#flushing, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    const groupId = `${this.#opts.clientId}-${this.instanceId}`;
    await this.#consumer?.disconnect().catch(() => undefined);
    await this.#producer?.disconnect().catch(() => undefined);
    // Each start uses a fresh group that commits nothing: remove it instead of leaving it behind.
    await this.#admin?.deleteGroups([groupId]).catch(() => undefined);
    await this.#admin?.disconnect().catch(() => undefined);
  }

  async #flushLoop(): Promise<void> {
    let backoff = 200;
    for (;;) {
      if (this.#outbox.size === 0) {
        if (this.#closed) return;
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      const batch = this.#outbox;
      this.#outbox = new Map();
      try {
        const headers = { [INSTANCE_HEADER]: this.instanceId, 'content-type': 'application/json' };
        await this.#producer!.sendBatch({
          topicMessages: [...batch].map(([topic, byId]) => ({
            topic,
            messages: [...byId].map(([key, value]) => ({ key, value, headers })),
          })),
        });
        backoff = 200;
      } catch (err) {
        // Put back what no newer write replaced meanwhile, and retry (also while closing, until close gives up).
        for (const [topic, byId] of batch) {
          const now = this.#outbox.get(topic) ?? this.#outbox.set(topic, new Map()).get(topic)!;
          for (const [id, value] of byId) if (!now.has(id)) now.set(id, value);
        }
        this.#opts.logger.error({ err: (err as Error).message }, 'shared state: publishing to Kafka failed; retrying');
        if (this.#closed) return;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }
}

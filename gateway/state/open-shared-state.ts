import type { SluiceConfig } from '../config.ts';
import { KafkaStateReplicator, type StateReplicatorOptions } from './kafka-state-replicator.ts';

/**
 * The replicator for `state.kafka`, or undefined on the embedded default (state stays in this
 * process and its {stateDir} files). Not started: the stores register with it first.
 */
export function openSharedState(
  config: SluiceConfig,
  logger: StateReplicatorOptions['logger'],
): KafkaStateReplicator | undefined {
  const k = config.state.kafka;
  if (!k) return undefined;
  return new KafkaStateReplicator({
    brokers: k.brokers,
    clientId: k.clientId,
    topics: k.topics,
    ...(k.createTopics ? { createTopics: { partitions: k.partitions, replicationFactor: k.replicationFactor } } : {}),
    startTimeoutMs: k.startTimeoutMs,
    logger,
  });
}

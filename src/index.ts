/**
 * The `ferry` package: an embeddable broker for other projects' tests and tools, and a
 * TypeScript client (Producer, Consumer, Admin) for it and any other Kafka-compatible broker.
 *
 *   import { startBroker } from 'ferry';
 *   const broker = await startBroker({ port: 0, dataDir });
 *   // ... point a Kafka client at 127.0.0.1:broker.port ...
 *   await broker.close();
 */
export { Broker, startBroker } from './broker/broker.js';
export type { RequestContext, StartBrokerOptions } from './broker/broker.js';
export { BROKER_SETTINGS, ConfigError } from './broker/broker-config.js';
export type { BrokerConfig, BrokerSettingName } from './broker/broker-config.js';

// The TypeScript client: producer, consumer and admin, for any Kafka-compatible broker.
export { Producer } from './client/producer.js';
export type { Acks, CompressionName, ProducerOptions, ProducerRecord, QueuedRecord, RecordMetadata } from './client/producer.js';
export { Consumer } from './client/consumer.js';
export type { ConsumerBatch, ConsumerMessage, ConsumerOptions, IsolationLevel, OffsetResetPolicy, SeekTarget } from './client/consumer.js';
export { Admin } from './client/admin.js';
export type {
  ConfigChange,
  ConfigEntry,
  ConfigOperation,
  ConfigResource,
  ConfigResourceType,
  ConfigSource,
  GroupDescription,
  GroupListing,
  GroupMemberDescription,
  NewTopic,
  OffsetResetTarget,
  OffsetSpec,
  PartitionLag,
  PartitionOffset,
  ResourceConfigs,
  TopicDescription,
} from './client/admin.js';
export type { ClientOptions } from './client/cluster.js';
export { CooperativeStickyAssignor, RangeAssignor, RoundRobinAssignor } from './client/assignors.js';
export type { Assignor, AssignorName, MemberSubscription } from './client/assignors.js';
export { DefaultPartitioner, RoundRobinPartitioner, partitionForKey } from './client/partitioner.js';
export type { Partitioner, PartitionerInput } from './client/partitioner.js';
export { murmur2, toPositive } from './client/murmur2.js';
export { bytesSerde, jsonSerde, stringSerde } from './client/serializers.js';
export type { Deserializer, Serde, Serializer } from './client/serializers.js';
export { ClientClosedError, CommitFailedError, ConnectionError, KafkaError, RequestTimeoutError, UnsupportedVersionError, isRetriableError } from './client/errors.js';
export type { RecordHeadersInput, TopicPartition, TopicPartitionOffset } from './client/record-types.js';
export type { RecordHeader } from './protocol/record-batch.js';

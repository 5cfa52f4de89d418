import { ErrorCode } from '../../protocol/error-codes.js';
import { MetadataApi, type MetadataResponsePartition, type MetadataResponseTopic } from '../../protocol/messages/index.js';
import type { TopicInfo } from '../topic-registry.js';
import { OFFSETS_TOPIC } from '../groups/offsets-records.js';
import { handler } from './handler.js';

/** "Not requested" in the authorized-operations fields (Kafka's Integer.MIN_VALUE). */
export const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;
/**
 * Without ACLs every principal may do everything a topic supports: READ(3), WRITE(4),
 * CREATE(5), DELETE(6), ALTER(7), DESCRIBE(8), DESCRIBE_CONFIGS(10), ALTER_CONFIGS(11).
 */
const TOPIC_OPERATIONS_ALL = [3, 4, 5, 6, 7, 8, 10, 11].reduce((bits, op) => bits | (1 << op), 0);
export const CLUSTER_OPERATIONS_ALL = [4, 5, 7, 8, 9, 10, 11, 12].reduce((bits, op) => bits | (1 << op), 0);

/**
 * Metadata 0–12. Which topics: v0 treats an empty list as all topics, v1+ an empty list as
 * none and null as all. Requested topics that do not exist are auto-created when the broker
 * allows it and, from v4, the request does too.
 */
export const metadataHandler = handler(MetadataApi, 0, 12, async (ctx, req) => {
  const { broker, header } = ctx;
  const v = header.apiVersion;
  const node = broker.config.nodeId;
  const all = req.topics === null || (v === 0 && req.topics.length === 0);
  const allowAutoCreate = v < 4 || req.allowAutoTopicCreation !== false;
  const withOps = req.includeTopicAuthorizedOperations === true;

  const describe = (t: TopicInfo): MetadataResponseTopic => {
    const partitions: MetadataResponsePartition[] = [];
    for (let p = 0; p < t.partitions; p++) {
      const log = broker.topics.partitionLog(t.name, p);
      const offline = log === undefined || log.isOffline;
      partitions.push({
        errorCode: offline ? ErrorCode.KAFKA_STORAGE_ERROR : ErrorCode.NONE,
        partitionIndex: p,
        leaderId: offline ? -1 : node,
        leaderEpoch: 0,
        replicaNodes: [node],
        isrNodes: offline ? [] : [node],
        offlineReplicas: offline ? [node] : [],
      });
    }
    return {
      errorCode: ErrorCode.NONE,
      name: t.name,
      topicId: t.id,
      isInternal: t.name === OFFSETS_TOPIC,
      partitions,
      topicAuthorizedOperations: withOps ? TOPIC_OPERATIONS_ALL : AUTHORIZED_OPERATIONS_OMITTED,
    };
  };
  const missing = (name: string | null, topicId: string, errorCode: number): MetadataResponseTopic => ({
    errorCode,
    name: name ?? (v >= 12 ? null : ''),
    topicId,
    isInternal: false,
    partitions: [],
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  });

  const topics: MetadataResponseTopic[] = [];
  if (all) {
    for (const t of broker.registry.list()) topics.push(describe(t));
  } else {
    for (const rt of req.topics!) {
      const byId = rt.topicId !== undefined && rt.topicId !== 'AAAAAAAAAAAAAAAAAAAAAA' ? broker.registry.getById(rt.topicId) : undefined;
      if (rt.name === null || rt.name === undefined) {
        topics.push(byId ? describe(byId) : missing(null, rt.topicId ?? 'AAAAAAAAAAAAAAAAAAAAAA', ErrorCode.UNKNOWN_TOPIC_ID));
        continue;
      }
      const existing = broker.registry.get(rt.name);
      if (existing !== undefined) {
        topics.push(describe(existing));
        continue;
      }
      if (!allowAutoCreate) {
        topics.push(missing(rt.name, 'AAAAAAAAAAAAAAAAAAAAAA', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
        continue;
      }
      const created = await broker.topics.autoCreate(rt.name);
      if (created === null) topics.push(missing(rt.name, 'AAAAAAAAAAAAAAAAAAAAAA', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
      else if ('errorCode' in created) topics.push(missing(rt.name, 'AAAAAAAAAAAAAAAAAAAAAA', created.errorCode));
      else topics.push(describe(created));
    }
  }
  const { host, port } = broker.advertised;
  return {
    throttleTimeMs: 0,
    brokers: [{ nodeId: node, host, port, rack: null }],
    clusterId: broker.registry.clusterId,
    controllerId: node,
    topics,
    clusterAuthorizedOperations: req.includeClusterAuthorizedOperations === true ? CLUSTER_OPERATIONS_ALL : AUTHORIZED_OPERATIONS_OMITTED,
  };
});

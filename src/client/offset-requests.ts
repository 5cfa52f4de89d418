/**
 * Requests about offsets that the consumer and the admin client share: ListOffsets (log
 * offsets by time, sent to each partition's leader) and OffsetFetch/OffsetCommit (a
 * group's committed offsets, sent to its coordinator).
 */
import { ErrorCode } from '../protocol/error-codes.js';
import { ListOffsetsApi, OffsetCommitApi, OffsetFetchApi } from '../protocol/messages/index.js';
import type { Cluster } from './cluster.js';
import { ConnectionError, KafkaError } from './errors.js';
import { type TopicPartition, partitionKey } from './record-types.js';
import { withRetries } from './retry.js';

/** ListOffsets' special timestamps. */
export const LATEST_TIMESTAMP = -1n;
export const EARLIEST_TIMESTAMP = -2n;
export const MAX_TIMESTAMP = -3n;

export const ISOLATION_READ_UNCOMMITTED = 0;
export const ISOLATION_READ_COMMITTED = 1;

export interface OffsetQuery extends TopicPartition {
  /** A time in ms, or LATEST_TIMESTAMP / EARLIEST_TIMESTAMP / MAX_TIMESTAMP. */
  timestamp: bigint;
}

export interface OffsetAnswer {
  /** -1 when no record has a timestamp at or after the one asked for. */
  offset: bigint;
  timestamp: bigint;
}

/** Errors that mean "ask again after refreshing the metadata". */
const LEADERSHIP_ERRORS = new Set<number>([
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
  ErrorCode.OFFSET_NOT_AVAILABLE,
  ErrorCode.KAFKA_STORAGE_ERROR,
]);

export function isLeadershipError(code: number): boolean {
  return LEADERSHIP_ERRORS.has(code);
}

/** Looks up offsets by timestamp, each at its partition's leader, retrying leadership errors. */
export async function listOffsets(cluster: Cluster, queries: OffsetQuery[], isolationLevel = ISOLATION_READ_UNCOMMITTED): Promise<Map<string, OffsetAnswer>> {
  const results = new Map<string, OffsetAnswer>();
  let remaining = queries;
  await withRetries(
    async () => {
      for (const q of remaining) if (cluster.topic(q.topic) === undefined) await cluster.topicMetadata(q.topic);
      const byLeader = new Map<number, OffsetQuery[]>();
      for (const q of remaining) {
        const leader = cluster.leaderFor(q.topic, q.partition);
        if (leader < 0) {
          if (cluster.topic(q.topic)!.partitions.every((p) => p.partition !== q.partition)) {
            throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, undefined, { topic: q.topic, partition: q.partition, retriable: false });
          }
          throw new KafkaError(ErrorCode.LEADER_NOT_AVAILABLE, undefined, { topic: q.topic, partition: q.partition });
        }
        let list = byLeader.get(leader);
        if (list === undefined) byLeader.set(leader, (list = []));
        list.push(q);
      }
      const failed: OffsetQuery[] = [];
      let retryError: KafkaError | null = null;
      await Promise.all(
        [...byLeader].map(async ([leader, list]) => {
          const connection = await cluster.connectionTo(leader);
          const byTopic = new Map<string, OffsetQuery[]>();
          for (const q of list) {
            let l = byTopic.get(q.topic);
            if (l === undefined) byTopic.set(q.topic, (l = []));
            l.push(q);
          }
          const version = connection.version(ListOffsetsApi);
          const response = await connection.request(
            ListOffsetsApi,
            {
              replicaId: -1,
              // Versions before 2 know only read_uncommitted; the codec refuses the field there.
              ...(version >= 2 ? { isolationLevel } : {}),
              timeoutMs: cluster.requestTimeoutMs,
              topics: [...byTopic].map(([name, qs]) => ({
                name,
                partitions: qs.map((q) => ({ partitionIndex: q.partition, currentLeaderEpoch: -1, timestamp: q.timestamp })),
              })),
            },
            { version },
          );
          for (const t of response.topics) {
            for (const p of t.partitions) {
              const query = list.find((q) => q.topic === t.name && q.partition === p.partitionIndex);
              if (query === undefined) continue;
              if (p.errorCode === ErrorCode.NONE) {
                results.set(partitionKey(t.name, p.partitionIndex), { offset: p.offset ?? p.oldStyleOffsets?.[0] ?? -1n, timestamp: p.timestamp ?? -1n });
              } else if (isLeadershipError(p.errorCode)) {
                failed.push(query);
                retryError = new KafkaError(p.errorCode, undefined, { topic: t.name, partition: p.partitionIndex });
              } else {
                throw new KafkaError(p.errorCode, undefined, { topic: t.name, partition: p.partitionIndex });
              }
            }
          }
        }),
      );
      if (failed.length > 0) {
        remaining = failed;
        throw retryError!;
      }
    },
    {
      ...cluster.retry,
      beforeRetry: () => cluster.refreshMetadata(remaining.map((q) => q.topic)),
    },
  );
  return results;
}

/** Errors after which the group's coordinator must be looked up again. */
const COORDINATOR_ERRORS = new Set<number>([ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_NOT_AVAILABLE]);

export function isCoordinatorError(code: number): boolean {
  return COORDINATOR_ERRORS.has(code);
}

export interface CommittedOffset {
  offset: bigint;
  metadata: string | null;
  leaderEpoch: number;
}

/**
 * A group's committed offsets; `partitions` null asks for all of them. Partitions without a
 * commit are left out of the result.
 */
export async function fetchCommittedOffsets(
  cluster: Cluster,
  groupId: string,
  partitions: TopicPartition[] | null,
  requireStable = true,
): Promise<Map<string, CommittedOffset & TopicPartition>> {
  return withRetries(
    async () => {
      const connection = await cluster.coordinatorConnection(groupId);
      const version = connection.version(OffsetFetchApi);
      const byTopic = new Map<string, number[]>();
      for (const tp of partitions ?? []) {
        let l = byTopic.get(tp.topic);
        if (l === undefined) byTopic.set(tp.topic, (l = []));
        l.push(tp.partition);
      }
      const topics = partitions === null ? null : [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes }));
      const result = new Map<string, CommittedOffset & TopicPartition>();
      const take = (topic: string, p: { partitionIndex: number; committedOffset: bigint; committedLeaderEpoch?: number; metadata: string | null; errorCode: number }): void => {
        if (p.errorCode !== ErrorCode.NONE) throw coordinatorAware(cluster, groupId, p.errorCode, topic, p.partitionIndex);
        if (p.committedOffset >= 0n) {
          result.set(partitionKey(topic, p.partitionIndex), {
            topic,
            partition: p.partitionIndex,
            offset: p.committedOffset,
            metadata: p.metadata,
            leaderEpoch: p.committedLeaderEpoch ?? -1,
          });
        }
      };
      if (version >= 8) {
        const response = await connection.request(
          OffsetFetchApi,
          { groups: [{ groupId, memberId: null, memberEpoch: -1, topics }], requireStable },
          { version },
        );
        const group = response.groups?.[0];
        if (group === undefined) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, 'OffsetFetch answered no group', { groupId });
        if (group.errorCode !== ErrorCode.NONE) throw coordinatorAware(cluster, groupId, group.errorCode);
        for (const t of group.topics) for (const p of t.partitions) take(t.name ?? '', p);
      } else {
        if (topics === null && version < 2) throw new KafkaError(ErrorCode.UNSUPPORTED_VERSION, 'fetching all offsets of a group needs OffsetFetch v2', { groupId });
        const response = await connection.request(OffsetFetchApi, { groupId, topics, ...(version >= 7 ? { requireStable } : {}) }, { version });
        if ((response.errorCode ?? ErrorCode.NONE) !== ErrorCode.NONE) throw coordinatorAware(cluster, groupId, response.errorCode!);
        for (const t of response.topics ?? []) for (const p of t.partitions) take(t.name, p);
      }
      return result;
    },
    coordinatorRetry(cluster, groupId),
  );
}

export interface CommitRequest extends TopicPartition {
  offset: bigint;
  metadata?: string | null;
  leaderEpoch?: number;
}

export interface GroupIdentity {
  groupId: string;
  /** -1 for commits from outside the group (admin resets, manually assigned consumers). */
  generationId: number;
  /** '' for commits from outside the group. */
  memberId: string;
  groupInstanceId: string | null;
}

/**
 * Commits offsets. Coordinator errors are retried; any other per-partition error is thrown
 * (the consumer turns the generation errors into CommitFailedError).
 */
export async function commitOffsets(cluster: Cluster, identity: GroupIdentity, offsets: CommitRequest[]): Promise<void> {
  if (offsets.length === 0) return;
  const { groupId } = identity;
  await withRetries(
    async () => {
      const connection = await cluster.coordinatorConnection(groupId);
      const byTopic = new Map<string, CommitRequest[]>();
      for (const o of offsets) {
        let l = byTopic.get(o.topic);
        if (l === undefined) byTopic.set(o.topic, (l = []));
        l.push(o);
      }
      const version = connection.version(OffsetCommitApi);
      const response = await connection.request(OffsetCommitApi, {
        groupId,
        generationIdOrMemberEpoch: identity.generationId,
        memberId: identity.memberId,
        ...(version >= 7 ? { groupInstanceId: identity.groupInstanceId } : {}),
        retentionTimeMs: -1n,
        topics: [...byTopic].map(([name, list]) => ({
          name,
          partitions: list.map((o) => ({
            partitionIndex: o.partition,
            committedOffset: o.offset,
            committedLeaderEpoch: o.leaderEpoch ?? -1,
            commitTimestamp: -1n,
            committedMetadata: o.metadata ?? null,
          })),
        })),
      }, { version });
      for (const t of response.topics) {
        for (const p of t.partitions) {
          if (p.errorCode !== ErrorCode.NONE) throw coordinatorAware(cluster, groupId, p.errorCode, t.name ?? '', p.partitionIndex);
        }
      }
    },
    coordinatorRetry(cluster, groupId),
  );
}

/**
 * Retry options for requests to a group coordinator: a lost connection may mean the
 * coordinator moved, so it is looked up again.
 */
export function coordinatorRetry(cluster: Cluster, groupId: string) {
  return {
    ...cluster.retry,
    retries: Math.max(cluster.retry.retries ?? 0, 10),
    beforeRetry: (error: unknown) => {
      if (error instanceof ConnectionError) cluster.invalidateCoordinator(groupId);
    },
  };
}

/** The KafkaError for a group error, forgetting the coordinator when it moved. */
export function coordinatorAware(cluster: Cluster, groupId: string, code: number, topic?: string, partition?: number): KafkaError {
  if (isCoordinatorError(code)) cluster.invalidateCoordinator(groupId);
  const details = topic === undefined ? { groupId } : { groupId, topic, partition: partition ?? -1 };
  return new KafkaError(code, undefined, details);
}

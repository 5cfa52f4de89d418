import { ErrorCode } from '../../protocol/error-codes.js';
import { OffsetFetchApi } from '../../protocol/messages/index.js';
import type { GroupCoordinator } from '../groups/group-coordinator.js';
import { handler } from './handler.js';

interface TopicPartitions {
  name: string;
  partitions: Array<{ partitionIndex: number; committedOffset: bigint; committedLeaderEpoch: number; metadata: string; errorCode: number }>;
}

/** One group's committed offsets, grouped by topic in the order asked (or all of them: null). */
function fetchGroup(groups: GroupCoordinator, groupId: string, topics: ReadonlyArray<{ name: string; partitionIndexes: number[] }> | null): TopicPartitions[] {
  const asked = topics === null ? null : topics.map((t) => ({ topic: t.name, partitions: t.partitionIndexes }));
  const byTopic = new Map<string, TopicPartitions>();
  for (const t of topics ?? []) byTopic.set(t.name, { name: t.name, partitions: [] });
  for (const o of groups.fetchOffsets(groupId, asked)) {
    let entry = byTopic.get(o.topic);
    if (entry === undefined) {
      entry = { name: o.topic, partitions: [] };
      byTopic.set(o.topic, entry);
    }
    entry.partitions.push({ partitionIndex: o.partition, committedOffset: o.offset, committedLeaderEpoch: o.leaderEpoch, metadata: o.metadata, errorCode: ErrorCode.NONE });
  }
  return [...byTopic.values()];
}

/**
 * OffsetFetch 0–8: the committed offsets of one group (v0–7) or several (v8), for the
 * partitions asked or, with a null topic list (v2+), every partition the group committed.
 * A partition without a commit answers offset -1. There are no pending transactional
 * offsets yet, so require_stable (v7+) never has to wait.
 */
export const offsetFetchHandler = handler(OffsetFetchApi, 0, 8, async (ctx, req) => {
  const v = ctx.header.apiVersion;
  const groups = ctx.broker.groups;
  if (v >= 8) {
    return {
      throttleTimeMs: 0,
      groups: (req.groups ?? []).map((g) => ({
        groupId: g.groupId,
        errorCode: ErrorCode.NONE,
        topics: fetchGroup(groups, g.groupId, g.topics === null ? null : g.topics.map((t) => ({ name: t.name ?? '', partitionIndexes: t.partitionIndexes }))),
      })),
    };
  }
  const topics = req.topics === undefined || req.topics === null ? (v >= 2 ? null : []) : req.topics;
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, topics: fetchGroup(groups, req.groupId ?? '', topics) };
});

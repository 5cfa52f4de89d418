import { ErrorCode } from '../../protocol/error-codes.js';
import { OffsetCommitApi } from '../../protocol/messages/index.js';
import type { OffsetCommitInput } from '../groups/group-coordinator.js';
import { handler } from './handler.js';

/**
 * OffsetCommit 0–8. A commit is answered once its record in `__consumer_offsets` is durable.
 * Partitions of unknown topics get UNKNOWN_TOPIC_OR_PARTITION; the group coordinator checks
 * membership (generation -1 with no member id: a commit outside any group generation).
 */
export const offsetCommitHandler = handler(OffsetCommitApi, 0, 8, async (ctx, req) => {
  const v = ctx.header.apiVersion;
  const valid: OffsetCommitInput[] = [];
  const errors = new Map<string, number>();
  const key = (topic: string, partition: number): string => `${partition}\u0000${topic}`;
  for (const t of req.topics) {
    const topic = t.name ?? '';
    for (const p of t.partitions) {
      if (ctx.broker.topics.partitionLog(topic, p.partitionIndex) === undefined) {
        errors.set(key(topic, p.partitionIndex), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
        continue;
      }
      valid.push({
        topic,
        partition: p.partitionIndex,
        offset: p.committedOffset,
        leaderEpoch: v >= 6 ? (p.committedLeaderEpoch ?? -1) : -1,
        metadata: p.committedMetadata,
      });
    }
  }
  const results =
    valid.length === 0
      ? []
      : await ctx.broker.groups.commitOffsets({
          groupId: req.groupId,
          generationId: v >= 1 ? (req.generationIdOrMemberEpoch ?? -1) : -1,
          memberId: v >= 1 ? (req.memberId ?? '') : '',
          groupInstanceId: req.groupInstanceId ?? null,
          retentionTimeMs: v >= 2 && v <= 4 ? Number(req.retentionTimeMs ?? -1n) : -1,
          offsets: valid,
        });
  for (const r of results) errors.set(key(r.topic, r.partition), r.errorCode);
  return {
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({
      name: t.name ?? '',
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: errors.get(key(t.name ?? '', p.partitionIndex)) ?? ErrorCode.NONE })),
    })),
  };
});

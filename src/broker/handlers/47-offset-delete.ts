import { OffsetDeleteApi } from '../../protocol/messages/index.js';
import type { ClassicGroup } from '../groups/classic-group.js';
import { readSubscription } from '../groups/consumer-protocol.js';
import { handler } from './handler.js';

/** The topics the members of a consumer group subscribe to, from their JoinGroup metadata. */
function subscribedTopics(g: ClassicGroup): Set<string> {
  const topics = new Set<string>();
  for (const m of g.members.values()) for (const t of readSubscription(g.metadataOf(m))?.topics ?? []) topics.add(t);
  return topics;
}

/** OffsetDelete 0: removes committed offsets, except of topics the group's members subscribe to. */
export const offsetDeleteHandler = handler(OffsetDeleteApi, 0, 0, async (ctx, req) => {
  const r = await ctx.broker.groups.deleteOffsets(
    req.groupId,
    req.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex }))),
    subscribedTopics,
  );
  const errors = new Map(r.partitions.map((p) => [`${p.partition}\u0000${p.topic}`, p.errorCode]));
  return {
    errorCode: r.errorCode,
    throttleTimeMs: 0,
    topics:
      r.errorCode !== 0
        ? []
        : req.topics.map((t) => ({
            name: t.name,
            partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: errors.get(`${p.partitionIndex}\u0000${t.name}`) ?? 0 })),
          })),
  };
});

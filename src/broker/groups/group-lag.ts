/**
 * Consumer lag, computed inside the broker: for every partition a group has committed or has
 * assigned to a member, the committed offset, the log end offset and their difference. The
 * CLI and the admin client get the same figures through OffsetFetch and ListOffsets; this is
 * what the broker itself reports (and what metrics will export).
 */
import type { TopicManager } from '../topic-manager.js';
import type { ClassicGroup } from './classic-group.js';
import { readAssignment } from './consumer-protocol.js';
import type { GroupCoordinator } from './group-coordinator.js';

export interface PartitionLag {
  topic: string;
  partition: number;
  /** -1 when the group has not committed this partition. */
  committedOffset: number;
  /** -1 when the partition no longer exists. */
  logEndOffset: number;
  /** logEndOffset - committedOffset, never negative; null without a commit or a partition. */
  lag: number | null;
  /** The member a consumer group assigned this partition to, if any. */
  memberId: string | null;
  clientId: string | null;
}

export interface GroupLag {
  groupId: string;
  state: string;
  partitions: PartitionLag[];
  /** The sum over partitions with a known lag. */
  totalLag: number;
}

/** Partition owners from the members' consumer-protocol assignments. */
function owners(g: ClassicGroup | undefined): Map<string, { memberId: string; clientId: string }> {
  const out = new Map<string, { memberId: string; clientId: string }>();
  if (g === undefined || g.protocolType !== 'consumer') return out;
  for (const m of g.members.values()) {
    const a = readAssignment(m.assignment);
    if (a === null) continue;
    for (const tp of a.assignedPartitions) for (const p of tp.partitions) out.set(`${p}\u0000${tp.topic}`, { memberId: m.memberId, clientId: m.clientId });
  }
  return out;
}

export function groupLag(coordinator: GroupCoordinator, topics: TopicManager, groupId: string): GroupLag {
  const g = coordinator.group(groupId);
  const byKey = new Map<string, PartitionLag>();
  const row = (topic: string, partition: number): PartitionLag => {
    const key = `${partition}\u0000${topic}`;
    let r = byKey.get(key);
    if (r === undefined) {
      const log = topics.partitionLog(topic, partition);
      r = { topic, partition, committedOffset: -1, logEndOffset: log?.logEndOffset ?? -1, lag: null, memberId: null, clientId: null };
      byKey.set(key, r);
    }
    return r;
  };
  for (const c of coordinator.committedOffsets(groupId)) row(c.topic, c.partition).committedOffset = Number(c.offset.offset);
  for (const [key, owner] of owners(g)) {
    const sep = key.indexOf('\u0000');
    const r = row(key.slice(sep + 1), Number(key.slice(0, sep)));
    r.memberId = owner.memberId;
    r.clientId = owner.clientId;
  }
  let totalLag = 0;
  for (const r of byKey.values()) {
    if (r.committedOffset >= 0 && r.logEndOffset >= 0) {
      r.lag = Math.max(0, r.logEndOffset - r.committedOffset);
      totalLag += r.lag;
    }
  }
  const partitions = [...byKey.values()].sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  return { groupId, state: coordinator.describe(groupId).state, partitions, totalLag };
}

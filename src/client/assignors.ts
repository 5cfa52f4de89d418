/**
 * Partition assignors of classic consumer groups. The group leader runs the one the
 * coordinator chose (the first, in each member's order of preference, that every member
 * supports) over every member's subscription; names and results match the Java client's,
 * so Ferry consumers can share a group with Java, librdkafka and kafkajs consumers.
 *
 * - `range`: per topic, members in member id order get consecutive ranges, the first
 *   `partitions % members` one partition more (Java's RangeAssignor).
 * - `roundrobin`: all partitions of all topics in (topic, partition) order dealt to members
 *   in member id order, skipping members not subscribed to the topic (RoundRobinAssignor).
 * - `cooperative-sticky`: balanced like roundrobin but keeps every partition where it is
 *   when balance allows, and under the cooperative protocol (KIP-429) a partition that
 *   moves is first only taken away: its new owner gets it in the follow-up rebalance that
 *   the old owner's revocation triggers, so no partition is ever owned by two members.
 */
import type { TopicPartition } from './record-types.js';

export type RebalanceProtocol = 'eager' | 'cooperative';

export interface MemberSubscription {
  memberId: string;
  groupInstanceId: string | null;
  topics: string[];
  ownedPartitions: TopicPartition[];
  /** The generation the owned partitions are from, -1 when unknown. */
  generationId: number;
  userData: Buffer | null;
}

export interface AssignorContext {
  /** This member's current generation and assignment, for userData. */
  generationId: number;
  ownedPartitions: TopicPartition[];
}

export interface Assignor {
  /** The protocol name in JoinGroup, as Java spells it. */
  readonly name: string;
  readonly rebalanceProtocol: RebalanceProtocol;
  /** Extra bytes for the member's subscription. */
  subscriptionUserData?(context: AssignorContext): Buffer | null;
  /** Member id → assigned partitions; every member must appear (with [] if nothing). */
  assign(members: MemberSubscription[], partitionsPerTopic: ReadonlyMap<string, number>): Map<string, TopicPartition[]>;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Java orders members by group instance id when they have one (static members), else by member id. */
function sortMembers(members: MemberSubscription[]): MemberSubscription[] {
  return [...members].sort((a, b) => {
    if (a.groupInstanceId !== null && b.groupInstanceId !== null) return compareStrings(a.groupInstanceId, b.groupInstanceId);
    if (a.groupInstanceId !== null) return -1;
    if (b.groupInstanceId !== null) return 1;
    return compareStrings(a.memberId, b.memberId);
  });
}

function emptyResult(members: MemberSubscription[]): Map<string, TopicPartition[]> {
  return new Map(members.map((m) => [m.memberId, []]));
}

export class RangeAssignor implements Assignor {
  readonly name = 'range';
  readonly rebalanceProtocol = 'eager';

  assign(members: MemberSubscription[], partitionsPerTopic: ReadonlyMap<string, number>): Map<string, TopicPartition[]> {
    const result = emptyResult(members);
    const topics = [...new Set(members.flatMap((m) => m.topics))].sort(compareStrings);
    for (const topic of topics) {
      const count = partitionsPerTopic.get(topic);
      if (count === undefined) continue;
      const consumers = sortMembers(members.filter((m) => m.topics.includes(topic)));
      const per = Math.floor(count / consumers.length);
      const extra = count % consumers.length;
      consumers.forEach((member, i) => {
        const start = per * i + Math.min(i, extra);
        const length = per + (i < extra ? 1 : 0);
        for (let p = start; p < start + length; p++) result.get(member.memberId)!.push({ topic, partition: p });
      });
    }
    return result;
  }
}

export class RoundRobinAssignor implements Assignor {
  readonly name = 'roundrobin';
  readonly rebalanceProtocol = 'eager';

  assign(members: MemberSubscription[], partitionsPerTopic: ReadonlyMap<string, number>): Map<string, TopicPartition[]> {
    const result = emptyResult(members);
    const sorted = sortMembers(members);
    if (sorted.length === 0) return result;
    const topics = [...new Set(members.flatMap((m) => m.topics))].filter((t) => partitionsPerTopic.has(t)).sort(compareStrings);
    let next = 0;
    for (const topic of topics) {
      const count = partitionsPerTopic.get(topic)!;
      for (let p = 0; p < count; p++) {
        // Walk the circle to the next member subscribed to this topic; one exists, since the topic came from a subscription.
        while (!sorted[next % sorted.length]!.topics.includes(topic)) next++;
        result.get(sorted[next % sorted.length]!.memberId)!.push({ topic, partition: p });
        next++;
      }
    }
    return result;
  }
}

const tpKey = (tp: TopicPartition): string => `${tp.topic}\u0000${tp.partition}`;

function compareTopicPartitions(a: TopicPartition, b: TopicPartition): number {
  return compareStrings(a.topic, b.topic) || a.partition - b.partition;
}

export class CooperativeStickyAssignor implements Assignor {
  readonly name = 'cooperative-sticky';
  readonly rebalanceProtocol = 'cooperative';

  /** The generation as a 4-byte userData, which is where Java's assignor looks for it in old subscription versions. */
  subscriptionUserData(context: AssignorContext): Buffer | null {
    const buf = Buffer.alloc(4);
    buf.writeInt32BE(context.generationId, 0);
    return buf;
  }

  assign(members: MemberSubscription[], partitionsPerTopic: ReadonlyMap<string, number>): Map<string, TopicPartition[]> {
    const sorted = sortMembers(members);
    const subscribed = new Map(sorted.map((m) => [m.memberId, new Set(m.topics.filter((t) => partitionsPerTopic.has(t)))]));
    const generationOf = (m: MemberSubscription): number => {
      if (m.generationId >= 0) return m.generationId;
      if (m.userData !== null && m.userData.length === 4) return m.userData.readInt32BE(0);
      return -1;
    };

    // 1. Previous owners: a partition claimed by two members goes to the newer generation's
    //    claim; two claims from the same generation are a conflict and neither keeps it.
    const owner = new Map<string, { memberId: string; generation: number; conflict: boolean }>();
    for (const m of sorted) {
      const generation = generationOf(m);
      for (const tp of m.ownedPartitions) {
        const count = partitionsPerTopic.get(tp.topic);
        if (count === undefined || tp.partition >= count || !subscribed.get(m.memberId)!.has(tp.topic)) continue;
        const key = tpKey(tp);
        const existing = owner.get(key);
        if (existing === undefined || generation > existing.generation) owner.set(key, { memberId: m.memberId, generation, conflict: false });
        else if (generation === existing.generation) existing.conflict = true;
      }
    }
    const previousOwner = new Map<string, string>();
    for (const [key, o] of owner) if (!o.conflict) previousOwner.set(key, o.memberId);

    const assignment = new Map<string, TopicPartition[]>(sorted.map((m) => [m.memberId, []]));
    const all: TopicPartition[] = [];
    for (const [topic, count] of [...partitionsPerTopic].sort(([a], [b]) => compareStrings(a, b))) {
      if (!sorted.some((m) => subscribed.get(m.memberId)!.has(topic))) continue;
      for (let p = 0; p < count; p++) all.push({ topic, partition: p });
    }
    const unassigned: TopicPartition[] = [];
    for (const tp of all) {
      const prev = previousOwner.get(tpKey(tp));
      if (prev !== undefined) assignment.get(prev)!.push(tp);
      else unassigned.push(tp);
    }

    // 2. Hand out the free partitions, each to the least loaded member that subscribes to it.
    const load = (id: string): number => assignment.get(id)!.length;
    for (const tp of unassigned) {
      let best: string | null = null;
      for (const m of sorted) {
        if (!subscribed.get(m.memberId)!.has(tp.topic)) continue;
        if (best === null || load(m.memberId) < load(best)) best = m.memberId;
      }
      if (best !== null) assignment.get(best)!.push(tp);
    }

    // 3. Balance: move partitions from the most to the least loaded member (that can take
    //    one of them) until no two such members differ by more than one. Each move lowers
    //    the sum of squared loads, so this ends. Partitions new to the giver move first,
    //    so that partitions a member already owned stay where they are when possible.
    for (let moved = true; moved; ) {
      moved = false;
      const byLoadDesc = [...sorted].sort((a, b) => load(b.memberId) - load(a.memberId));
      const byLoadAsc = [...byLoadDesc].reverse();
      search: for (const giver of byLoadDesc) {
        for (const taker of byLoadAsc) {
          if (load(giver.memberId) - load(taker.memberId) <= 1) break;
          const candidates = assignment.get(giver.memberId)!.filter((tp) => subscribed.get(taker.memberId)!.has(tp.topic));
          if (candidates.length === 0) continue;
          const pick = candidates.find((tp) => previousOwner.get(tpKey(tp)) !== giver.memberId) ?? candidates[candidates.length - 1]!;
          const list = assignment.get(giver.memberId)!;
          list.splice(list.indexOf(pick), 1);
          assignment.get(taker.memberId)!.push(pick);
          moved = true;
          break search;
        }
      }
    }

    // 4. Cooperative: a partition moving away from its previous owner is withheld from its
    //    new owner this round; the previous owner revokes it and rejoins, and the follow-up
    //    rebalance hands it over.
    for (const [memberId, list] of assignment) {
      assignment.set(
        memberId,
        list
          .filter((tp) => {
            const prev = previousOwner.get(tpKey(tp));
            return prev === undefined || prev === memberId;
          })
          .sort(compareTopicPartitions),
      );
    }
    return assignment;
  }
}

export type AssignorName = 'range' | 'roundrobin' | 'cooperative-sticky';

export function assignorByName(name: AssignorName | Assignor): Assignor {
  if (typeof name !== 'string') return name;
  switch (name) {
    case 'range':
      return new RangeAssignor();
    case 'roundrobin':
      return new RoundRobinAssignor();
    case 'cooperative-sticky':
      return new CooperativeStickyAssignor();
    default:
      throw new TypeError(`unknown assignor ${String(name)}`);
  }
}

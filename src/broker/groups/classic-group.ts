/**
 * One consumer group under the classic rebalance protocol (JoinGroup/SyncGroup/Heartbeat):
 * its members, generation, chosen protocol and leader, and its committed offsets. The
 * GroupCoordinator drives the state machine; this file holds the data and the rules that
 * only look at one group (protocol choice, who has joined, what a member may do).
 *
 *   Empty ──join──▶ PreparingRebalance ──all joined / timeout──▶ CompletingRebalance
 *     ▲                  ▲         │                                  │ leader's SyncGroup
 *     │                  │         └──nobody left──▶ Empty            ▼
 *     └──last leaves─────┴──────────── member change ◀──────────── Stable
 *   any ──deleted / all offsets expired──▶ Dead
 */
import type { Timer } from '../scheduler.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export const GROUP_STATES: readonly GroupState[] = ['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead'];

export interface Protocol {
  name: string;
  metadata: Buffer;
}

export interface JoinResult {
  errorCode: number;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leaderId: string;
  memberId: string;
  skipAssignment: boolean;
  members: Array<{ memberId: string; groupInstanceId: string | null; metadata: Buffer }>;
}

export interface SyncResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export interface Member {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  protocolType: string;
  protocols: Protocol[];
  assignment: Buffer;
  /** Set while the member's JoinGroup waits for the join phase to end. */
  awaitingJoin: ((r: JoinResult) => void) | null;
  /** Set while the member's SyncGroup waits for the leader's assignment. */
  awaitingSync: ((r: SyncResult) => void) | null;
  /** True until the member's first join phase completes. */
  isNew: boolean;
  heartbeatTimer: Timer | null;
}

export interface CommittedOffset {
  offset: bigint;
  leaderEpoch: number;
  metadata: string;
  commitTimestampMs: number;
  /** From a commit that asked for its own retention (OffsetCommit v2–v4), else -1. */
  expireTimestampMs: number;
}

const EMPTY = Buffer.alloc(0);

export class ClassicGroup {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** group.instance.id → member id of static members. */
  readonly staticMembers = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, expiring if the member never comes back. */
  readonly pendingMembers = new Map<string, Timer>();
  /** Members of the current generation that have not sent SyncGroup yet. */
  readonly pendingSync = new Set<string>();
  /** Committed offsets by topic, then partition. */
  readonly offsets = new Map<string, Map<number, CommittedOffset>>();
  currentStateTimestampMs: number;
  /** During the initial delayed join: whether a member joined since the delay was last extended. */
  newMemberAdded = false;
  /** The join phase is an initial delayed join, which waits its delay out whoever has joined. */
  initialDelayActive = false;
  joinTimer: Timer | null = null;
  syncTimer: Timer | null = null;

  constructor(
    readonly groupId: string,
    nowMs: number,
  ) {
    this.currentStateTimestampMs = nowMs;
  }

  is(state: GroupState): boolean {
    return this.state === state;
  }

  transitionTo(state: GroupState, nowMs: number): void {
    this.state = state;
    this.currentStateTimestampMs = nowMs;
  }

  has(memberId: string): boolean {
    return this.members.has(memberId);
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  /** True when a static instance id is bound to another member id: the caller is a zombie. */
  isStaticMemberFenced(memberId: string, groupInstanceId: string | null): boolean {
    if (groupInstanceId === null) return false;
    const current = this.staticMembers.get(groupInstanceId);
    return current !== undefined && current !== memberId;
  }

  get rebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  get awaitingJoinCount(): number {
    let n = 0;
    for (const m of this.members.values()) if (m.awaitingJoin !== null) n++;
    return n;
  }

  /** Every known member has rejoined and no member id handed out is still to come back. */
  hasAllMembersJoined(): boolean {
    return this.members.size === this.awaitingJoinCount && this.pendingMembers.size === 0;
  }

  /** Protocol names every member supports. */
  candidateProtocols(): Set<string> {
    let candidates: Set<string> | undefined;
    for (const m of this.members.values()) {
      const names = new Set(m.protocols.map((p) => p.name));
      if (candidates === undefined) candidates = names;
      else for (const n of [...candidates]) if (!names.has(n)) candidates.delete(n);
    }
    return candidates ?? new Set<string>();
  }

  /** Whether a member with these protocols could join: same protocol type, one shared protocol. */
  supportsProtocols(protocolType: string, protocols: readonly Protocol[]): boolean {
    if (this.members.size === 0) return protocolType !== '' && protocols.length > 0;
    if (protocolType !== this.protocolType) return false;
    const candidates = this.candidateProtocols();
    return protocols.some((p) => candidates.has(p.name));
  }

  /** Each member votes for its most preferred protocol among the shared ones; most votes wins. */
  selectProtocol(): string {
    const candidates = this.candidateProtocols();
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const choice = m.protocols.find((p) => candidates.has(p.name));
      if (choice !== undefined) votes.set(choice.name, (votes.get(choice.name) ?? 0) + 1);
    }
    let best: string | null = null;
    let bestVotes = -1;
    for (const [name, n] of votes) {
      if (n > bestVotes) {
        best = name;
        bestVotes = n;
      }
    }
    if (best === null) throw new Error(`group ${this.groupId}: no protocol is supported by every member`);
    return best;
  }

  metadataOf(member: Member): Buffer {
    const p = this.protocolName === null ? undefined : member.protocols.find((x) => x.name === this.protocolName);
    return p?.metadata ?? EMPTY;
  }

  sameProtocols(member: Member, protocols: readonly Protocol[]): boolean {
    if (member.protocols.length !== protocols.length) return false;
    return member.protocols.every((p, i) => p.name === protocols[i]!.name && p.metadata.equals(protocols[i]!.metadata));
  }

  /** The JoinGroup answer for a member of the current generation (the leader gets all members). */
  joinResultFor(memberId: string, skipAssignment = false): JoinResult {
    const isLeader = this.isLeader(memberId);
    return {
      errorCode: 0,
      generationId: this.generationId,
      protocolType: this.protocolType,
      protocolName: this.protocolName,
      leaderId: this.leaderId ?? '',
      memberId,
      skipAssignment,
      members: isLeader ? [...this.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: this.metadataOf(m) })) : [],
    };
  }

  offset(topic: string, partition: number): CommittedOffset | undefined {
    return this.offsets.get(topic)?.get(partition);
  }

  setOffset(topic: string, partition: number, o: CommittedOffset | null): void {
    let byPartition = this.offsets.get(topic);
    if (o === null) {
      byPartition?.delete(partition);
      if (byPartition?.size === 0) this.offsets.delete(topic);
      return;
    }
    if (byPartition === undefined) {
      byPartition = new Map();
      this.offsets.set(topic, byPartition);
    }
    byPartition.set(partition, o);
  }

  get offsetCount(): number {
    let n = 0;
    for (const m of this.offsets.values()) n += m.size;
    return n;
  }
}

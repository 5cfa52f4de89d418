/**
 * The group coordinator: Kafka's classic rebalance protocol and committed offsets, for every
 * group (one node coordinates them all).
 *
 * Membership follows Kafka's GroupCoordinator exactly where clients can tell: member ids are
 * issued here (MEMBER_ID_REQUIRED from JoinGroup v4), a join phase ends when every known
 * member has rejoined or the rebalance timeout passes (the first one of an empty group waits
 * group.initial.rebalance.delay.ms for more members), the leader gets every member's metadata
 * and sends the assignment through SyncGroup, generations fence stale members, silent members
 * are expelled after their session timeout, and static members (group.instance.id) get their
 * assignment back without a rebalance when they restart with the same protocols.
 *
 * Durability: commits and group metadata are records of `__consumer_offsets` (offsets-records.ts)
 * appended through a GroupLog. A commit is answered only once its record is durable, and the
 * committed offsets change only by applying records, the same function that replays the log at
 * start (`replay`), so recovery and live operation share one path. Membership in the middle of
 * a rebalance is not persisted (as in Kafka): after a restart a group is rebuilt from its last
 * GroupMetadata record, i.e. its last stable generation, and its members' sessions restart.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../protocol/error-codes.js';
import type { Scheduler, Timer } from '../scheduler.js';
import { ClassicGroup, type CommittedOffset, type GroupState, type JoinResult, type Member, type Protocol, type SyncResult } from './classic-group.js';
import {
  type GroupMetadataValue,
  groupMetadataKey,
  groupMetadataValue,
  type OffsetCommitValue,
  type OffsetsRecord,
  offsetCommitKey,
  offsetCommitValue,
} from './offsets-records.js';

export type { GroupState, JoinResult, SyncResult };

export interface GroupLogRecord {
  key: Buffer;
  value: Buffer | null;
}

/** Where the coordinator's records go: `__consumer_offsets`, one partition per group. */
export interface GroupLog {
  /** Appends one group's records in order and resolves once they are durable. */
  append(groupId: string, records: GroupLogRecord[]): Promise<void>;
}

export interface GroupCoordinatorConfig {
  offsetsRetentionMs: number;
  /** How long a commit waits for its record to be durable before REQUEST_TIMED_OUT. */
  offsetCommitTimeoutMs: number;
  offsetMetadataMaxBytes: number;
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  initialRebalanceDelayMs: number;
  groupMaxSize: number;
  groupsMax: number;
}

export interface JoinRequest {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: Protocol[];
  /** JoinGroup v4+: a new dynamic member first gets its id with MEMBER_ID_REQUIRED. */
  requireKnownMemberId: boolean;
  /** JoinGroup v9+: a restarted static leader can be told to keep the assignment (KIP-814). */
  supportsSkipAssignment: boolean;
}

export interface SyncRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string | null;
  protocolName: string | null;
  assignments: Array<{ memberId: string; assignment: Buffer }>;
}

export interface MemberIdentity {
  memberId: string;
  groupInstanceId: string | null;
}

export interface OffsetCommitInput {
  topic: string;
  partition: number;
  offset: bigint;
  leaderEpoch: number;
  metadata: string | null;
}

export interface CommitRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** OffsetCommit v2–v4 retention_time_ms; -1 for the broker's default. */
  retentionTimeMs: number;
  offsets: OffsetCommitInput[];
}

export interface PartitionResult {
  topic: string;
  partition: number;
  errorCode: number;
}

export interface FetchedOffset {
  topic: string;
  partition: number;
  offset: bigint;
  leaderEpoch: number;
  metadata: string;
}

export interface GroupDescription {
  groupId: string;
  state: GroupState;
  protocolType: string;
  protocolName: string;
  generationId: number;
  leaderId: string | null;
  members: Array<{
    memberId: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    metadata: Buffer;
    assignment: Buffer;
  }>;
}

export interface GroupCoordinatorOptions {
  config: GroupCoordinatorConfig;
  log: GroupLog;
  scheduler: Scheduler;
  /** Operator messages. */
  logMessage?: (message: string) => void;
  /** Member ids are `<client id>-<this>`; a uuid by default. */
  newId?: () => string;
}

const EMPTY = Buffer.alloc(0);
const CONSUMER_PROTOCOL_TYPE = 'consumer';

function joinError(errorCode: number, memberId: string, generationId = -1): JoinResult {
  return { errorCode, generationId, protocolType: null, protocolName: null, leaderId: '', memberId, skipAssignment: false, members: [] };
}

function syncError(errorCode: number): SyncResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
}

export class GroupCoordinator {
  private readonly groups = new Map<string, ClassicGroup>();
  private readonly config: GroupCoordinatorConfig;
  private readonly groupLog: GroupLog;
  private readonly scheduler: Scheduler;
  private readonly logMessage: (message: string) => void;
  private readonly newId: () => string;
  private closed = false;

  constructor(options: GroupCoordinatorOptions) {
    this.config = options.config;
    this.groupLog = options.log;
    this.scheduler = options.scheduler;
    this.logMessage = options.logMessage ?? (() => undefined);
    this.newId = options.newId ?? randomUUID;
  }

  private now(): number {
    return this.scheduler.nowMs();
  }

  group(groupId: string): ClassicGroup | undefined {
    return this.groups.get(groupId);
  }

  get groupCount(): number {
    return this.groups.size;
  }

  private getOrCreateGroup(groupId: string): ClassicGroup | null {
    let g = this.groups.get(groupId);
    if (g !== undefined) return g;
    if (this.groups.size >= this.config.groupsMax) {
      this.logMessage(`refusing new group ${JSON.stringify(groupId)}: the coordinator already holds ferry.groups.max = ${this.config.groupsMax} groups`);
      return null;
    }
    g = new ClassicGroup(groupId, this.now());
    this.groups.set(groupId, g);
    return g;
  }

  // ---- replay ---------------------------------------------------------------------------------

  /**
   * Applies one record of `__consumer_offsets`. Called for every record when the log is
   * replayed at start, and for each record the coordinator itself wrote once it is durable.
   */
  replay(record: OffsetsRecord, live = false): void {
    if (record.type === 'offset') {
      const v = record.value;
      let g = this.groups.get(record.group);
      if (v === null) {
        g?.setOffset(record.topic, record.partition, null);
        return;
      }
      if (g === undefined) {
        g = new ClassicGroup(record.group, this.now());
        this.groups.set(record.group, g);
      }
      g.setOffset(record.topic, record.partition, {
        offset: v.offset,
        leaderEpoch: v.leaderEpoch ?? -1,
        metadata: v.metadata,
        commitTimestampMs: Number(v.commitTimestamp),
        expireTimestampMs: v.expireTimestamp === undefined ? -1 : Number(v.expireTimestamp),
      });
      return;
    }
    // Live group metadata records describe what the state machine already did.
    if (live) return;
    const v = record.value;
    if (v === null) {
      this.groups.delete(record.group);
      return;
    }
    let g = this.groups.get(record.group);
    if (g === undefined) {
      g = new ClassicGroup(record.group, this.now());
      this.groups.set(record.group, g);
    }
    this.loadGroupMetadata(g, v);
  }

  private loadGroupMetadata(g: ClassicGroup, v: GroupMetadataValue): void {
    for (const m of g.members.values()) m.heartbeatTimer?.cancel();
    g.members.clear();
    g.staticMembers.clear();
    g.generationId = v.generation;
    g.protocolType = v.protocolType === '' ? null : v.protocolType;
    g.protocolName = v.protocol;
    g.leaderId = v.leader;
    const stateTimestamp = v.currentStateTimestamp !== undefined && v.currentStateTimestamp >= 0n ? Number(v.currentStateTimestamp) : this.now();
    for (const mm of v.members) {
      const member: Member = {
        memberId: mm.memberId,
        groupInstanceId: mm.groupInstanceId ?? null,
        clientId: mm.clientId,
        clientHost: mm.clientHost,
        rebalanceTimeoutMs: mm.rebalanceTimeout ?? mm.sessionTimeout,
        sessionTimeoutMs: mm.sessionTimeout,
        protocolType: v.protocolType,
        protocols: [{ name: v.protocol ?? '', metadata: mm.subscription }],
        assignment: mm.assignment,
        awaitingJoin: null,
        awaitingSync: null,
        isNew: false,
        heartbeatTimer: null,
      };
      g.members.set(member.memberId, member);
      if (member.groupInstanceId !== null) g.staticMembers.set(member.groupInstanceId, member.memberId);
    }
    g.transitionTo(g.members.size === 0 ? 'Empty' : 'Stable', stateTimestamp);
  }

  /** After replay: members loaded from the log get a session from now on, as in Kafka. */
  startSessions(): void {
    for (const g of this.groups.values()) for (const m of g.members.values()) this.scheduleHeartbeatExpiry(g, m);
  }

  // ---- JoinGroup --------------------------------------------------------------------------------

  join(req: JoinRequest): Promise<JoinResult> {
    if (req.groupId === '') return Promise.resolve(joinError(ErrorCode.INVALID_GROUP_ID, req.memberId));
    if (req.sessionTimeoutMs < this.config.minSessionTimeoutMs || req.sessionTimeoutMs > this.config.maxSessionTimeoutMs) {
      return Promise.resolve(joinError(ErrorCode.INVALID_SESSION_TIMEOUT, req.memberId));
    }
    if (req.protocolType === '' || req.protocols.length === 0) return Promise.resolve(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId));
    const unknownMember = req.memberId === '';
    let g = this.groups.get(req.groupId);
    if (g === undefined) {
      if (!unknownMember) return Promise.resolve(joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId));
      const created = this.getOrCreateGroup(req.groupId);
      if (created === null) return Promise.resolve(joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, req.memberId));
      g = created;
    }
    if (g.is('Dead')) return Promise.resolve(joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, req.memberId));
    if (!g.supportsProtocols(req.protocolType, req.protocols)) return Promise.resolve(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId));
    const group = g;
    return new Promise((resolve) => {
      if (unknownMember) this.joinUnknownMember(group, req, resolve);
      else this.joinKnownMember(group, req, resolve);
    });
  }

  private groupIsFull(g: ClassicGroup): boolean {
    return g.members.size + g.pendingMembers.size >= this.config.groupMaxSize;
  }

  private joinUnknownMember(g: ClassicGroup, req: JoinRequest, respond: (r: JoinResult) => void): void {
    const newMemberId = `${req.clientId}-${this.newId()}`;
    if (req.groupInstanceId !== null) {
      const oldMemberId = g.staticMembers.get(req.groupInstanceId);
      if (oldMemberId !== undefined && g.has(oldMemberId)) {
        this.replaceStaticMember(g, req, oldMemberId, newMemberId, respond);
        return;
      }
      if (this.groupIsFull(g)) return respond(joinError(ErrorCode.GROUP_MAX_SIZE_REACHED, ''));
      this.addMemberAndRebalance(g, req, newMemberId, respond);
      return;
    }
    if (this.groupIsFull(g)) return respond(joinError(ErrorCode.GROUP_MAX_SIZE_REACHED, ''));
    if (req.requireKnownMemberId) {
      // The member comes back with this id; until then it holds a place in the join phase.
      const timer = this.scheduler.schedule(req.sessionTimeoutMs, () => this.expirePendingMember(g, newMemberId));
      g.pendingMembers.set(newMemberId, timer);
      respond(joinError(ErrorCode.MEMBER_ID_REQUIRED, newMemberId));
      return;
    }
    this.addMemberAndRebalance(g, req, newMemberId, respond);
  }

  private joinKnownMember(g: ClassicGroup, req: JoinRequest, respond: (r: JoinResult) => void): void {
    const pending = g.pendingMembers.get(req.memberId);
    if (pending !== undefined) {
      pending.cancel();
      g.pendingMembers.delete(req.memberId);
      this.addMemberAndRebalance(g, req, req.memberId, respond);
      return;
    }
    if (g.isStaticMemberFenced(req.memberId, req.groupInstanceId)) return respond(joinError(ErrorCode.FENCED_INSTANCE_ID, req.memberId));
    const member = g.members.get(req.memberId);
    if (member === undefined) return respond(joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId));
    if (member.groupInstanceId !== req.groupInstanceId && req.groupInstanceId !== null) return respond(joinError(ErrorCode.FENCED_INSTANCE_ID, req.memberId));
    switch (g.state) {
      case 'PreparingRebalance':
        this.updateMemberAndRebalance(g, member, req, respond);
        return;
      case 'CompletingRebalance':
        if (g.sameProtocols(member, req.protocols)) {
          // The member lost its JoinGroup response: answer it again with the current generation.
          respond(g.joinResultFor(member.memberId));
          return;
        }
        this.updateMemberAndRebalance(g, member, req, respond);
        return;
      case 'Stable':
        if (g.isLeader(member.memberId) || !g.sameProtocols(member, req.protocols)) {
          // The leader rejoining, or changed metadata, starts a rebalance (a new subscription).
          this.updateMemberAndRebalance(g, member, req, respond);
          return;
        }
        this.scheduleHeartbeatExpiry(g, member);
        respond(g.joinResultFor(member.memberId));
        return;
      default:
        respond(joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId));
    }
  }

  private addMemberAndRebalance(g: ClassicGroup, req: JoinRequest, memberId: string, respond: (r: JoinResult) => void): void {
    const member: Member = {
      memberId,
      groupInstanceId: req.groupInstanceId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      sessionTimeoutMs: req.sessionTimeoutMs,
      protocolType: req.protocolType,
      protocols: req.protocols,
      assignment: EMPTY,
      awaitingJoin: respond,
      awaitingSync: null,
      isNew: true,
      heartbeatTimer: null,
    };
    if (g.members.size === 0) g.protocolType = req.protocolType;
    g.members.set(memberId, member);
    if (member.groupInstanceId !== null) g.staticMembers.set(member.groupInstanceId, memberId);
    if (g.leaderId === null) g.leaderId = memberId;
    if (g.is('PreparingRebalance') && g.generationId === 0) g.newMemberAdded = true;
    this.scheduleHeartbeatExpiry(g, member);
    this.maybePrepareRebalance(g, `${memberId} joined`);
    this.tryCompleteJoin(g);
  }

  private updateMemberAndRebalance(g: ClassicGroup, member: Member, req: JoinRequest, respond: (r: JoinResult) => void): void {
    member.protocols = req.protocols;
    member.protocolType = req.protocolType;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    member.clientId = req.clientId;
    member.clientHost = req.clientHost;
    if (member.awaitingJoin !== null && member.awaitingJoin !== respond) {
      // A second JoinGroup from the same member replaces the first, which is answered now.
      member.awaitingJoin(joinError(ErrorCode.REBALANCE_IN_PROGRESS, member.memberId));
    }
    member.awaitingJoin = respond;
    this.scheduleHeartbeatExpiry(g, member);
    this.maybePrepareRebalance(g, `${member.memberId} rejoined`);
    this.tryCompleteJoin(g);
  }

  /** A static member restarted: its new member id takes the old one's place and assignment. */
  private replaceStaticMember(g: ClassicGroup, req: JoinRequest, oldMemberId: string, newMemberId: string, respond: (r: JoinResult) => void): void {
    const member = g.members.get(oldMemberId)!;
    const previousLeader = g.leaderId;
    // The old incarnation, if it is still waiting somewhere, is fenced.
    member.awaitingJoin?.(joinError(ErrorCode.FENCED_INSTANCE_ID, oldMemberId));
    member.awaitingJoin = null;
    member.awaitingSync?.(syncError(ErrorCode.FENCED_INSTANCE_ID));
    member.awaitingSync = null;
    member.heartbeatTimer?.cancel();
    g.members.delete(oldMemberId);
    member.memberId = newMemberId;
    g.members.set(newMemberId, member);
    g.staticMembers.set(req.groupInstanceId!, newMemberId);
    if (g.leaderId === oldMemberId) g.leaderId = newMemberId;
    if (g.pendingSync.delete(oldMemberId)) g.pendingSync.add(newMemberId);
    if (g.is('Stable')) {
      // As Kafka: the member's protocols are updated, and only a change of the protocol the
      // group would choose makes it rebalance.
      const oldProtocols = member.protocols;
      member.protocols = req.protocols;
      if (member.protocolType !== req.protocolType || g.selectProtocol() !== g.protocolName) {
        member.protocols = oldProtocols;
        this.updateMemberAndRebalance(g, member, req, respond);
        return;
      }
      member.sessionTimeoutMs = req.sessionTimeoutMs;
      member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
      member.clientId = req.clientId;
      member.clientHost = req.clientHost;
      this.scheduleHeartbeatExpiry(g, member);
      const generation = g.generationId;
      // The new member id is persisted before it is handed out, so a restart keeps it.
      this.writeGroupMetadata(g).then(
        () => {
          if (g.generationId !== generation || g.members.get(newMemberId) !== member) {
            respond(joinError(ErrorCode.REBALANCE_IN_PROGRESS, newMemberId));
          } else if (req.supportsSkipAssignment) {
            respond(g.joinResultFor(newMemberId, g.isLeader(newMemberId)));
          } else {
            // Before v9 a restarted leader must not assign again (the group is stable and would
            // ignore it): it is answered as a follower, with the leader id it replaced (Kafka does
            // the same), and gets its assignment from SyncGroup.
            respond({ ...g.joinResultFor(newMemberId), leaderId: previousLeader ?? '', members: [] });
          }
        },
        (e: unknown) => {
          this.logMessage(`group ${g.groupId}: could not persist the static member ${req.groupInstanceId}: ${(e as Error).message}`);
          respond(joinError(ErrorCode.UNKNOWN_SERVER_ERROR, newMemberId));
        },
      );
      return;
    }
    this.updateMemberAndRebalance(g, member, req, respond);
  }

  private expirePendingMember(g: ClassicGroup, memberId: string): void {
    if (!g.pendingMembers.delete(memberId)) return;
    if (g.is('PreparingRebalance')) this.tryCompleteJoin(g);
  }

  // ---- rebalance phases ---------------------------------------------------------------------------

  private maybePrepareRebalance(g: ClassicGroup, reason: string): void {
    if (g.is('Stable') || g.is('CompletingRebalance') || g.is('Empty')) this.prepareRebalance(g, reason);
  }

  private prepareRebalance(g: ClassicGroup, _reason: string): void {
    if (g.is('CompletingRebalance')) {
      // Members waiting for the old generation's assignment must rejoin instead.
      for (const m of g.members.values()) {
        m.assignment = EMPTY;
        const cb = m.awaitingSync;
        m.awaitingSync = null;
        cb?.(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      }
    }
    g.syncTimer?.cancel();
    g.syncTimer = null;
    g.pendingSync.clear();
    const wasEmpty = g.is('Empty');
    g.transitionTo('PreparingRebalance', this.now());
    g.joinTimer?.cancel();
    g.initialDelayActive = wasEmpty && this.config.initialRebalanceDelayMs > 0;
    if (g.initialDelayActive) {
      // The first rebalance of an empty group waits a little for more members (Kafka's
      // InitialDelayedJoin), extending the wait while they keep coming, within the rebalance timeout.
      g.newMemberAdded = false;
      const delay = this.config.initialRebalanceDelayMs;
      let remaining = Math.max(g.rebalanceTimeoutMs - delay, 0);
      const wait = (ms: number): void => {
        g.joinTimer = this.scheduler.schedule(ms, () => {
          g.joinTimer = null;
          if (!g.is('PreparingRebalance')) return;
          if (g.newMemberAdded && remaining > 0) {
            g.newMemberAdded = false;
            const next = Math.min(delay, remaining);
            remaining -= next;
            wait(next);
            return;
          }
          this.completeJoin(g);
        });
      };
      wait(Math.min(delay, g.rebalanceTimeoutMs));
      return;
    }
    g.joinTimer = this.scheduler.schedule(g.rebalanceTimeoutMs, () => {
      g.joinTimer = null;
      if (g.is('PreparingRebalance')) this.completeJoin(g);
    });
  }

  /** Ends the join phase early once everybody is in (not during the initial delay). */
  private tryCompleteJoin(g: ClassicGroup): void {
    if (!g.is('PreparingRebalance') || !g.hasAllMembersJoined()) return;
    if (g.initialDelayActive && g.members.size > 0) return;
    g.joinTimer?.cancel();
    g.joinTimer = null;
    this.completeJoin(g);
  }

  private completeJoin(g: ClassicGroup): void {
    if (!g.is('PreparingRebalance')) return;
    g.initialDelayActive = false;
    // Members that did not rejoin in time leave the group.
    for (const m of [...g.members.values()]) if (m.awaitingJoin === null) this.removeMember(g, m);
    for (const [id, timer] of g.pendingMembers) {
      // Ids handed out but never used: those members must join again from scratch.
      timer.cancel();
      g.pendingMembers.delete(id);
    }
    g.generationId++;
    if (g.members.size === 0) {
      g.protocolName = null;
      g.leaderId = null;
      g.transitionTo('Empty', this.now());
      this.persistQuietly(g);
      return;
    }
    if (g.leaderId === null || !g.has(g.leaderId)) g.leaderId = g.members.keys().next().value!;
    g.protocolName = g.selectProtocol();
    g.transitionTo('CompletingRebalance', this.now());
    for (const m of g.members.values()) {
      g.pendingSync.add(m.memberId);
      const cb = m.awaitingJoin;
      m.awaitingJoin = null;
      m.isNew = false;
      this.scheduleHeartbeatExpiry(g, m);
      cb?.(g.joinResultFor(m.memberId));
    }
    // The leader must send the assignment within the rebalance timeout, or the members that
    // have not synced are dropped and the group rebalances again.
    const generation = g.generationId;
    g.syncTimer = this.scheduler.schedule(g.rebalanceTimeoutMs, () => {
      g.syncTimer = null;
      if (!g.is('CompletingRebalance') || g.generationId !== generation) return;
      for (const id of [...g.pendingSync]) {
        const m = g.members.get(id);
        if (m !== undefined) this.removeMember(g, m);
      }
      g.pendingSync.clear();
      if (g.members.size === 0) this.becomeEmptyAfterRebalance(g);
      else this.prepareRebalance(g, 'members did not sync in time');
    });
  }

  private becomeEmptyAfterRebalance(g: ClassicGroup): void {
    g.syncTimer?.cancel();
    g.syncTimer = null;
    g.generationId++;
    g.protocolName = null;
    g.leaderId = null;
    g.transitionTo('Empty', this.now());
    this.persistQuietly(g);
  }

  private removeMember(g: ClassicGroup, m: Member): void {
    m.heartbeatTimer?.cancel();
    m.heartbeatTimer = null;
    g.members.delete(m.memberId);
    g.pendingSync.delete(m.memberId);
    if (m.groupInstanceId !== null && g.staticMembers.get(m.groupInstanceId) === m.memberId) g.staticMembers.delete(m.groupInstanceId);
    if (g.leaderId === m.memberId) {
      let next: string | null = null;
      for (const other of g.members.values()) {
        if (other.awaitingJoin !== null) {
          next = other.memberId;
          break;
        }
        next ??= other.memberId;
      }
      g.leaderId = next;
    }
  }

  /** A member left or was expelled: the rest rebalance (or the join phase may now be complete). */
  private memberGone(g: ClassicGroup, m: Member, errorCode: number): void {
    const join = m.awaitingJoin;
    const sync = m.awaitingSync;
    m.awaitingJoin = null;
    m.awaitingSync = null;
    this.removeMember(g, m);
    join?.(joinError(errorCode, m.memberId));
    sync?.(syncError(errorCode));
    switch (g.state) {
      case 'Dead':
      case 'Empty':
        return;
      case 'PreparingRebalance':
        if (g.members.size === 0 && g.pendingMembers.size === 0) {
          g.joinTimer?.cancel();
          g.joinTimer = null;
          this.completeJoin(g);
          return;
        }
        this.tryCompleteJoin(g);
        return;
      default:
        if (g.members.size === 0) this.becomeEmptyAfterRebalance(g);
        else this.prepareRebalance(g, `${m.memberId} left`);
    }
  }

  private scheduleHeartbeatExpiry(g: ClassicGroup, m: Member): void {
    m.heartbeatTimer?.cancel();
    m.heartbeatTimer = this.scheduler.schedule(m.sessionTimeoutMs, () => {
      m.heartbeatTimer = null;
      if (g.members.get(m.memberId) !== m) return;
      // Members waiting in a join or sync phase are bounded by that phase's own timeout.
      if (m.awaitingJoin !== null || m.awaitingSync !== null) {
        this.scheduleHeartbeatExpiry(g, m);
        return;
      }
      this.logMessage(`group ${g.groupId}: member ${m.memberId} expelled after its session timeout of ${m.sessionTimeoutMs} ms`);
      this.memberGone(g, m, ErrorCode.UNKNOWN_MEMBER_ID);
    });
  }

  // ---- SyncGroup ----------------------------------------------------------------------------------

  sync(req: SyncRequest): Promise<SyncResult> {
    const g = this.groups.get(req.groupId);
    if (req.groupId === '') return Promise.resolve(syncError(ErrorCode.INVALID_GROUP_ID));
    if (g === undefined || g.is('Empty')) return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    if (g.is('Dead')) return Promise.resolve(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (g.isStaticMemberFenced(req.memberId, req.groupInstanceId)) return Promise.resolve(syncError(ErrorCode.FENCED_INSTANCE_ID));
    const member = g.members.get(req.memberId);
    if (member === undefined) return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    if (req.generationId !== g.generationId) return Promise.resolve(syncError(ErrorCode.ILLEGAL_GENERATION));
    if ((req.protocolType !== null && req.protocolType !== g.protocolType) || (req.protocolName !== null && req.protocolName !== g.protocolName)) {
      return Promise.resolve(syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    }
    switch (g.state) {
      case 'PreparingRebalance':
        return Promise.resolve(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      case 'Stable':
        this.scheduleHeartbeatExpiry(g, member);
        return Promise.resolve({ errorCode: ErrorCode.NONE, protocolType: g.protocolType, protocolName: g.protocolName, assignment: member.assignment });
      default:
        break;
    }
    return new Promise((resolve) => {
      if (member.awaitingSync !== null) member.awaitingSync(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      member.awaitingSync = resolve;
      g.pendingSync.delete(member.memberId);
      this.scheduleHeartbeatExpiry(g, member);
      if (!g.isLeader(member.memberId)) return;
      const generation = g.generationId;
      const assignments = new Map<string, Buffer>();
      for (const a of req.assignments) if (g.has(a.memberId)) assignments.set(a.memberId, a.assignment);
      const value = this.groupMetadataOf(g, (m) => assignments.get(m.memberId) ?? EMPTY);
      this.appendGroup(g, [{ key: groupMetadataKey(g.groupId), value: groupMetadataValue(value) }]).then(
        () => {
          if (!g.is('CompletingRebalance') || g.generationId !== generation) return;
          g.syncTimer?.cancel();
          g.syncTimer = null;
          g.pendingSync.clear();
          g.transitionTo('Stable', this.now());
          for (const m of g.members.values()) {
            m.assignment = assignments.get(m.memberId) ?? EMPTY;
            const cb = m.awaitingSync;
            m.awaitingSync = null;
            cb?.({ errorCode: ErrorCode.NONE, protocolType: g.protocolType, protocolName: g.protocolName, assignment: m.assignment });
          }
        },
        (e: unknown) => {
          this.logMessage(`group ${g.groupId}: could not persist generation ${generation}: ${(e as Error).message}`);
          if (!g.is('CompletingRebalance') || g.generationId !== generation) return;
          for (const m of g.members.values()) {
            const cb = m.awaitingSync;
            m.awaitingSync = null;
            cb?.(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
          }
          this.prepareRebalance(g, 'the assignment could not be stored');
        },
      );
    });
  }

  // ---- Heartbeat and LeaveGroup --------------------------------------------------------------------

  heartbeat(groupId: string, memberId: string, groupInstanceId: string | null, generationId: number): number {
    const g = this.groups.get(groupId);
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID;
    if (g === undefined || g.is('Empty')) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (g.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (g.isStaticMemberFenced(memberId, groupInstanceId)) return ErrorCode.FENCED_INSTANCE_ID;
    const member = g.members.get(memberId);
    if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== g.generationId) return ErrorCode.ILLEGAL_GENERATION;
    this.scheduleHeartbeatExpiry(g, member);
    // During a join phase the heartbeat tells the member to rejoin.
    return g.is('PreparingRebalance') ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  leave(groupId: string, members: readonly MemberIdentity[]): { errorCode: number; members: Array<MemberIdentity & { errorCode: number }> } {
    const g = this.groups.get(groupId);
    if (groupId === '') return { errorCode: ErrorCode.INVALID_GROUP_ID, members: [] };
    if (g === undefined || g.is('Dead')) return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID, members: [] };
    const results = members.map((who) => ({ ...who, errorCode: this.leaveOne(g, who) }));
    return { errorCode: ErrorCode.NONE, members: results };
  }

  private leaveOne(g: ClassicGroup, who: MemberIdentity): number {
    if (who.groupInstanceId !== null) {
      const current = g.staticMembers.get(who.groupInstanceId);
      if (current === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (who.memberId !== '' && who.memberId !== current) return ErrorCode.FENCED_INSTANCE_ID;
      this.memberGone(g, g.members.get(current)!, ErrorCode.UNKNOWN_MEMBER_ID);
      return ErrorCode.NONE;
    }
    const pending = g.pendingMembers.get(who.memberId);
    if (pending !== undefined) {
      pending.cancel();
      g.pendingMembers.delete(who.memberId);
      if (g.is('PreparingRebalance')) this.tryCompleteJoin(g);
      return ErrorCode.NONE;
    }
    const m = g.members.get(who.memberId);
    if (m === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.memberGone(g, m, ErrorCode.UNKNOWN_MEMBER_ID);
    return ErrorCode.NONE;
  }

  // ---- offsets ------------------------------------------------------------------------------------

  /** Checks a commit against the group's membership; NONE when it may be written. */
  private validateCommit(g: ClassicGroup | undefined, req: CommitRequest): number {
    if (g === undefined) return req.generationId < 0 && req.memberId === '' && req.groupInstanceId === null ? ErrorCode.NONE : ErrorCode.ILLEGAL_GENERATION;
    if (g.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (g.isStaticMemberFenced(req.memberId, req.groupInstanceId)) return ErrorCode.FENCED_INSTANCE_ID;
    // A group used only to store offsets (manual assignment, admin tools) commits outside any generation.
    if (req.generationId < 0 && g.is('Empty')) return ErrorCode.NONE;
    if (g.is('CompletingRebalance')) return ErrorCode.REBALANCE_IN_PROGRESS;
    const member = g.members.get(req.memberId);
    if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (req.generationId !== g.generationId) return ErrorCode.ILLEGAL_GENERATION;
    this.scheduleHeartbeatExpiry(g, member);
    return ErrorCode.NONE;
  }

  async commitOffsets(req: CommitRequest): Promise<PartitionResult[]> {
    let g = this.groups.get(req.groupId);
    const problem = this.validateCommit(g, req);
    if (problem !== ErrorCode.NONE) return req.offsets.map((o) => ({ topic: o.topic, partition: o.partition, errorCode: problem }));
    if (g === undefined) {
      const created = this.getOrCreateGroup(req.groupId);
      if (created === null) return req.offsets.map((o) => ({ topic: o.topic, partition: o.partition, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE }));
      g = created;
    }
    const nowMs = this.now();
    const results: PartitionResult[] = [];
    const records: Array<{ record: OffsetsRecord; key: Buffer; value: Buffer }> = [];
    for (const o of req.offsets) {
      const metadata = o.metadata ?? '';
      if (Buffer.byteLength(metadata) > this.config.offsetMetadataMaxBytes) {
        results.push({ topic: o.topic, partition: o.partition, errorCode: ErrorCode.OFFSET_METADATA_TOO_LARGE });
        continue;
      }
      const value: OffsetCommitValue = {
        offset: o.offset,
        leaderEpoch: o.leaderEpoch,
        metadata,
        commitTimestamp: BigInt(nowMs),
        expireTimestamp: req.retentionTimeMs >= 0 ? BigInt(nowMs + req.retentionTimeMs) : -1n,
      };
      records.push({ record: { type: 'offset', group: req.groupId, topic: o.topic, partition: o.partition, value }, key: offsetCommitKey(req.groupId, o.topic, o.partition), value: offsetCommitValue(value) });
      results.push({ topic: o.topic, partition: o.partition, errorCode: ErrorCode.NONE });
    }
    if (records.length === 0) return results;
    // The records are applied once written, whether or not the answer has timed out by then,
    // so that the coordinator's state always matches its log.
    const written = this.appendGroup(g, records).then(() => {
      for (const r of records) this.replay(r.record, true);
    });
    let timer: Timer | null = null;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = this.scheduler.schedule(this.config.offsetCommitTimeoutMs, () => resolve('timeout'))));
    let failure: number = ErrorCode.NONE;
    try {
      if ((await Promise.race([written, timedOut])) === 'timeout') failure = ErrorCode.REQUEST_TIMED_OUT;
    } catch (e) {
      this.logMessage(`group ${req.groupId}: offset commit failed: ${(e as Error).message}`);
      failure = ErrorCode.COORDINATOR_NOT_AVAILABLE;
    } finally {
      (timer as Timer | null)?.cancel();
    }
    if (failure === ErrorCode.REQUEST_TIMED_OUT) written.catch(() => undefined);
    if (failure !== ErrorCode.NONE) for (const r of results) if (r.errorCode === ErrorCode.NONE) r.errorCode = failure;
    return results;
  }

  /** Committed offsets of a group: the partitions asked for, or all (null). */
  fetchOffsets(groupId: string, partitions: ReadonlyArray<{ topic: string; partitions: readonly number[] }> | null): FetchedOffset[] {
    const g = this.groups.get(groupId);
    const out: FetchedOffset[] = [];
    if (partitions === null) {
      if (g === undefined) return out;
      for (const [topic, byPartition] of g.offsets) {
        for (const [partition, o] of byPartition) out.push({ topic, partition, offset: o.offset, leaderEpoch: o.leaderEpoch, metadata: o.metadata });
      }
      return out;
    }
    for (const t of partitions) {
      for (const p of t.partitions) {
        const o = g?.offset(t.topic, p);
        out.push({ topic: t.topic, partition: p, offset: o?.offset ?? -1n, leaderEpoch: o?.leaderEpoch ?? -1, metadata: o?.metadata ?? '' });
      }
    }
    return out;
  }

  // ---- describe, list, delete ---------------------------------------------------------------------

  describe(groupId: string): GroupDescription {
    const g = this.groups.get(groupId);
    if (g === undefined) return { groupId, state: 'Dead', protocolType: '', protocolName: '', generationId: -1, leaderId: null, members: [] };
    const stable = g.is('Stable');
    return {
      groupId,
      state: g.state,
      protocolType: g.protocolType ?? '',
      protocolName: g.protocolName ?? '',
      generationId: g.generationId,
      leaderId: g.leaderId,
      members: [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        // As Kafka: metadata and assignment only once the generation is stable.
        metadata: stable ? g.metadataOf(m) : EMPTY,
        assignment: stable ? m.assignment : EMPTY,
      })),
    };
  }

  list(statesFilter: readonly string[]): Array<{ groupId: string; protocolType: string; state: GroupState }> {
    const wanted = new Set(statesFilter.map((s) => s.toLowerCase()));
    const out: Array<{ groupId: string; protocolType: string; state: GroupState }> = [];
    for (const g of this.groups.values()) {
      if (g.is('Dead')) continue;
      if (wanted.size > 0 && !wanted.has(g.state.toLowerCase())) continue;
      out.push({ groupId: g.groupId, protocolType: g.protocolType ?? '', state: g.state });
    }
    return out;
  }

  async deleteGroups(groupIds: readonly string[]): Promise<Array<{ groupId: string; errorCode: number }>> {
    return Promise.all(
      groupIds.map(async (groupId) => {
        const g = this.groups.get(groupId);
        if (groupId === '') return { groupId, errorCode: ErrorCode.INVALID_GROUP_ID };
        if (g === undefined || g.is('Dead')) return { groupId, errorCode: ErrorCode.GROUP_ID_NOT_FOUND };
        if (!g.is('Empty')) return { groupId, errorCode: ErrorCode.NON_EMPTY_GROUP };
        try {
          await this.removeGroup(g);
        } catch (e) {
          this.logMessage(`group ${groupId}: delete failed: ${(e as Error).message}`);
          return { groupId, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE };
        }
        return { groupId, errorCode: ErrorCode.NONE };
      }),
    );
  }

  /** Tombstones for every offset and the group itself, then the group is gone. */
  private async removeGroup(g: ClassicGroup): Promise<void> {
    const records: GroupLogRecord[] = [];
    for (const [topic, byPartition] of g.offsets) for (const p of byPartition.keys()) records.push({ key: offsetCommitKey(g.groupId, topic, p), value: null });
    records.push({ key: groupMetadataKey(g.groupId), value: null });
    await this.appendGroup(g, records);
    g.transitionTo('Dead', this.now());
    g.offsets.clear();
    if (this.groups.get(g.groupId) === g) this.groups.delete(g.groupId);
  }

  /** OffsetDelete: removes committed offsets of partitions the group does not consume. */
  async deleteOffsets(
    groupId: string,
    partitions: ReadonlyArray<{ topic: string; partition: number }>,
    subscribedTopics: (g: ClassicGroup) => Set<string>,
  ): Promise<{ errorCode: number; partitions: PartitionResult[] }> {
    const g = this.groups.get(groupId);
    if (groupId === '') return { errorCode: ErrorCode.INVALID_GROUP_ID, partitions: [] };
    if (g === undefined || g.is('Dead')) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, partitions: [] };
    if (!g.is('Empty') && g.protocolType !== CONSUMER_PROTOCOL_TYPE) return { errorCode: ErrorCode.NON_EMPTY_GROUP, partitions: [] };
    const subscribed = g.is('Empty') ? new Set<string>() : subscribedTopics(g);
    const results: PartitionResult[] = [];
    const records: Array<{ record: OffsetsRecord; key: Buffer; value: null }> = [];
    for (const { topic, partition } of partitions) {
      if (subscribed.has(topic)) {
        results.push({ topic, partition, errorCode: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC });
        continue;
      }
      results.push({ topic, partition, errorCode: ErrorCode.NONE });
      if (g.offset(topic, partition) !== undefined) {
        records.push({ record: { type: 'offset', group: groupId, topic, partition, value: null }, key: offsetCommitKey(groupId, topic, partition), value: null });
      }
    }
    if (records.length > 0) {
      try {
        await this.appendGroup(g, records);
      } catch (e) {
        this.logMessage(`group ${groupId}: offset delete failed: ${(e as Error).message}`);
        return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, partitions: [] };
      }
      for (const r of records) this.replay(r.record, true);
    }
    return { errorCode: ErrorCode.NONE, partitions: results };
  }

  /** Tombstones every committed offset of a deleted topic, in every group. */
  async removeOffsetsOfTopic(topic: string): Promise<number> {
    let removed = 0;
    for (const g of [...this.groups.values()]) {
      const partitions = g.offsets.get(topic);
      if (partitions === undefined || partitions.size === 0) continue;
      const records = [...partitions.keys()].map((partition) => ({
        record: { type: 'offset' as const, group: g.groupId, topic, partition, value: null },
        key: offsetCommitKey(g.groupId, topic, partition),
        value: null,
      }));
      try {
        await this.appendGroup(g, records);
      } catch (e) {
        this.logMessage(`group ${g.groupId}: could not remove the offsets of deleted topic ${topic}: ${(e as Error).message}`);
        continue;
      }
      for (const r of records) this.replay(r.record, true);
      removed += records.length;
    }
    return removed;
  }

  // ---- expiry -------------------------------------------------------------------------------------

  /**
   * Removes committed offsets past their retention (Kafka 2.1+ rules): an offset committed with
   * its own retention expires at its expire timestamp; otherwise offsets of a group with
   * members never expire, offsets of a group that became empty expire offsets.retention.ms
   * after it did, and offsets of a group that never had members (manual assignment) expire
   * offsets.retention.ms after their commit. A group left with neither members nor offsets is
   * deleted. Returns the number of offsets removed.
   */
  async expireOffsets(): Promise<number> {
    const nowMs = this.now();
    const retention = this.config.offsetsRetentionMs;
    let removed = 0;
    for (const g of [...this.groups.values()]) {
      // Ids handed out with MEMBER_ID_REQUIRED belong to members about to join.
      if (!g.is('Empty') || g.pendingMembers.size > 0) continue;
      const expired: Array<{ topic: string; partition: number }> = [];
      for (const [topic, byPartition] of g.offsets) {
        for (const [partition, o] of byPartition) {
          const since = g.protocolType === null ? o.commitTimestampMs : Math.max(g.currentStateTimestampMs, o.commitTimestampMs);
          const due = o.expireTimestampMs >= 0 ? o.expireTimestampMs : since + retention;
          if (nowMs >= due) expired.push({ topic, partition });
        }
      }
      const everything = expired.length === g.offsetCount;
      if (expired.length === 0 && g.offsetCount > 0) continue;
      try {
        if (everything) {
          await this.removeGroup(g);
        } else {
          await this.appendGroup(
            g,
            expired.map((e) => ({ key: offsetCommitKey(g.groupId, e.topic, e.partition), value: null })),
          );
          for (const e of expired) this.replay({ type: 'offset', group: g.groupId, topic: e.topic, partition: e.partition, value: null }, true);
        }
        removed += expired.length;
      } catch (e) {
        this.logMessage(`group ${g.groupId}: offset expiry failed: ${(e as Error).message}`);
      }
    }
    if (removed > 0) this.logMessage(`removed ${removed} expired offsets`);
    return removed;
  }

  // ---- persistence --------------------------------------------------------------------------------

  private groupMetadataOf(g: ClassicGroup, assignmentOf: (m: Member) => Buffer): GroupMetadataValue {
    return {
      protocolType: g.protocolType ?? '',
      generation: g.generationId,
      protocol: g.protocolName,
      leader: g.leaderId,
      currentStateTimestamp: BigInt(this.now()),
      members: [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeout: m.rebalanceTimeoutMs,
        sessionTimeout: m.sessionTimeoutMs,
        subscription: g.metadataOf(m),
        assignment: assignmentOf(m),
      })),
    };
  }

  private writeGroupMetadata(g: ClassicGroup): Promise<void> {
    return this.appendGroup(g, [{ key: groupMetadataKey(g.groupId), value: groupMetadataValue(this.groupMetadataOf(g, (m) => m.assignment)) }]);
  }

  /** Writes the group's metadata in the background; a failure is logged (the next change rewrites it). */
  private persistQuietly(g: ClassicGroup): void {
    this.writeGroupMetadata(g).catch((e: unknown) => this.logMessage(`group ${g.groupId}: could not persist its metadata: ${(e as Error).message}`));
  }

  private appendGroup(g: ClassicGroup, records: GroupLogRecord[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the group coordinator is shutting down'));
    return this.groupLog.append(g.groupId, records);
  }

  /** Stops every timer; answers waiting joins and syncs so their connections can finish. */
  close(): void {
    this.closed = true;
    for (const g of this.groups.values()) {
      g.joinTimer?.cancel();
      g.syncTimer?.cancel();
      for (const t of g.pendingMembers.values()) t.cancel();
      for (const m of g.members.values()) {
        m.heartbeatTimer?.cancel();
        const join = m.awaitingJoin;
        const sync = m.awaitingSync;
        m.awaitingJoin = null;
        m.awaitingSync = null;
        join?.(joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, m.memberId));
        sync?.(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
      }
    }
  }

  /** Committed offsets of every group, for lag (see GroupLag in the broker). */
  committedOffsets(groupId: string): Array<{ topic: string; partition: number; offset: CommittedOffset }> {
    const g = this.groups.get(groupId);
    const out: Array<{ topic: string; partition: number; offset: CommittedOffset }> = [];
    if (g === undefined) return out;
    for (const [topic, byPartition] of g.offsets) for (const [partition, offset] of byPartition) out.push({ topic, partition, offset });
    return out;
  }

  /** All group ids, Dead ones excepted. */
  groupIds(): string[] {
    return [...this.groups.values()].filter((g) => !g.is('Dead')).map((g) => g.groupId);
  }
}

export type { Timer };

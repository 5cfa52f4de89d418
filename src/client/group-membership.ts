/**
 * Membership of a classic consumer group (the JoinGroup/SyncGroup/Heartbeat/LeaveGroup
 * protocol), run in the background for a Consumer.
 *
 * A rebalance: JoinGroup (repeated once with the member id the coordinator hands out on
 * MEMBER_ID_REQUIRED, KIP-394), then the leader, the member the coordinator picked, runs
 * the chosen assignor over every member's subscription and sends the result in its
 * SyncGroup; every member learns its partitions from its SyncGroup response. Heartbeats
 * keep the membership alive and tell the member when the group rebalances.
 *
 * Eager protocol (range, roundrobin): all partitions are revoked before joining. Cooperative
 * (all configured assignors cooperative): members keep their partitions through the
 * rebalance, give up only those the assignment takes away, and then rejoin once more so the
 * partitions they gave up can be handed to their new owner (KIP-429).
 */
import { ErrorCode, errorName } from '../protocol/error-codes.js';
import { HeartbeatApi, JoinGroupApi, LeaveGroupApi, SyncGroupApi } from '../protocol/messages/index.js';
import type { Assignor, MemberSubscription, RebalanceProtocol } from './assignors.js';
import type { Cluster } from './cluster.js';
import { CONSUMER_PROTOCOL_TYPE, SUBSCRIPTION_VERSION, decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription } from './consumer-protocol.js';
import { ConnectionError, KafkaError } from './errors.js';
import { isCoordinatorError } from './offset-requests.js';
import type { TopicPartition } from './record-types.js';
import { backoffMs, sleep } from './retry.js';

export interface GroupMembershipOptions {
  groupId: string;
  groupInstanceId: string | null;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  heartbeatIntervalMs: number;
  assignors: Assignor[];
  /** How often the leader checks whether subscribed topics gained partitions. */
  metadataCheckIntervalMs: number;
}

export interface MembershipHooks {
  subscription(): string[];
  /** Partitions taken away in an orderly way: commit them, then tell the application. */
  revoke(partitions: TopicPartition[]): Promise<void>;
  assign(partitions: TopicPartition[]): Promise<void>;
  /** Partitions lost without a chance to commit (the member was fenced or expired). */
  lose(partitions: TopicPartition[]): Promise<void>;
  /** A failure the application must hear about (the group cannot be joined). */
  fatal(error: Error): void;
  log(message: string): void;
}

/** Errors after which the member cannot go on; the rest are retried. */
const FATAL_JOIN_ERRORS = new Set<number>([
  ErrorCode.GROUP_AUTHORIZATION_FAILED,
  ErrorCode.INVALID_SESSION_TIMEOUT,
  ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
  ErrorCode.INVALID_GROUP_ID,
  ErrorCode.GROUP_MAX_SIZE_REACHED,
  ErrorCode.FENCED_INSTANCE_ID,
  ErrorCode.UNSUPPORTED_VERSION,
]);

/** How long stop() waits for a JoinGroup in flight to come back (it is asked to, by LeaveGroup). */
const STOP_JOIN_WAIT_MS = 5000;

/** Waits for `promise` (its failure ignored), but no longer than `ms`; whether it settled. */
async function waitAtMost(promise: Promise<unknown> | null, ms: number): Promise<boolean> {
  if (promise === null) return true;
  let timer: NodeJS.Timeout | undefined;
  const ended = promise.then(
    () => true,
    () => true,
  );
  const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = await Promise.race([ended, timedOut]);
  clearTimeout(timer);
  return settled;
}

export class GroupMembership {
  memberId = '';
  generationId = -1;
  protocolName: string | null = null;
  leaderId = '';
  /** The partitions this member owns now. */
  owned: TopicPartition[] = [];
  private rejoinNeeded = true;
  private rejoinReason = 'initial join';
  private stopped = false;
  private running: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private joining = false;
  private readonly protocol: RebalanceProtocol;
  private firstAssignment: { resolve: () => void; reject: (e: Error) => void } | null = null;
  readonly joined: Promise<void>;
  /** Partition counts the leader assigned from, to notice topics that grow. */
  private assignedFrom = new Map<string, number>();
  private lastMetadataCheckAt = Date.now();

  constructor(
    private readonly cluster: Cluster,
    private readonly options: GroupMembershipOptions,
    private readonly hooks: MembershipHooks,
  ) {
    this.protocol = options.assignors.every((a) => a.rebalanceProtocol === 'cooperative') ? 'cooperative' : 'eager';
    this.joined = new Promise((resolve, reject) => (this.firstAssignment = { resolve, reject }));
    this.joined.catch(() => undefined);
  }

  get rebalanceProtocol(): RebalanceProtocol {
    return this.protocol;
  }

  get inGroup(): boolean {
    return this.generationId >= 0 && !this.rejoinNeeded;
  }

  start(): void {
    if (this.running !== null) return;
    this.running = this.run();
  }

  /** Asks for a rebalance (subscription changed, commit found the generation stale). */
  requestRejoin(reason: string): void {
    if (!this.rejoinNeeded) {
      this.rejoinNeeded = true;
      this.rejoinReason = reason;
    }
    this.wake?.();
  }

  /**
   * Stops heartbeating and (with `leave`, for dynamic members) leaves the group, so the
   * others rebalance at once instead of after the session timeout. A JoinGroup in flight
   * holds the group connection until the rebalance completes, so then the LeaveGroup goes
   * over another connection to the coordinator, which also ends that JoinGroup; a member
   * that has no id yet waits (at most STOP_JOIN_WAIT_MS) for the JoinGroup answer that
   * hands one out, and leaves with it.
   */
  async stop(leave: boolean): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.firstAssignment?.reject(new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, 'the consumer closed before joining its group', { retriable: false }));
    const mayLeave = leave && this.options.groupInstanceId === null;
    const leaveOver = async (over: 'group' | 'data'): Promise<void> => {
      if (!mayLeave || this.memberId === '') return;
      await this.leave(over).catch((e: unknown) => this.hooks.log(`leaving group ${this.options.groupId}: ${(e as Error).message}`));
    };
    let loopEnded = true;
    if (this.joining) {
      await leaveOver('data');
      loopEnded = await waitAtMost(this.running, Math.min(STOP_JOIN_WAIT_MS, this.options.rebalanceTimeoutMs));
    } else {
      await this.running;
    }
    // Still no id, or the first LeaveGroup failed: once more, not behind a JoinGroup still in flight.
    await leaveOver(loopEnded ? 'group' : 'data');
  }

  // ---- the loop ---------------------------------------------------------------------------------

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        if (this.rejoinNeeded) {
          await this.rebalance();
          failures = 0;
          continue;
        }
        await this.pause(this.options.heartbeatIntervalMs);
        if (this.stopped || this.rejoinNeeded) continue;
        await this.heartbeat();
        await this.checkMetadata();
        failures = 0;
      } catch (error) {
        if (this.stopped) break;
        if (error instanceof KafkaError && FATAL_JOIN_ERRORS.has(error.code)) {
          this.firstAssignment?.reject(error);
          this.firstAssignment = null;
          this.hooks.fatal(error);
          return;
        }
        if (error instanceof ConnectionError || (error instanceof KafkaError && isCoordinatorError(error.code))) {
          this.cluster.invalidateCoordinator(this.options.groupId);
        }
        this.hooks.log(`group ${this.options.groupId}: ${(error as Error).message}; retrying`);
        await this.pause(backoffMs(failures++, this.cluster.retry));
      }
    }
  }

  /** Waits `ms` or until woken by requestRejoin/stop. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        if (self.wake === done) self.wake = null;
        resolve();
      }
      this.wake = done;
    });
  }

  private identity() {
    return { groupId: this.options.groupId, generationId: this.generationId, memberId: this.memberId, groupInstanceId: this.options.groupInstanceId };
  }

  private async heartbeat(): Promise<void> {
    const connection = await this.cluster.coordinatorConnection(this.options.groupId);
    const response = await connection.request(HeartbeatApi, {
      groupId: this.options.groupId,
      generationId: this.generationId,
      memberId: this.memberId,
      groupInstanceId: this.options.groupInstanceId,
    });
    switch (response.errorCode) {
      case ErrorCode.NONE:
        return;
      case ErrorCode.REBALANCE_IN_PROGRESS:
        this.requestRejoin('the group is rebalancing');
        return;
      case ErrorCode.ILLEGAL_GENERATION:
      case ErrorCode.UNKNOWN_MEMBER_ID:
        await this.fenced(response.errorCode);
        return;
      default:
        throw new KafkaError(response.errorCode, undefined, { groupId: this.options.groupId });
    }
  }

  /** The coordinator no longer knows this member's generation: its partitions are lost. */
  private async fenced(code: number): Promise<void> {
    this.hooks.log(`group ${this.options.groupId}: ${errorName(code)}; its partitions are lost, rejoining`);
    if (code === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = '';
    this.generationId = -1;
    const lost = this.owned;
    this.owned = [];
    if (lost.length > 0) await this.hooks.lose(lost);
    this.requestRejoin('fenced');
  }

  /** The leader rejoins when a subscribed topic gained partitions, so they get consumers. */
  private async checkMetadata(): Promise<void> {
    if (this.leaderId !== this.memberId || Date.now() - this.lastMetadataCheckAt < this.options.metadataCheckIntervalMs) return;
    this.lastMetadataCheckAt = Date.now();
    const topics = [...this.assignedFrom.keys()];
    if (topics.length === 0) return;
    await this.cluster.fetchMetadata(topics);
    for (const [topic, count] of this.assignedFrom) {
      const now = this.cluster.topic(topic)?.partitions.length ?? 0;
      if (now !== count) {
        this.requestRejoin(`topic ${topic} now has ${now} partitions`);
        return;
      }
    }
  }

  // ---- rebalancing --------------------------------------------------------------------------------

  private async rebalance(): Promise<void> {
    if (this.protocol === 'eager' && this.owned.length > 0) {
      const revoked = this.owned;
      this.owned = [];
      await this.hooks.revoke(revoked);
    }
    const topics = this.hooks.subscription();
    const joinBody = () => ({
      groupId: this.options.groupId,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      rebalanceTimeoutMs: this.options.rebalanceTimeoutMs,
      memberId: this.memberId,
      groupInstanceId: this.options.groupInstanceId,
      protocolType: CONSUMER_PROTOCOL_TYPE,
      protocols: this.options.assignors.map((a) => ({
        name: a.name,
        metadata: encodeSubscription({
          topics,
          userData: a.subscriptionUserData?.({ generationId: this.generationId, ownedPartitions: this.owned }) ?? null,
          ownedPartitions: this.protocol === 'cooperative' ? this.owned : [],
          generationId: this.generationId,
          rackId: null,
        }),
      })),
      reason: this.rejoinReason,
    });
    const connection = await this.cluster.coordinatorConnection(this.options.groupId);
    // stop() may have come while connecting: a JoinGroup now could wait for a whole rebalance.
    if (this.stopped) return;
    this.joining = true;
    let join;
    try {
      join = await connection.request(JoinGroupApi, joinBody(), { timeoutMs: this.options.rebalanceTimeoutMs + 5000 });
      if (join.errorCode === ErrorCode.MEMBER_ID_REQUIRED) {
        // KIP-394: the first join only hands out the member id; the real join repeats it.
        this.memberId = join.memberId;
        // Stopped meanwhile: the id is kept only so that stop() can leave with it.
        if (this.stopped) return;
        join = await connection.request(JoinGroupApi, joinBody(), { timeoutMs: this.options.rebalanceTimeoutMs + 5000 });
      }
    } finally {
      this.joining = false;
    }
    if (this.stopped) return;
    switch (join.errorCode) {
      case ErrorCode.NONE:
        break;
      case ErrorCode.UNKNOWN_MEMBER_ID:
      case ErrorCode.MEMBER_ID_REQUIRED:
        this.memberId = join.errorCode === ErrorCode.MEMBER_ID_REQUIRED ? join.memberId : '';
        return;
      case ErrorCode.REBALANCE_IN_PROGRESS:
      case ErrorCode.COORDINATOR_LOAD_IN_PROGRESS:
        await sleep(backoffMs(0, this.cluster.retry));
        return;
      case ErrorCode.ILLEGAL_GENERATION:
        this.generationId = -1;
        return;
      default:
        throw new KafkaError(join.errorCode, undefined, { groupId: this.options.groupId });
    }
    this.memberId = join.memberId;
    this.generationId = join.generationId;
    this.protocolName = join.protocolName;
    this.leaderId = join.leader;
    const isLeader = join.leader === join.memberId;
    const assignments = isLeader && join.skipAssignment !== true ? await this.computeAssignments(join.protocolName, join.members) : [];

    const sync = await connection.request(
      SyncGroupApi,
      {
        groupId: this.options.groupId,
        generationId: this.generationId,
        memberId: this.memberId,
        groupInstanceId: this.options.groupInstanceId,
        protocolType: CONSUMER_PROTOCOL_TYPE,
        protocolName: this.protocolName,
        assignments,
      },
      { timeoutMs: this.options.rebalanceTimeoutMs + 5000 },
    );
    if (this.stopped) return;
    switch (sync.errorCode) {
      case ErrorCode.NONE:
        break;
      case ErrorCode.REBALANCE_IN_PROGRESS:
        return;
      case ErrorCode.UNKNOWN_MEMBER_ID:
      case ErrorCode.ILLEGAL_GENERATION:
        await this.fenced(sync.errorCode);
        return;
      default:
        throw new KafkaError(sync.errorCode, undefined, { groupId: this.options.groupId });
    }
    const assigned = decodeAssignment(sync.assignment).partitions;
    this.rejoinNeeded = false;
    await this.applyAssignment(assigned);
    this.firstAssignment?.resolve();
    this.firstAssignment = null;
  }

  private async applyAssignment(assigned: TopicPartition[]): Promise<void> {
    const key = (tp: TopicPartition): string => `${tp.topic}\u0000${tp.partition}`;
    const assignedKeys = new Set(assigned.map(key));
    const ownedKeys = new Set(this.owned.map(key));
    const revoked = this.owned.filter((tp) => !assignedKeys.has(key(tp)));
    const added = assigned.filter((tp) => !ownedKeys.has(key(tp)));
    if (revoked.length > 0) {
      this.owned = this.owned.filter((tp) => assignedKeys.has(key(tp)));
      await this.hooks.revoke(revoked);
      // Cooperative: the partitions just given up go to their new owner in one more round.
      if (this.protocol === 'cooperative') this.requestRejoin('partitions were revoked');
    }
    this.owned = assigned;
    if (added.length > 0 || this.protocol === 'eager') await this.hooks.assign(added);
  }

  private async computeAssignments(protocolName: string | null, members: Array<{ memberId: string; groupInstanceId?: string | null; metadata: Buffer }>) {
    const assignor = this.options.assignors.find((a) => a.name === protocolName);
    if (assignor === undefined) throw new KafkaError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, `the coordinator chose assignor ${protocolName}, which this consumer does not have`);
    const subscriptions: MemberSubscription[] = [];
    let version = SUBSCRIPTION_VERSION;
    for (const m of members) {
      const s = decodeSubscription(m.metadata);
      version = Math.min(version, s.version);
      subscriptions.push({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId ?? null,
        topics: s.topics,
        ownedPartitions: s.ownedPartitions,
        generationId: s.generationId,
        userData: s.userData,
      });
    }
    const topics = [...new Set(subscriptions.flatMap((s) => s.topics))];
    const partitionsPerTopic = new Map<string, number>();
    if (topics.length > 0) {
      await this.cluster.fetchMetadata(topics);
      for (const t of topics) {
        const info = this.cluster.topic(t);
        if (info !== undefined && info.partitions.length > 0) partitionsPerTopic.set(t, info.partitions.length);
      }
    }
    this.assignedFrom = partitionsPerTopic;
    this.lastMetadataCheckAt = Date.now();
    const result = assignor.assign(subscriptions, partitionsPerTopic);
    return subscriptions.map((s) => ({
      memberId: s.memberId,
      assignment: encodeAssignment({ partitions: result.get(s.memberId) ?? [], userData: null }, version),
    }));
  }

  /** LeaveGroup over the group connection, or over the data connection to the coordinator while a JoinGroup holds the former. */
  private async leave(over: 'group' | 'data'): Promise<void> {
    const connection =
      over === 'group'
        ? await this.cluster.coordinatorConnection(this.options.groupId)
        : await this.cluster.connectionTo(await this.cluster.coordinatorFor(this.options.groupId), 'data');
    const version = connection.version(LeaveGroupApi);
    const body =
      version >= 3
        ? { groupId: this.options.groupId, members: [{ memberId: this.memberId, groupInstanceId: this.options.groupInstanceId, reason: 'the consumer is closing' }] }
        : { groupId: this.options.groupId, memberId: this.memberId };
    await connection.request(LeaveGroupApi, body, { version, timeoutMs: 5000 });
    this.memberId = '';
    this.generationId = -1;
  }

  /** The identity for commits made by this member. */
  commitIdentity() {
    return this.identity();
  }
}

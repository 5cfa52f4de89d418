/**
 * The consumer: group membership (subscribe) or manual assignment (assign), pipelined
 * fetching, offsets, and iteration.
 *
 * Fetching runs ahead of the application: as soon as a Fetch response is decoded, the next
 * Fetch for the same partitions is sent while the application is still working through the
 * records just received, so the consumer rarely waits on the network. What runs ahead is
 * bounded by `fetchBufferBytesMax`: once that many bytes of fetched records wait to be
 * consumed, fetching pauses until the application catches up.
 *
 * Positions: each partition has a fetch position (the next offset to ask the broker for,
 * ahead of the application) and a consumed position (one past the last record handed to the
 * application). Commits commit consumed positions. Seek, pause and revocation bump the
 * partition's epoch, which discards both its buffered records and any fetch in flight for
 * it, so nothing from before the seek is delivered after it.
 *
 * read_committed (the default) hides records of aborted transactions, using the aborted
 * transaction list of each Fetch response, and never shows control batches.
 */
import { ErrorCode } from '../protocol/error-codes.js';
import { FetchApi, type FetchRequest, type FetchResponse } from '../protocol/messages/index.js';
import { ControlRecordType, type KafkaRecord, type RecordHeader, readControlRecord, readRecords, splitRecordBatches } from '../protocol/record-batch.js';
import { type Assignor, type AssignorName, assignorByName } from './assignors.js';
import { Cluster, type ClientOptions, ZERO_TOPIC_ID } from './cluster.js';
import { ClientClosedError, CommitFailedError, KafkaError } from './errors.js';
import { GroupMembership } from './group-membership.js';
import {
  EARLIEST_TIMESTAMP,
  ISOLATION_READ_COMMITTED,
  ISOLATION_READ_UNCOMMITTED,
  LATEST_TIMESTAMP,
  type CommitRequest,
  commitOffsets,
  fetchCommittedOffsets,
  isLeadershipError,
  listOffsets,
} from './offset-requests.js';
import { type TopicPartition, type TopicPartitionOffset, partitionKey } from './record-types.js';
import { backoffMs } from './retry.js';
import { type Deserializer, bytesSerde } from './serializers.js';

export type OffsetResetPolicy = 'earliest' | 'latest' | 'none';
export type IsolationLevel = 'read_committed' | 'read_uncommitted';

export interface ConsumerOptions<K, V> extends ClientOptions {
  /** Needed for subscribe() and for commits. */
  groupId?: string;
  /** Static membership (KIP-345): a restart within the session timeout keeps the assignment. */
  groupInstanceId?: string;
  sessionTimeoutMs?: number;
  rebalanceTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** In order of preference; default ['range', 'cooperative-sticky'] like the Java client. */
  assignors?: Array<AssignorName | Assignor>;
  /** Where to start when there is no committed offset (or it is out of range). */
  autoOffsetReset?: OffsetResetPolicy;
  autoCommit?: boolean;
  autoCommitIntervalMs?: number;
  isolationLevel?: IsolationLevel;
  fetchMaxWaitMs?: number;
  fetchMinBytes?: number;
  fetchMaxBytes?: number;
  /** Bytes one partition may return per fetch (grown automatically for a larger batch). */
  partitionFetchBytes?: number;
  /** Bytes of fetched records waiting for the application before fetching pauses. */
  fetchBufferBytesMax?: number;
  /** Checks the CRC of every fetched batch. */
  checkCrcs?: boolean;
  keyDeserializer?: Deserializer<K>;
  valueDeserializer?: Deserializer<V>;
  onPartitionsAssigned?: (partitions: TopicPartition[]) => void | Promise<void>;
  /** Called before partitions go away (after their offsets are committed with autoCommit). */
  onPartitionsRevoked?: (partitions: TopicPartition[]) => void | Promise<void>;
  /** Called when partitions were lost without a chance to commit; defaults to onPartitionsRevoked. */
  onPartitionsLost?: (partitions: TopicPartition[]) => void | Promise<void>;
  /** Operator messages (retries, rebalances); silent by default. */
  log?: (message: string) => void;
}

export interface ConsumerMessage<K, V> {
  topic: string;
  partition: number;
  offset: bigint;
  /** Milliseconds since the epoch. */
  timestamp: number;
  key: K;
  value: V;
  headers: RecordHeader[];
}

export interface ConsumerBatch<K, V> {
  topic: string;
  partition: number;
  messages: Array<ConsumerMessage<K, V>>;
  highWatermark: bigint;
}

export type SeekTarget = bigint | number | 'earliest' | 'latest';

interface PartitionState {
  topic: string;
  partition: number;
  key: string;
  /** Next offset to fetch; null until initialized (committed offset or reset). */
  fetchOffset: bigint | null;
  /** One past the last record handed to the application; null until known. */
  consumedOffset: bigint | null;
  /** The last offset this consumer committed (or found committed). */
  committedOffset: bigint | null;
  /** Bumped to invalidate buffered records and fetches in flight. */
  epoch: number;
  paused: boolean;
  /** Being revoked: nothing more is fetched or delivered while its offsets are committed. */
  revoking: boolean;
  resetTo: 'earliest' | 'latest' | null;
  initializing: boolean;
  inFlight: boolean;
  retryAt: number;
  failures: number;
  partitionFetchBytes: number;
  highWatermark: bigint;
}

interface CompletedFetch {
  state: PartitionState;
  epoch: number;
  records: KafkaRecord[];
  index: number;
  sizeBytes: number;
  highWatermark: bigint;
}

export class Consumer<K = Buffer | null, V = Buffer | null> {
  readonly cluster: Cluster;
  private readonly options: ConsumerOptions<K, V>;
  private readonly groupId: string | null;
  private readonly keyDeserializer: Deserializer<K>;
  private readonly valueDeserializer: Deserializer<V>;
  private readonly isolationLevel: number;
  private readonly autoOffsetReset: OffsetResetPolicy;
  private readonly autoCommit: boolean;
  private readonly fetchBufferBytesMax: number;
  private readonly log: (message: string) => void;

  private readonly states = new Map<string, PartitionState>();
  private readonly completed: CompletedFetch[] = [];
  private bufferedBytes = 0;
  private readonly nodesInFlight = new Set<number>();
  private membership: GroupMembership | null = null;
  private subscription: string[] = [];
  private mode: 'none' | 'subscribe' | 'assign' = 'none';
  private waiter: (() => void) | null = null;
  private fatalError: Error | null = null;
  private closing = false;
  private closed = false;
  private closePromise: Promise<void> | null = null;
  private autoCommitTimer: NodeJS.Timeout | null = null;
  private fetchTimer: NodeJS.Timeout | null = null;
  private metadataRefresh: Promise<void> | null = null;
  private commitChain: Promise<void> = Promise.resolve();

  constructor(options: ConsumerOptions<K, V>) {
    this.options = options;
    this.cluster = new Cluster(options);
    this.groupId = options.groupId ?? null;
    this.keyDeserializer = options.keyDeserializer ?? (bytesSerde() as unknown as Deserializer<K>);
    this.valueDeserializer = options.valueDeserializer ?? (bytesSerde() as unknown as Deserializer<V>);
    this.isolationLevel = (options.isolationLevel ?? 'read_committed') === 'read_committed' ? ISOLATION_READ_COMMITTED : ISOLATION_READ_UNCOMMITTED;
    this.autoOffsetReset = options.autoOffsetReset ?? 'latest';
    this.autoCommit = (options.autoCommit ?? true) && this.groupId !== null;
    this.fetchBufferBytesMax = options.fetchBufferBytesMax ?? 64 * 1024 * 1024;
    this.log = options.log ?? (() => undefined);
  }

  // ---- assignment ---------------------------------------------------------------------------------

  /**
   * Joins the group (groupId is required) for these topics and resolves once the first
   * assignment arrived. Calling it again changes the subscription (a rebalance follows).
   */
  async subscribe(topics: string | string[]): Promise<void> {
    this.checkOpen();
    if (this.groupId === null) throw new TypeError('subscribe needs a groupId; use assign() without a group');
    if (this.mode === 'assign') throw new TypeError('this consumer uses assign(); a consumer either subscribes or assigns');
    this.subscription = [...new Set(typeof topics === 'string' ? [topics] : topics)].sort();
    this.cluster.addTopics(this.subscription);
    this.mode = 'subscribe';
    if (this.membership === null) {
      this.membership = new GroupMembership(
        this.cluster,
        {
          groupId: this.groupId,
          groupInstanceId: this.options.groupInstanceId ?? null,
          sessionTimeoutMs: this.options.sessionTimeoutMs ?? 45_000,
          rebalanceTimeoutMs: this.options.rebalanceTimeoutMs ?? 300_000,
          heartbeatIntervalMs: this.options.heartbeatIntervalMs ?? 3000,
          assignors: (this.options.assignors ?? ['range', 'cooperative-sticky']).map(assignorByName),
          metadataCheckIntervalMs: this.options.metadataMaxAgeMs ?? 300_000,
        },
        {
          subscription: () => this.subscription,
          revoke: (partitions) => this.onRevoke(partitions),
          assign: (partitions) => this.onAssign(partitions),
          lose: (partitions) => this.onLose(partitions),
          fatal: (error) => this.fail(error),
          log: this.log,
        },
      );
      this.membership.start();
      this.startAutoCommit();
    } else {
      this.membership.requestRejoin('the subscription changed');
    }
    await this.membership.joined;
  }

  /**
   * Consumes exactly these partitions, without group membership. Without an offset a
   * partition starts at the group's committed offset (when there is a groupId) or per
   * autoOffsetReset. Replaces any earlier assignment.
   */
  assign(partitions: Array<TopicPartition & { offset?: SeekTarget }>): void {
    this.checkOpen();
    if (this.mode === 'subscribe') throw new TypeError('this consumer subscribes; a consumer either subscribes or assigns');
    this.mode = 'assign';
    const keep = new Set(partitions.map((p) => partitionKey(p.topic, p.partition)));
    for (const [key, state] of this.states) if (!keep.has(key)) this.removeState(state);
    for (const p of partitions) {
      const state = this.states.get(partitionKey(p.topic, p.partition)) ?? this.addState(p);
      if (p.offset !== undefined) this.applySeek(state, p.offset);
    }
    this.cluster.addTopics(partitions.map((p) => p.topic));
    this.startAutoCommit();
    this.wakeFetcher();
  }

  /** The partitions this consumer currently has. */
  assignment(): TopicPartition[] {
    return [...this.states.values()].map((s) => ({ topic: s.topic, partition: s.partition }));
  }

  /** The next offset the application will see for a partition (null before it is known). */
  position(tp: TopicPartition): bigint | null {
    return this.stateOf(tp).consumedOffset;
  }

  /** The generation and member id of the group membership (for diagnostics and tests). */
  groupGeneration(): { generationId: number; memberId: string; protocolName: string | null } | null {
    const m = this.membership;
    return m === null ? null : { generationId: m.generationId, memberId: m.memberId, protocolName: m.protocolName };
  }

  // ---- seek, pause, resume ----------------------------------------------------------------------

  /** Moves a partition's position; the next record delivered for it is at `target`. */
  seek(tp: TopicPartition, target: SeekTarget): void {
    this.applySeek(this.stateOf(tp), target);
    this.wakeFetcher();
  }

  /** Stops fetching (and delivering) these partitions until resume(). */
  pause(partitions: TopicPartition[]): void {
    for (const tp of partitions) {
      const state = this.stateOf(tp);
      if (state.paused) continue;
      state.paused = true;
      // Records fetched ahead are dropped and fetched again after resume, from where the application stopped.
      this.invalidate(state);
    }
  }

  resume(partitions: TopicPartition[]): void {
    for (const tp of partitions) this.stateOf(tp).paused = false;
    this.wakeFetcher();
  }

  paused(): TopicPartition[] {
    return [...this.states.values()].filter((s) => s.paused).map((s) => ({ topic: s.topic, partition: s.partition }));
  }

  private applySeek(state: PartitionState, target: SeekTarget): void {
    this.invalidate(state);
    if (target === 'earliest' || target === 'latest') {
      state.fetchOffset = null;
      state.consumedOffset = null;
      state.resetTo = target;
    } else {
      const offset = BigInt(target);
      if (offset < 0n) throw new RangeError(`cannot seek to offset ${offset}`);
      state.fetchOffset = offset;
      state.consumedOffset = offset;
      state.resetTo = null;
    }
    state.retryAt = 0;
  }

  /** Drops what was fetched ahead for the partition and ignores fetches in flight for it. */
  private invalidate(state: PartitionState): void {
    state.epoch++;
    state.inFlight = false;
    if (state.consumedOffset !== null) state.fetchOffset = state.consumedOffset;
    for (let i = this.completed.length - 1; i >= 0; i--) {
      const c = this.completed[i]!;
      if (c.state === state) {
        this.completed.splice(i, 1);
        this.bufferedBytes -= c.sizeBytes;
      }
    }
  }

  // ---- commits ----------------------------------------------------------------------------------------

  /**
   * Commits offsets: the given ones, or else the consumed position of every assigned
   * partition that moved since its last commit. Commits run one after another.
   */
  commit(offsets?: TopicPartitionOffset[]): Promise<void> {
    const run = this.commitChain.then(() => this.doCommit(offsets));
    this.commitChain = run.catch(() => undefined);
    return run;
  }

  private async doCommit(offsets?: TopicPartitionOffset[]): Promise<void> {
    if (this.groupId === null) throw new TypeError('commits need a groupId');
    const requests: CommitRequest[] = [];
    if (offsets !== undefined) {
      for (const o of offsets) requests.push({ topic: o.topic, partition: o.partition, offset: o.offset });
    } else {
      for (const s of this.states.values()) {
        if (s.consumedOffset !== null && s.consumedOffset !== s.committedOffset) requests.push({ topic: s.topic, partition: s.partition, offset: s.consumedOffset });
      }
    }
    if (requests.length === 0) return;
    const identity =
      this.membership !== null
        ? this.membership.commitIdentity()
        : { groupId: this.groupId, generationId: -1, memberId: '', groupInstanceId: this.options.groupInstanceId ?? null };
    try {
      await commitOffsets(this.cluster, identity, requests);
    } catch (error) {
      if (
        error instanceof KafkaError &&
        (error.code === ErrorCode.REBALANCE_IN_PROGRESS || error.code === ErrorCode.ILLEGAL_GENERATION || error.code === ErrorCode.UNKNOWN_MEMBER_ID)
      ) {
        this.membership?.requestRejoin('a commit found the generation stale');
        throw new CommitFailedError(error.code, this.groupId);
      }
      throw error;
    }
    for (const r of requests) {
      const s = this.states.get(partitionKey(r.topic, r.partition));
      if (s !== undefined) s.committedOffset = r.offset;
    }
  }

  /** The group's committed offsets for these partitions (null where there is none). */
  async committed(partitions: TopicPartition[]): Promise<Array<TopicPartition & { offset: bigint | null }>> {
    if (this.groupId === null) throw new TypeError('committed offsets need a groupId');
    const found = await fetchCommittedOffsets(this.cluster, this.groupId, partitions);
    return partitions.map((tp) => ({ ...tp, offset: found.get(partitionKey(tp.topic, tp.partition))?.offset ?? null }));
  }

  private startAutoCommit(): void {
    if (!this.autoCommit || this.autoCommitTimer !== null) return;
    this.autoCommitTimer = setInterval(() => {
      if (this.membership !== null && !this.membership.inGroup) return;
      this.commit().catch((error: unknown) => this.log(`auto commit failed: ${(error as Error).message}`));
    }, this.options.autoCommitIntervalMs ?? 5000);
    this.autoCommitTimer.unref();
  }

  // ---- membership hooks -------------------------------------------------------------------------

  private async onRevoke(partitions: TopicPartition[]): Promise<void> {
    const keys = new Set(partitions.map((p) => partitionKey(p.topic, p.partition)));
    // Delivery stops first, so the offsets committed below are the last ones the
    // application saw; anything after them is the next owner's to deliver.
    for (const key of keys) {
      const state = this.states.get(key);
      if (state === undefined) continue;
      state.revoking = true;
      this.invalidate(state);
    }
    if (this.autoCommit) {
      const offsets = [...this.states.values()]
        .filter((s) => keys.has(s.key) && s.consumedOffset !== null && s.consumedOffset !== s.committedOffset)
        .map((s) => ({ topic: s.topic, partition: s.partition, offset: s.consumedOffset! }));
      await this.commit(offsets).catch((error: unknown) => this.log(`commit before revocation failed: ${(error as Error).message}`));
    }
    try {
      await this.options.onPartitionsRevoked?.(partitions);
    } finally {
      for (const tp of partitions) {
        const state = this.states.get(partitionKey(tp.topic, tp.partition));
        if (state !== undefined) this.removeState(state);
      }
    }
  }

  private async onLose(partitions: TopicPartition[]): Promise<void> {
    for (const tp of partitions) {
      const state = this.states.get(partitionKey(tp.topic, tp.partition));
      if (state !== undefined) this.removeState(state);
    }
    await (this.options.onPartitionsLost ?? this.options.onPartitionsRevoked)?.(partitions);
  }

  private async onAssign(partitions: TopicPartition[]): Promise<void> {
    for (const tp of partitions) if (!this.states.has(partitionKey(tp.topic, tp.partition))) this.addState(tp);
    await this.options.onPartitionsAssigned?.(partitions);
    this.wakeFetcher();
  }

  private addState(tp: TopicPartition): PartitionState {
    const state: PartitionState = {
      topic: tp.topic,
      partition: tp.partition,
      key: partitionKey(tp.topic, tp.partition),
      fetchOffset: null,
      consumedOffset: null,
      committedOffset: null,
      epoch: 0,
      paused: false,
      revoking: false,
      resetTo: null,
      initializing: false,
      inFlight: false,
      retryAt: 0,
      failures: 0,
      partitionFetchBytes: this.options.partitionFetchBytes ?? 1024 * 1024,
      highWatermark: -1n,
    };
    this.states.set(state.key, state);
    return state;
  }

  private removeState(state: PartitionState): void {
    this.invalidate(state);
    this.states.delete(state.key);
  }

  private stateOf(tp: TopicPartition): PartitionState {
    const state = this.states.get(partitionKey(tp.topic, tp.partition));
    if (state === undefined) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${tp.topic}-${tp.partition} is not assigned to this consumer`, { retriable: false });
    return state;
  }

  // ---- fetching -----------------------------------------------------------------------------------------

  private wakeFetcher(): void {
    if (this.fetchTimer !== null) {
      clearTimeout(this.fetchTimer);
      this.fetchTimer = null;
    }
    queueMicrotask(() => this.maybeFetch());
  }

  private scheduleFetch(atMs: number): void {
    if (this.fetchTimer !== null || this.closing) return;
    this.fetchTimer = setTimeout(
      () => {
        this.fetchTimer = null;
        this.maybeFetch();
      },
      Math.max(0, atMs - Date.now()),
    );
  }

  /** Starts offset lookups and fetches for everything that can go now. */
  private maybeFetch(): void {
    if (this.closing || this.fatalError !== null) return;
    const now = Date.now();
    let nextAt = Infinity;
    const toInitialize: PartitionState[] = [];
    const byLeader = new Map<number, PartitionState[]>();
    let needMetadata = false;
    for (const state of this.states.values()) {
      if (state.paused || state.revoking || state.inFlight) continue;
      if (state.retryAt > now) {
        nextAt = Math.min(nextAt, state.retryAt);
        continue;
      }
      if (state.fetchOffset === null) {
        if (!state.initializing) toInitialize.push(state);
        continue;
      }
      if (this.bufferedBytes >= this.fetchBufferBytesMax) continue;
      const leader = this.cluster.leaderFor(state.topic, state.partition);
      if (leader < 0) {
        needMetadata = true;
        continue;
      }
      if (this.nodesInFlight.has(leader)) continue;
      let list = byLeader.get(leader);
      if (list === undefined) byLeader.set(leader, (list = []));
      list.push(state);
    }
    if (toInitialize.length > 0) void this.initializePositions(toInitialize);
    for (const [leader, states] of byLeader) void this.fetchFrom(leader, states);
    if (needMetadata) this.refreshMetadataSoon();
    if (nextAt !== Infinity) this.scheduleFetch(nextAt);
  }

  private refreshMetadataSoon(): void {
    if (this.metadataRefresh !== null) return;
    this.metadataRefresh = this.cluster
      .refreshMetadata([...new Set([...this.states.values()].map((s) => s.topic))])
      .catch((error: unknown) => this.log(`metadata refresh failed: ${(error as Error).message}`))
      .finally(() => {
        this.metadataRefresh = null;
        this.scheduleFetch(Date.now() + (this.cluster.retry.initialBackoffMs ?? 100));
      });
  }

  /** Finds the starting offsets: the committed offset, else per autoOffsetReset (or the seek's target). */
  private async initializePositions(states: PartitionState[]): Promise<void> {
    const epochs = new Map(states.map((s) => [s, s.epoch]));
    for (const s of states) s.initializing = true;
    const current = (s: PartitionState): boolean => epochs.get(s) === s.epoch && this.states.get(s.key) === s;
    try {
      const needReset: PartitionState[] = states.filter((s) => s.resetTo !== null);
      const needCommitted = states.filter((s) => s.resetTo === null);
      if (needCommitted.length > 0) {
        if (this.groupId !== null) {
          const committed = await fetchCommittedOffsets(this.cluster, this.groupId, needCommitted.map((s) => ({ topic: s.topic, partition: s.partition })));
          for (const s of needCommitted) {
            const c = committed.get(s.key);
            if (!current(s)) continue;
            if (c !== undefined) {
              s.fetchOffset = s.consumedOffset = s.committedOffset = c.offset;
            } else {
              needReset.push(s);
            }
          }
        } else {
          needReset.push(...needCommitted);
        }
      }
      const resets = needReset.filter(current);
      if (resets.length > 0) {
        for (const s of resets) {
          if ((s.resetTo ?? this.autoOffsetReset) === 'none') {
            throw new KafkaError(ErrorCode.OFFSET_OUT_OF_RANGE, `no committed offset for ${s.topic}-${s.partition} and autoOffsetReset is 'none'`, {
              topic: s.topic,
              partition: s.partition,
              retriable: false,
            });
          }
        }
        const answers = await listOffsets(
          this.cluster,
          resets.map((s) => ({ topic: s.topic, partition: s.partition, timestamp: (s.resetTo ?? this.autoOffsetReset) === 'earliest' ? EARLIEST_TIMESTAMP : LATEST_TIMESTAMP })),
          this.isolationLevel,
        );
        for (const s of resets) {
          const a = answers.get(s.key);
          if (a === undefined || !current(s)) continue;
          s.fetchOffset = s.consumedOffset = a.offset;
          s.resetTo = null;
        }
      }
      for (const s of states) s.failures = 0;
    } catch (error) {
      if (error instanceof KafkaError && !error.retriable) {
        this.fail(error);
        return;
      }
      this.log(`looking up start offsets failed: ${(error as Error).message}`);
      for (const s of states) s.retryAt = Date.now() + backoffMs(s.failures++, this.cluster.retry);
    } finally {
      for (const s of states) s.initializing = false;
      this.maybeFetch();
    }
  }

  private async fetchFrom(leader: number, states: PartitionState[]): Promise<void> {
    const epochs = states.map((s) => s.epoch);
    const offsets = states.map((s) => s.fetchOffset!);
    for (const s of states) s.inFlight = true;
    this.nodesInFlight.add(leader);
    const maxWaitMs = this.options.fetchMaxWaitMs ?? 500;
    let response: FetchResponse;
    let version: number;
    try {
      const connection = await this.cluster.connectionTo(leader);
      version = connection.version(FetchApi);
      // Fetch v13 names topics by id; when an id is unknown, v12 names them.
      if (version >= 13 && states.some((s) => (this.cluster.topic(s.topic)?.topicId ?? ZERO_TOPIC_ID) === ZERO_TOPIC_ID)) version = 12;
      response = await connection.request(FetchApi, this.fetchRequest(states, offsets, version, maxWaitMs), {
        version,
        timeoutMs: this.cluster.requestTimeoutMs + maxWaitMs,
      });
    } catch (error) {
      this.nodesInFlight.delete(leader);
      if (this.closing) return;
      this.log(`fetch from broker ${leader} failed: ${(error as Error).message}`);
      for (let i = 0; i < states.length; i++) {
        const s = states[i]!;
        if (s.epoch !== epochs[i]) continue;
        s.inFlight = false;
        s.retryAt = Date.now() + backoffMs(s.failures++, this.cluster.retry);
      }
      if (error instanceof KafkaError && !error.retriable) this.fail(error);
      else this.refreshMetadataSoon();
      this.maybeFetch();
      return;
    }
    this.nodesInFlight.delete(leader);
    if ((response.errorCode ?? ErrorCode.NONE) !== ErrorCode.NONE) {
      this.log(`fetch from broker ${leader}: ${new KafkaError(response.errorCode!).message}`);
      for (let i = 0; i < states.length; i++) {
        const s = states[i]!;
        if (s.epoch !== epochs[i]) continue;
        s.inFlight = false;
        s.retryAt = Date.now() + backoffMs(s.failures++, this.cluster.retry);
      }
      this.maybeFetch();
      return;
    }
    const byKey = new Map(states.map((s, i) => [s.key, i]));
    const handled = new Set<number>();
    // Each partition's records become available to the application as soon as they are
    // decoded; the next fetch from this broker goes out once the whole response is, while
    // the application is still working through it.
    for (const t of response.responses) {
      const topic = version >= 13 ? (this.cluster.topicNameById(t.topicId ?? '') ?? '') : (t.topic ?? '');
      for (const p of t.partitions) {
        const i = byKey.get(partitionKey(topic, p.partitionIndex));
        if (i === undefined) continue;
        handled.add(i);
        const state = states[i]!;
        if (state.epoch !== epochs[i] || this.states.get(state.key) !== state) continue;
        try {
          await this.handlePartitionData(state, epochs[i]!, offsets[i]!, p);
        } catch (error) {
          this.fail(error instanceof Error ? error : new Error(String(error)));
          return;
        }
      }
    }
    for (let i = 0; i < states.length; i++) {
      const s = states[i]!;
      if (s.epoch === epochs[i]) s.inFlight = false;
    }
    this.maybeFetch();
  }

  private fetchRequest(states: PartitionState[], offsets: bigint[], version: number, maxWaitMs: number): FetchRequest {
    const byTopic = new Map<string, FetchRequest['topics'][number]>();
    states.forEach((s, i) => {
      let t = byTopic.get(s.topic);
      if (t === undefined) {
        t = version >= 13 ? { topicId: this.cluster.topic(s.topic)!.topicId, partitions: [] } : { topic: s.topic, partitions: [] };
        byTopic.set(s.topic, t);
      }
      t.partitions.push({
        partition: s.partition,
        currentLeaderEpoch: -1,
        fetchOffset: offsets[i]!,
        lastFetchedEpoch: -1,
        logStartOffset: -1n,
        partitionMaxBytes: s.partitionFetchBytes,
      });
    });
    return {
      replicaId: -1,
      replicaState: { replicaId: -1, replicaEpoch: -1n },
      maxWaitMs,
      minBytes: this.options.fetchMinBytes ?? 1,
      maxBytes: this.options.fetchMaxBytes ?? 50 * 1024 * 1024,
      isolationLevel: this.isolationLevel,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [...byTopic.values()],
      forgottenTopicsData: [],
      rackId: '',
    };
  }

  private async handlePartitionData(
    state: PartitionState,
    epoch: number,
    fetchOffset: bigint,
    p: FetchResponse['responses'][number]['partitions'][number],
  ): Promise<void> {
    if (p.errorCode !== ErrorCode.NONE) {
      state.inFlight = false;
      if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
        if (this.autoOffsetReset === 'none') throw new KafkaError(p.errorCode, undefined, { topic: state.topic, partition: state.partition });
        this.log(`${state.topic}-${state.partition}: offset ${fetchOffset} is out of range; resetting to ${this.autoOffsetReset}`);
        state.fetchOffset = null;
        state.consumedOffset = null;
        state.resetTo = this.autoOffsetReset;
        return;
      }
      const error = new KafkaError(p.errorCode, undefined, { topic: state.topic, partition: state.partition });
      if (isLeadershipError(p.errorCode) || error.retriable) {
        state.retryAt = Date.now() + backoffMs(state.failures++, this.cluster.retry);
        this.refreshMetadataSoon();
        return;
      }
      throw error;
    }
    state.failures = 0;
    state.highWatermark = p.highWatermark;
    const buf = p.records;
    if (buf === null || buf.length === 0) return;
    const { batches, partial } = splitRecordBatches(buf);
    if (batches.length === 0) {
      if (partial !== null && partial.declaredBytes > state.partitionFetchBytes) {
        // A batch larger than the partition's fetch size: ask for enough next time.
        state.partitionFetchBytes = partial.declaredBytes;
      }
      return;
    }
    const aborted = [...(p.abortedTransactions ?? [])].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
    let abortedIndex = 0;
    const abortedProducers = new Set<bigint>();
    const readCommitted = this.isolationLevel === ISOLATION_READ_COMMITTED;
    let nextOffset = fetchOffset;
    const records: KafkaRecord[] = [];
    let sizeBytes = 0;
    const maxUncompressedBytes = Math.max(64 * 1024 * 1024, state.partitionFetchBytes * 4);
    for (const batch of batches) {
      const batchNext = batch.nextOffset;
      if (batchNext <= nextOffset) continue;
      if (readCommitted && batch.producerId >= 0n) {
        while (abortedIndex < aborted.length && aborted[abortedIndex]!.firstOffset <= batch.lastOffset) {
          abortedProducers.add(aborted[abortedIndex]!.producerId);
          abortedIndex++;
        }
        if (batch.isControl) {
          const [marker] = await readRecords(batch, maxUncompressedBytes);
          if (marker !== undefined && readControlRecord(marker).type === ControlRecordType.Abort) abortedProducers.delete(batch.producerId);
          nextOffset = batchNext;
          continue;
        }
        if (batch.isTransactional && abortedProducers.has(batch.producerId)) {
          nextOffset = batchNext;
          continue;
        }
      }
      if (batch.isControl) {
        nextOffset = batchNext;
        continue;
      }
      const decoded = await readRecords(batch, maxUncompressedBytes, { verifyCrc: this.options.checkCrcs ?? false });
      for (const r of decoded) if (r.offset >= fetchOffset) records.push(r);
      sizeBytes += batch.sizeBytes;
      nextOffset = batchNext;
    }
    if (state.epoch !== epoch || this.states.get(state.key) !== state) return;
    state.fetchOffset = nextOffset;
    if (records.length > 0) {
      this.completed.push({ state, epoch, records, index: 0, sizeBytes, highWatermark: p.highWatermark });
      this.bufferedBytes += sizeBytes;
      this.notify();
    }
  }

  // ---- delivering -----------------------------------------------------------------------------------------

  private notify(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private fail(error: Error): void {
    if (this.fatalError === null) this.fatalError = error;
    this.notify();
  }

  /** Waits for fetched records (or an error, or close). */
  private async nextCompleted(): Promise<CompletedFetch | null> {
    for (;;) {
      if (this.fatalError !== null) {
        const error = this.fatalError;
        this.fatalError = null;
        // The failure is reported once; fetching goes on for the partitions that can.
        queueMicrotask(() => this.maybeFetch());
        throw error;
      }
      if (this.closing) return null;
      const head = this.completed[0];
      if (head !== undefined) {
        if (!this.isCurrent(head)) {
          this.completed.shift();
          this.bufferedBytes -= head.sizeBytes;
          continue;
        }
        return head;
      }
      if (this.mode === 'none') throw new TypeError('nothing to consume: call subscribe() or assign() first');
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  /** Whether buffered records may still be delivered: not sought past, paused or revoked since. */
  private isCurrent(c: CompletedFetch): boolean {
    const state = c.state;
    return c.epoch === state.epoch && !state.paused && !state.revoking && this.states.get(state.key) === state;
  }

  private finishCompleted(c: CompletedFetch): void {
    if (this.completed[0] === c) {
      this.completed.shift();
      this.bufferedBytes -= c.sizeBytes;
      this.maybeFetch();
    }
  }

  private toMessage(state: PartitionState, r: KafkaRecord): ConsumerMessage<K, V> {
    return {
      topic: state.topic,
      partition: state.partition,
      offset: r.offset,
      timestamp: Number(r.timestamp),
      key: this.keyDeserializer.deserialize(r.key, state.topic),
      value: this.valueDeserializer.deserialize(r.value, state.topic),
      headers: r.headers,
    };
  }

  /** The next record, waiting for one; null once the consumer is closed. */
  async nextMessage(): Promise<ConsumerMessage<K, V> | null> {
    let c = await this.nextCompleted();
    // The partition may have been sought or revoked while the awaiting caller resumed.
    while (c !== null && !this.isCurrent(c)) c = await this.nextCompleted();
    if (c === null) return null;
    const r = c.records[c.index++]!;
    if (c.index >= c.records.length) this.finishCompleted(c);
    c.state.consumedOffset = r.offset + 1n;
    return this.toMessage(c.state, r);
  }

  /** The records of one partition that are ready, at most `maxRecords`; null once closed. */
  async nextBatch(maxRecords = Infinity): Promise<ConsumerBatch<K, V> | null> {
    let c = await this.nextCompleted();
    while (c !== null && !this.isCurrent(c)) c = await this.nextCompleted();
    if (c === null) return null;
    const end = Math.min(c.records.length, c.index + maxRecords);
    const slice = c.records.slice(c.index, end);
    c.index = end;
    if (c.index >= c.records.length) this.finishCompleted(c);
    c.state.consumedOffset = slice[slice.length - 1]!.offset + 1n;
    return { topic: c.state.topic, partition: c.state.partition, messages: slice.map((r) => this.toMessage(c.state, r)), highWatermark: c.highWatermark };
  }

  /** `for await (const message of consumer)`: every record, until close(). */
  async *[Symbol.asyncIterator](): AsyncIterator<ConsumerMessage<K, V>> {
    for (;;) {
      const m = await this.nextMessage();
      if (m === null) return;
      yield m;
    }
  }

  /** `for await (const batch of consumer.batches())`: records a partition at a time. */
  async *batches(maxRecords = Infinity): AsyncGenerator<ConsumerBatch<K, V>> {
    for (;;) {
      const b = await this.nextBatch(maxRecords);
      if (b === null) return;
      yield b;
    }
  }

  // ---- closing -------------------------------------------------------------------------------------------

  private checkOpen(): void {
    if (this.closing) throw new ClientClosedError('the consumer');
  }

  /**
   * Commits (with autoCommit), leaves the group, ends iteration and closes the connections.
   * Calling it again returns the same promise, which settles when the first call is done.
   */
  close(): Promise<void> {
    this.closePromise ??= this.closeOnce();
    return this.closePromise;
  }

  private async closeOnce(): Promise<void> {
    this.closing = true;
    this.notify();
    if (this.autoCommitTimer !== null) clearInterval(this.autoCommitTimer);
    if (this.fetchTimer !== null) clearTimeout(this.fetchTimer);
    try {
      if (this.membership !== null) {
        const owned = this.membership.owned;
        if (this.membership.inGroup && owned.length > 0) await this.onRevoke(owned).catch((e: unknown) => this.log(`revocation on close failed: ${(e as Error).message}`));
        await this.membership.stop(true);
      } else if (this.autoCommit) {
        await this.commit().catch((e: unknown) => this.log(`commit on close failed: ${(e as Error).message}`));
      }
    } finally {
      this.closed = true;
      await this.cluster.close();
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

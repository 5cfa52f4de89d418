/**
 * What a client knows about the cluster: the brokers, each topic's partitions and leaders
 * (from Metadata), the group coordinators (from FindCoordinator), and one connection per
 * broker.
 *
 * Group traffic gets a connection of its own per coordinator, as in the Java client:
 * a broker handles a connection's requests one at a time, so a heartbeat queued behind a
 * long-polling Fetch (or a JoinGroup that waits for a whole rebalance) would arrive late.
 *
 * Metadata is refreshed on demand (unknown topic, leadership errors) and when older than
 * `metadataMaxAgeMs`; concurrent refreshes share one request.
 */
import type { ApiCodec } from '../protocol/api-codec.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { FindCoordinatorApi, MetadataApi, type MetadataResponse } from '../protocol/messages/index.js';
import { BrokerConnection, type RequestOptions } from './broker-connection.js';
import { ClientClosedError, ConnectionError, KafkaError } from './errors.js';
import { DEFAULT_RETRY, type RetryOptions, withRetries } from './retry.js';

export interface ClientOptions {
  /** Bootstrap brokers as `host:port` (a comma-separated string or a list). */
  bootstrapServers: string | string[];
  clientId?: string;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Requests awaiting a response per connection. */
  maxInFlightRequests?: number;
  /** Metadata older than this is refreshed before it is used. */
  metadataMaxAgeMs?: number;
  /** Retries of metadata, coordinator and admin requests. */
  retry?: RetryOptions;
}

export interface BrokerInfo {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface PartitionInfo {
  partition: number;
  leaderId: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  offlineReplicas: number[];
  errorCode: number;
}

export interface TopicInfo {
  name: string;
  /** Base64 UUID as the codec represents it; all zeros when the broker does not send ids. */
  topicId: string;
  isInternal: boolean;
  partitions: PartitionInfo[];
}

export const ZERO_TOPIC_ID = 'AAAAAAAAAAAAAAAAAAAAAA';

export type ConnectionPurpose = 'data' | 'group';

const COORDINATOR_KEY_GROUP = 0;

export class Cluster {
  readonly clientId: string;
  readonly requestTimeoutMs: number;
  readonly retry: RetryOptions;
  private readonly bootstrap: Array<{ host: string; port: number }>;
  private readonly options: ClientOptions;
  private readonly metadataMaxAgeMs: number;
  private readonly brokers = new Map<number, BrokerInfo>();
  private readonly topics = new Map<string, TopicInfo>();
  private readonly topicsById = new Map<string, string>();
  /** Topics whose metadata the client keeps fresh; refreshes ask for all of them. */
  private readonly interesting = new Set<string>();
  private readonly connections = new Map<string, Promise<BrokerConnection>>();
  private readonly coordinators = new Map<string, number>();
  private metadataUpdatedAt = 0;
  private refreshing: Promise<void> | null = null;
  private followUp: Promise<void> | null = null;
  private closed = false;
  controllerId = -1;
  clusterId: string | null = null;
  private bootstrapIndex = 0;

  constructor(options: ClientOptions) {
    this.options = options;
    this.clientId = options.clientId ?? 'ferry';
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.metadataMaxAgeMs = options.metadataMaxAgeMs ?? 300_000;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    const list = typeof options.bootstrapServers === 'string' ? options.bootstrapServers.split(',') : options.bootstrapServers;
    this.bootstrap = list.map((s) => parseHostPort(s.trim()));
    if (this.bootstrap.length === 0) throw new TypeError('bootstrapServers names no broker');
  }

  // ---- connections ----------------------------------------------------------------------------

  /** A connection to the broker with this node id (connecting if needed). */
  async connectionTo(nodeId: number, purpose: ConnectionPurpose = 'data'): Promise<BrokerConnection> {
    let broker = this.brokers.get(nodeId);
    if (broker === undefined) {
      await this.refreshMetadata();
      broker = this.brokers.get(nodeId);
      if (broker === undefined) throw new KafkaError(ErrorCode.BROKER_NOT_AVAILABLE, `broker ${nodeId} is not in the cluster metadata`, { retriable: true });
    }
    return this.connectionToAddress(broker.host, broker.port, purpose);
  }

  /** A connection to some broker: a known one if any, else a bootstrap server. */
  async anyConnection(): Promise<BrokerConnection> {
    this.checkOpen();
    for (const [key, connection] of this.connections) {
      if (key.startsWith('data:')) {
        try {
          const c = await connection;
          if (!c.closed) return c;
        } catch {
          // That connection failed; try the others and then the bootstrap list.
        }
      }
    }
    const known = [...this.brokers.values()];
    const candidates = known.length > 0 ? known : this.bootstrap;
    let lastError: unknown = null;
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[(this.bootstrapIndex + i) % candidates.length]!;
      try {
        return await this.connectionToAddress(c.host, c.port, 'data');
      } catch (error) {
        lastError = error;
      }
    }
    this.bootstrapIndex++;
    // All known brokers failed: a broker list from old metadata may be stale, so the
    // bootstrap servers get a turn too before giving up.
    if (known.length > 0) {
      for (const c of this.bootstrap) {
        try {
          return await this.connectionToAddress(c.host, c.port, 'data');
        } catch (error) {
          lastError = error;
        }
      }
    }
    throw lastError instanceof Error ? lastError : new ConnectionError('no broker reachable', this.bootstrap.map((b) => `${b.host}:${b.port}`).join(','));
  }

  private connectionToAddress(host: string, port: number, purpose: ConnectionPurpose): Promise<BrokerConnection> {
    this.checkOpen();
    const key = `${purpose}:${host}:${port}`;
    const existing = this.connections.get(key);
    if (existing !== undefined) return existing;
    const created = BrokerConnection.connect({
      host,
      port,
      clientId: this.clientId,
      connectTimeoutMs: this.options.connectTimeoutMs ?? 10_000,
      requestTimeoutMs: this.requestTimeoutMs,
      maxInFlightRequests: this.options.maxInFlightRequests ?? 5,
    }).then(
      (connection) => {
        connection.onClose(() => {
          if (this.connections.get(key) === created) this.connections.delete(key);
        });
        if (this.closed) connection.destroy();
        return connection;
      },
      (error: unknown) => {
        if (this.connections.get(key) === created) this.connections.delete(key);
        throw error;
      },
    );
    // Nobody may be waiting when it fails (a background refresh); the error is seen by whoever awaits it.
    created.catch(() => undefined);
    this.connections.set(key, created);
    return created;
  }

  /** Sends a request to a node, with the node's connection; a convenience for one-shot calls. */
  async requestTo<Req, Res>(nodeId: number, api: ApiCodec<Req, Res>, body: Req, options?: RequestOptions): Promise<Res> {
    const connection = await this.connectionTo(nodeId);
    return connection.request(api, body, options);
  }

  // ---- metadata -------------------------------------------------------------------------------

  /** The cached topic, or undefined. */
  topic(name: string): TopicInfo | undefined {
    return this.topics.get(name);
  }

  topicNameById(topicId: string): string | undefined {
    return this.topicsById.get(topicId);
  }

  broker(nodeId: number): BrokerInfo | undefined {
    return this.brokers.get(nodeId);
  }

  allBrokers(): BrokerInfo[] {
    return [...this.brokers.values()];
  }

  /** Adds topics to those kept fresh. */
  addTopics(topics: Iterable<string>): void {
    for (const t of topics) this.interesting.add(t);
  }

  get metadataAgeMs(): number {
    return Date.now() - this.metadataUpdatedAt;
  }

  get metadataStale(): boolean {
    return this.metadataAgeMs > this.metadataMaxAgeMs;
  }

  /**
   * Refreshes the metadata of the interesting topics (plus `topics`). A call made while a
   * request is out waits for it and then shares one follow-up request with the other such
   * callers, so every caller sees metadata fetched after it asked, with at most two requests.
   */
  refreshMetadata(topics: Iterable<string> = [], allowAutoTopicCreation = false): Promise<void> {
    this.addTopics(topics);
    if (this.refreshing === null) return this.startRefresh(allowAutoTopicCreation);
    if (this.followUp === null) {
      this.followUp = this.refreshing
        .catch(() => undefined)
        .then(() => {
          this.followUp = null;
          return this.startRefresh(allowAutoTopicCreation);
        });
    }
    return this.followUp;
  }

  private startRefresh(allowAutoTopicCreation: boolean): Promise<void> {
    const run = withRetries(() => this.fetchMetadata([...this.interesting], allowAutoTopicCreation), this.retry).then(() => undefined);
    this.refreshing = run;
    run
      .finally(() => {
        if (this.refreshing === run) this.refreshing = null;
      })
      .catch(() => undefined);
    return run;
  }

  /** Metadata for exactly these topics (null = all), updating the cache; returns the response. */
  async fetchMetadata(topics: string[] | null, allowAutoTopicCreation = false): Promise<MetadataResponse> {
    const connection = await this.anyConnection();
    const version = connection.version(MetadataApi);
    const body = {
      topics: topics === null ? null : topics.map((name) => ({ name, topicId: ZERO_TOPIC_ID })),
      // Before v4 brokers decide auto-creation alone; the codec refuses the field there.
      ...(version >= 4 ? { allowAutoTopicCreation } : {}),
    };
    const response = await connection.request(MetadataApi, body, { version });
    this.applyMetadata(response, topics === null);
    return response;
  }

  private applyMetadata(response: MetadataResponse, complete: boolean): void {
    if (response.errorCode !== undefined && response.errorCode !== ErrorCode.NONE) throw new KafkaError(response.errorCode);
    this.brokers.clear();
    for (const b of response.brokers) this.brokers.set(b.nodeId, { nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack ?? null });
    this.controllerId = response.controllerId ?? -1;
    this.clusterId = response.clusterId ?? null;
    if (complete) this.topics.clear();
    for (const t of response.topics) {
      if (t.name === null) continue;
      if (t.errorCode !== ErrorCode.NONE) {
        // A topic that vanished (or never was) must not keep routing records to old leaders.
        this.topics.delete(t.name);
        continue;
      }
      const info: TopicInfo = {
        name: t.name,
        topicId: t.topicId ?? ZERO_TOPIC_ID,
        isInternal: t.isInternal ?? false,
        partitions: t.partitions
          .map((p) => ({
            partition: p.partitionIndex,
            leaderId: p.leaderId,
            leaderEpoch: p.leaderEpoch ?? -1,
            replicas: p.replicaNodes,
            isr: p.isrNodes,
            offlineReplicas: p.offlineReplicas ?? [],
            errorCode: p.errorCode,
          }))
          .sort((a, b) => a.partition - b.partition),
      };
      this.topics.set(t.name, info);
      if (info.topicId !== ZERO_TOPIC_ID) this.topicsById.set(info.topicId, t.name);
    }
    this.metadataUpdatedAt = Date.now();
  }

  /**
   * The topic's metadata, fetched when not cached. With `allowAutoTopicCreation` a missing
   * topic is created by brokers configured to do so; a topic that is still missing (or has
   * leaderless partitions right after creation) is retried with backoff, since creation
   * takes a moment to settle on a real cluster.
   */
  async topicMetadata(name: string, options: { allowAutoTopicCreation?: boolean; retries?: number } = {}): Promise<TopicInfo> {
    const cached = this.topics.get(name);
    if (cached !== undefined && !this.metadataStale) return cached;
    this.interesting.add(name);
    return withRetries(
      async () => {
        await this.fetchMetadata([...this.interesting], options.allowAutoTopicCreation ?? false);
        const info = this.topics.get(name);
        if (info === undefined) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, undefined, { topic: name });
        return info;
      },
      { ...this.retry, retries: options.retries ?? this.retry.retries ?? DEFAULT_RETRY.retries },
    );
  }

  /** The leader of a partition from the cache, or -1 when unknown. */
  leaderFor(topic: string, partition: number): number {
    const partitions = this.topics.get(topic)?.partitions;
    if (partitions === undefined) return -1;
    // Partitions are sorted by index and normally dense, so the index is the position.
    const p = partitions[partition]?.partition === partition ? partitions[partition] : partitions.find((x) => x.partition === partition);
    return p?.leaderId ?? -1;
  }

  // ---- coordinators --------------------------------------------------------------------------

  /** The connection to the group's coordinator (its own connection, see the top of the file). */
  async coordinatorConnection(groupId: string): Promise<BrokerConnection> {
    const nodeId = await this.coordinatorFor(groupId);
    return this.connectionTo(nodeId, 'group');
  }

  /** The node id of the group's coordinator, looked up with FindCoordinator when not cached. */
  async coordinatorFor(groupId: string): Promise<number> {
    const cached = this.coordinators.get(groupId);
    if (cached !== undefined) return cached;
    return withRetries(
      async () => {
        const connection = await this.anyConnection();
        const version = connection.version(FindCoordinatorApi);
        let nodeId: number;
        let host: string;
        let port: number;
        let errorCode: number;
        let errorMessage: string | null;
        if (version >= 4) {
          const r = await connection.request(FindCoordinatorApi, { keyType: COORDINATOR_KEY_GROUP, coordinatorKeys: [groupId] }, { version });
          const c = r.coordinators?.[0];
          if (c === undefined) throw new KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE, undefined, { groupId });
          ({ nodeId, host, port, errorCode, errorMessage } = c);
        } else {
          const r = await connection.request(FindCoordinatorApi, { key: groupId, keyType: COORDINATOR_KEY_GROUP }, { version });
          nodeId = r.nodeId ?? -1;
          host = r.host ?? '';
          port = r.port ?? -1;
          errorCode = r.errorCode ?? ErrorCode.NONE;
          errorMessage = r.errorMessage ?? null;
        }
        if (errorCode !== ErrorCode.NONE) throw new KafkaError(errorCode, undefined, { groupId, brokerMessage: errorMessage });
        if (!this.brokers.has(nodeId)) this.brokers.set(nodeId, { nodeId, host, port, rack: null });
        this.coordinators.set(groupId, nodeId);
        return nodeId;
      },
      { ...this.retry, retries: Math.max(this.retry.retries ?? 0, 10) },
    );
  }

  /** Forgets the group's coordinator after NOT_COORDINATOR or a connection failure. */
  invalidateCoordinator(groupId: string): void {
    this.coordinators.delete(groupId);
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  private checkOpen(): void {
    if (this.closed) throw new ClientClosedError('the client');
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const all = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(
      all.map(async (p) => {
        try {
          await (await p).close();
        } catch {
          // A connection that never opened has nothing to close.
        }
      }),
    );
  }
}

/** Parses `host:port`, `[v6addr]:port` or a bare host (port 9092). */
export function parseHostPort(value: string): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (v6 !== null) return { host: v6[1]!, port: v6[2] === undefined ? 9092 : Number(v6[2]) };
  const i = value.lastIndexOf(':');
  if (i < 0) return { host: value, port: 9092 };
  const port = Number(value.slice(i + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new TypeError(`invalid broker address ${value}`);
  return { host: value.slice(0, i), port };
}

/**
 * The broker: a TCP server speaking the Kafka protocol over the storage engine.
 *
 * `startBroker(options)` resolves once the server listens; `broker.close()` stops accepting,
 * lets requests in flight finish, closes the logs cleanly and resolves. Each API is served by
 * one handler file (handlers/NN-name.ts, NN = API key); this file wires them together:
 * framing and per-connection order (connection.ts), version negotiation, and the shared
 * state handlers use (topics, logs, the wait list of long-polling fetches).
 */
import { once } from 'node:events';
import { type Server, type Socket, createServer } from 'node:net';
import type { ApiCodec } from '../protocol/api-codec.js';
import { errorResponse } from '../protocol/default-message.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { encodeResponseFrame, readRequestBody, readRequestHeader, type RequestHeader } from '../protocol/frame.js';
import { API_CODECS } from '../protocol/messages/index.js';
import { ProtocolError } from '../protocol/protocol-error.js';
import { type Clock, systemClock } from '../storage/clock.js';
import { type FileSystem, nodeFileSystem } from '../storage/file-system.js';
import { LogManager } from '../storage/log-manager.js';
import type { StorageLimits } from '../storage/storage-resources.js';
import { type BrokerConfig, type BrokerSettingName, brokerConfig, resolveBrokerSettings } from './broker-config.js';
import { Connection, RequestBudget } from './connection.js';
import { GroupCoordinator } from './groups/group-coordinator.js';
import { type GroupLag, groupLag } from './groups/group-lag.js';
import { OffsetsTopic } from './groups/offsets-topic.js';
import type { ApiHandler } from './handlers/handler.js';
import { HANDLERS } from './handlers/index.js';
import { type Scheduler, type Timer, timerScheduler } from './scheduler.js';
import { TopicManager } from './topic-manager.js';
import { TopicRegistry } from './topic-registry.js';

export interface StartBrokerOptions {
  /** Shorthands for the most used settings. */
  host?: string;
  port?: number;
  dataDir?: string;
  /** Any broker setting by its Kafka name. */
  settings?: Partial<Record<BrokerSettingName, string | number | boolean>>;
  /** Command-line arguments (--name=value, --config FILE) and environment (FERRY_*). */
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  fs?: FileSystem;
  clock?: Clock;
  /** Timers of the group coordinator; real timers on `clock` by default. */
  scheduler?: Scheduler;
  storageLimits?: Partial<StorageLimits>;
  /** Where operator messages go (one line each); default stderr. */
  log?: (message: string) => void;
}

export interface RequestContext {
  broker: Broker;
  header: RequestHeader;
  connection: Connection;
  /**
   * Lets the connection's next request start before this one is answered. A handler calls it
   * once everything that must happen in request order has happened (Produce: its appends are
   * issued); otherwise the next request starts when this one's response is ready.
   */
  release: () => void;
}

export class Broker {
  readonly log: (message: string) => void;
  private server: Server | null = null;
  private readonly connections = new Set<Connection>();
  private readonly requestBudget: RequestBudget;
  private closing: Promise<void> | null = null;
  boundPort = 0;
  /** Fetches waiting for data, by `<topic>-<partition>`. */
  private readonly appendWaiters = new Map<string, Set<() => void>>();
  private expiryTimer: Timer | null = null;

  private constructor(
    readonly config: BrokerConfig,
    readonly registry: TopicRegistry,
    readonly logs: LogManager,
    readonly topics: TopicManager,
    readonly clock: Clock,
    readonly scheduler: Scheduler,
    readonly offsetsTopic: OffsetsTopic,
    readonly groups: GroupCoordinator,
    log: (message: string) => void,
  ) {
    this.log = log;
    this.requestBudget = new RequestBudget(config.queuedMaxRequests);
  }

  static async start(options: StartBrokerOptions = {}): Promise<Broker> {
    const overrides: Partial<Record<BrokerSettingName, string | number | boolean>> = { ...options.settings };
    if (options.host !== undefined) overrides['ferry.host'] = options.host;
    if (options.port !== undefined) overrides['ferry.port'] = options.port;
    if (options.dataDir !== undefined) overrides['log.dirs'] = options.dataDir;
    const config = brokerConfig(resolveBrokerSettings({ argv: options.argv ?? [], env: options.env ?? {}, overrides }));
    const fs = options.fs ?? nodeFileSystem;
    const clock = options.clock ?? systemClock;
    const log = options.log ?? ((m: string) => process.stderr.write(`ferry: ${m}\n`));
    const registry = await TopicRegistry.open(fs, config.dataDir, config.clusterId);
    let broker: Broker | null = null;
    const logs = await LogManager.open(config.dataDir, {
      fs,
      clock,
      log,
      ...(options.storageLimits ? { limits: options.storageLimits } : {}),
      retentionCheckIntervalMs: config.retentionCheckIntervalMs,
      configFor: (topic) => TopicManager.logConfigFor(config, registry.get(topic)),
      onAppend: (topic, partition) => broker?.notifyAppend(topic, partition),
    });
    const topics = new TopicManager(config, registry, logs, log);
    await topics.reconcile();
    const scheduler = options.scheduler ?? timerScheduler(clock);
    const offsetsTopic = new OffsetsTopic({
      topics,
      clock,
      partitions: config.groups.offsetsTopicPartitions,
      segmentBytes: config.groups.offsetsTopicSegmentBytes,
      log,
    });
    const groups = new GroupCoordinator({ config: config.groups, log: offsetsTopic, scheduler, logMessage: log });
    // Committed offsets and groups come back before the first request is served.
    const replayed = await offsetsTopic.replay((record) => groups.replay(record));
    if (replayed > 0) log(`loaded ${groups.groupCount} groups from ${replayed} records of __consumer_offsets`);
    groups.startSessions();
    broker = new Broker(config, registry, logs, topics, clock, scheduler, offsetsTopic, groups, log);
    logs.startScheduler();
    broker.scheduleOffsetExpiry();
    await broker.listen();
    return broker;
  }

  private scheduleOffsetExpiry(): void {
    this.expiryTimer = this.scheduler.schedule(this.config.groups.offsetsRetentionCheckIntervalMs, () => {
      this.groups
        .expireOffsets()
        .catch((e: unknown) => this.log(`offset expiry failed: ${(e as Error).message}`))
        .finally(() => {
          if (this.closing === null) this.scheduleOffsetExpiry();
        });
    });
  }

  get host(): string {
    return this.config.host;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Host and port that clients are told to connect to (Metadata, FindCoordinator). */
  get advertised(): { host: string; port: number } {
    return { host: this.config.advertisedHost ?? this.config.host, port: this.config.advertisedPort ?? this.boundPort };
  }

  private async listen(): Promise<void> {
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    server.maxConnections = this.config.maxConnections;
    server.listen(this.config.port, this.config.host);
    await once(server, 'listening');
    const address = server.address();
    this.boundPort = typeof address === 'object' && address !== null ? address.port : this.config.port;
    this.server = server;
  }

  private accept(socket: Socket): void {
    if (this.closing !== null) {
      socket.destroy();
      return;
    }
    const conn = new Connection(
      socket,
      {
        socketRequestMaxBytes: this.config.socketRequestMaxBytes,
        maxInflight: this.config.connectionMaxInflightRequests,
        idleMs: this.config.connectionsMaxIdleMs,
        budget: this.requestBudget,
      },
      (frame, c) => {
        let release: () => void = () => undefined;
        const released = new Promise<void>((resolve) => (release = resolve));
        const response = this.handleFrame(frame, c, release);
        // Whatever happens, the next request may start once this one is answered.
        response.then(release, release);
        return { response, released };
      },
      this.log,
      (c) => this.connections.delete(c),
    );
    this.connections.add(conn);
  }

  /** Decodes a request, runs its handler and encodes the response (null: none, acks=0). */
  private async handleFrame(frame: Buffer, conn: Connection, release: () => void): Promise<Buffer[] | null> {
    let header: RequestHeader;
    try {
      header = readRequestHeader(frame);
    } catch (e) {
      conn.fail(`malformed request header: ${(e as Error).message}`);
      return null;
    }
    const handler = HANDLERS.get(header.apiKey);
    const codec = API_CODECS.get(header.apiKey);
    if (handler === undefined || codec === undefined) return this.unsupported(header, codec, conn);
    if (header.apiVersion < handler.minVersion || header.apiVersion > handler.maxVersion) {
      return this.unsupported(header, codec, conn);
    }
    let request: unknown;
    try {
      request = readRequestBody(codec, header, frame);
    } catch (e) {
      if (e instanceof ProtocolError) {
        conn.fail(`malformed ${codec.name} v${header.apiVersion} request: ${e.message}`);
        return null;
      }
      throw e;
    }
    const ctx: RequestContext = { broker: this, header, connection: conn, release };
    const response = await (handler as ApiHandler<unknown, unknown>).handle(ctx, request);
    if (response === null) return null;
    return encodeResponseFrame(codec, header.apiVersion, header.correlationId, response);
  }

  /**
   * A request for an API or version this broker does not serve. ApiVersions gets the KIP-511
   * answer (a v0 body with UNSUPPORTED_VERSION and the supported versions) so the client can
   * retry with one it shares; other known APIs get their response shape with every error
   * field set to UNSUPPORTED_VERSION; unknown API keys close the connection, as Kafka does.
   */
  private unsupported(header: RequestHeader, codec: ApiCodec<unknown, unknown> | undefined, conn: Connection): Buffer[] | null {
    if (header.apiKey === 18) {
      const api = API_CODECS.get(18)!;
      return encodeResponseFrame(api, 0, header.correlationId, {
        errorCode: ErrorCode.UNSUPPORTED_VERSION,
        apiKeys: this.apiVersions(),
      });
    }
    if (codec !== undefined && header.apiVersion >= codec.minVersion && header.apiVersion <= codec.maxVersion) {
      this.log(`${codec.name} v${header.apiVersion} is not served; answering UNSUPPORTED_VERSION to ${conn.remote}`);
      return encodeResponseFrame(codec, header.apiVersion, header.correlationId, errorResponse(header.apiKey, ErrorCode.UNSUPPORTED_VERSION));
    }
    conn.fail(`request for API key ${header.apiKey} version ${header.apiVersion}, which this broker does not know`);
    return null;
  }

  /** Committed offset, log end offset and lag of every partition a group commits or owns. */
  groupLag(groupId: string): GroupLag {
    return groupLag(this.groups, this.topics, groupId);
  }

  get isClosing(): boolean {
    return this.closing !== null;
  }

  /** The ApiVersions list: every API with a handler, at the versions served. */
  apiVersions(): Array<{ apiKey: number; minVersion: number; maxVersion: number }> {
    return [...HANDLERS.values()]
      .sort((a, b) => a.api.apiKey - b.api.apiKey)
      .map((h) => ({ apiKey: h.api.apiKey, minVersion: h.minVersion, maxVersion: h.maxVersion }));
  }

  // ---- fetch long polling ----------------------------------------------------------------

  notifyAppend(topic: string, partition: number): void {
    const waiters = this.appendWaiters.get(`${topic}-${partition}`);
    if (waiters === undefined) return;
    for (const w of [...waiters]) w();
  }

  /** Resolves on the first append to one of the partitions, or after timeoutMs. */
  waitForAppend(keys: readonly string[], timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        for (const k of keys) {
          const set = this.appendWaiters.get(k);
          set?.delete(finish);
          if (set?.size === 0) this.appendWaiters.delete(k);
        }
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      for (const k of keys) {
        let set = this.appendWaiters.get(k);
        if (set === undefined) {
          set = new Set();
          this.appendWaiters.set(k, set);
        }
        set.add(finish);
      }
      if (this.closing !== null) finish();
    });
  }

  private wakeAll(): void {
    for (const set of [...this.appendWaiters.values()]) for (const w of [...set]) w();
  }

  // ---- shutdown -------------------------------------------------------------------------------

  /** Stops accepting, answers what is in flight, flushes and closes the logs. */
  close(): Promise<void> {
    if (this.closing === null) this.closing = this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const server = this.server;
    if (server !== null) server.close();
    this.expiryTimer?.cancel();
    // Joins and syncs waiting on a rebalance are answered now so their connections drain.
    this.groups.close();
    this.wakeAll();
    await Promise.all([...this.connections].map((c) => c.idle()));
    for (const c of [...this.connections]) c.close();
    await this.logs.close();
    if (server !== null && server.listening) await once(server, 'close');
  }
}

export function startBroker(options: StartBrokerOptions = {}): Promise<Broker> {
  return Broker.start(options);
}

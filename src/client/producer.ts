/**
 * The producer: records are serialized, partitioned and appended to a per-partition batch;
 * a batch goes out when it is full (`batchBytes`), when it has waited `lingerMs`, or on
 * flush/close. One Produce request per broker carries one batch per partition.
 *
 * Ordering: each partition has at most one batch in flight, so a batch that is retried
 * after a retriable error is never overtaken by the batch behind it (the Java client needs
 * idempotence for that guarantee; this client keeps it by construction). Different
 * partitions, and different brokers, are in flight at the same time.
 *
 * Memory: records wait for room in a buffer of `bufferBytesMax` bytes before they are
 * accepted; `send` (and `queue`) wait for that room, up to `maxBlockMs`, so a producer that
 * outpaces the broker slows down instead of growing without limit.
 *
 * Failures: retriable errors (leadership moves, unknown topic while it is being created,
 * timeouts, lost connections) refresh the metadata and retry with backoff until
 * `deliveryTimeoutMs` runs out or `retries` are used up; a batch that is too large for the
 * broker is split in two and retried; everything else fails the batch's records with a
 * KafkaError.
 */
import { CompressionCodec } from '../protocol/compression.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { ProduceApi, type ProduceRequest, type ProduceResponse } from '../protocol/messages/index.js';
import { RECORD_BATCH_HEADER_BYTES, buildRecordBatch, type RecordHeader, type RecordInput } from '../protocol/record-batch.js';
import type { BrokerConnection } from './broker-connection.js';
import { Cluster, type ClientOptions, ZERO_TOPIC_ID } from './cluster.js';
import { ClientClosedError, KafkaError, RequestTimeoutError } from './errors.js';
import { DefaultPartitioner, type Partitioner } from './partitioner.js';
import { type RecordHeadersInput, partitionKey, toRecordHeaders } from './record-types.js';
import { backoffMs, type Deferred, deferred } from './retry.js';
import { type Serializer, bytesSerde } from './serializers.js';

export type Acks = 0 | 1 | -1 | 'all';
export type CompressionName = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

export interface ProducerOptions<K, V> extends ClientOptions {
  /** 0: no response; 1: the leader appended; -1 or 'all': all in-sync replicas have it (default). */
  acks?: Acks;
  compression?: CompressionName;
  /** gzip 0-9, zstd up to 22; the other codecs have no level. */
  compressionLevel?: number;
  /** How long a batch that is not full waits for more records. */
  lingerMs?: number;
  /** A batch is sent once it holds this many bytes (before compression). */
  batchBytes?: number;
  /** Bytes of records accepted but not yet acknowledged; `send` waits beyond this. */
  bufferBytesMax?: number;
  /** The largest Produce request; also the largest single record. */
  requestBytesMax?: number;
  /** How long a record may take from `send` to its acknowledgement, retries included. */
  deliveryTimeoutMs?: number;
  /** How long `send` may wait for metadata or buffer room. */
  maxBlockMs?: number;
  /** Retries of a batch; by default unlimited within `deliveryTimeoutMs`. */
  retries?: number;
  retryBackoffMs?: number;
  retryBackoffMaxMs?: number;
  partitioner?: Partitioner;
  keySerializer?: Serializer<K>;
  valueSerializer?: Serializer<V>;
  /** Ask brokers to create unknown topics (when they are configured to). */
  allowAutoTopicCreation?: boolean;
}

export interface ProducerRecord<K, V> {
  topic: string;
  key?: K | null;
  value: V | null;
  headers?: RecordHeadersInput;
  /** Milliseconds since the epoch; defaults to now. */
  timestamp?: number | bigint | Date;
  /** Overrides the partitioner. */
  partition?: number;
}

export interface RecordMetadata {
  topic: string;
  partition: number;
  /** -1 with acks=0, when the broker does not say. */
  offset: bigint;
  /** The record's timestamp, or the broker's append time for LogAppendTime topics. */
  timestamp: number;
}

/** A record accepted into the buffer, and the promise of its acknowledgement. */
export interface QueuedRecord {
  readonly delivered: Promise<RecordMetadata>;
}

const CODECS: Record<CompressionName, CompressionCodec> = {
  none: CompressionCodec.None,
  gzip: CompressionCodec.Gzip,
  snappy: CompressionCodec.Snappy,
  lz4: CompressionCodec.Lz4,
  zstd: CompressionCodec.Zstd,
};

/** Errors after which the client's idea of who leads a partition is probably wrong. */
const METADATA_ERRORS = new Set<number>([
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.UNKNOWN_TOPIC_ID,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
  ErrorCode.KAFKA_STORAGE_ERROR,
  ErrorCode.NETWORK_EXCEPTION,
  ErrorCode.REQUEST_TIMED_OUT,
]);

interface PendingRecord {
  input: RecordInput;
  timestamp: bigint;
  sizeBytes: number;
  delivery: Deferred<RecordMetadata>;
}

class ProducerBatch {
  records: PendingRecord[] = [];
  sizeBytes = RECORD_BATCH_HEADER_BYTES;
  /** No more records may join (it is full, or it was sent once). */
  closed = false;
  attempts = 0;
  retryAt = 0;
  built: Buffer | null = null;
  lastError: unknown = null;
  constructor(readonly createdAt: number) {}
}

class PartitionQueue {
  batches: ProducerBatch[] = [];
  inFlight = false;
  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}
}

/** Varint and attribute overhead of one record beyond its key, value and headers, at most. */
const RECORD_OVERHEAD_BYTES = 21;

export class Producer<K = Buffer | string | null, V = Buffer | string | null> {
  readonly cluster: Cluster;
  private readonly acks: number;
  private readonly codec: CompressionCodec;
  private readonly compressionLevel: number | undefined;
  private readonly lingerMs: number;
  private readonly batchBytes: number;
  private readonly bufferBytesMax: number;
  private readonly requestBytesMax: number;
  private readonly deliveryTimeoutMs: number;
  private readonly maxBlockMs: number;
  private readonly retries: number;
  private readonly retryBackoffMs: number;
  private readonly retryBackoffMaxMs: number;
  private readonly partitioner: Partitioner;
  private readonly keySerializer: Serializer<K>;
  private readonly valueSerializer: Serializer<V>;
  private readonly allowAutoTopicCreation: boolean;

  private readonly queues = new Map<string, PartitionQueue>();
  private readonly pendingDeliveries = new Set<Promise<unknown>>();
  private bufferedBytes = 0;
  private readonly spaceWaiters: Array<{ bytes: number; resolve: () => void; reject: (e: unknown) => void; timer: NodeJS.Timeout }> = [];
  private drainTimer: NodeJS.Timeout | null = null;
  private drainTimerAt = Infinity;
  private draining = false;
  private drainAgain = false;
  private flushing = 0;
  private closing = false;
  private closed = false;
  private metadataRefresh: Promise<void> | null = null;

  constructor(options: ProducerOptions<K, V>) {
    this.cluster = new Cluster(options);
    const acks = options.acks ?? 'all';
    this.acks = acks === 'all' ? -1 : acks;
    if (this.acks !== 0 && this.acks !== 1 && this.acks !== -1) throw new TypeError(`acks must be 0, 1, -1 or 'all', not ${String(options.acks)}`);
    const compression = options.compression ?? 'none';
    if (!(compression in CODECS)) throw new TypeError(`unknown compression ${compression}`);
    this.codec = CODECS[compression];
    this.compressionLevel = options.compressionLevel;
    this.lingerMs = options.lingerMs ?? 5;
    this.batchBytes = options.batchBytes ?? 256 * 1024;
    this.bufferBytesMax = options.bufferBytesMax ?? 32 * 1024 * 1024;
    this.requestBytesMax = options.requestBytesMax ?? 1024 * 1024;
    this.deliveryTimeoutMs = options.deliveryTimeoutMs ?? 120_000;
    this.maxBlockMs = options.maxBlockMs ?? 60_000;
    this.retries = options.retries ?? Infinity;
    this.retryBackoffMs = options.retryBackoffMs ?? 100;
    this.retryBackoffMaxMs = options.retryBackoffMaxMs ?? 1000;
    this.partitioner = options.partitioner ?? new DefaultPartitioner({ stickyBytes: this.batchBytes });
    this.keySerializer = options.keySerializer ?? (bytesSerde() as unknown as Serializer<K>);
    this.valueSerializer = options.valueSerializer ?? (bytesSerde() as unknown as Serializer<V>);
    this.allowAutoTopicCreation = options.allowAutoTopicCreation ?? true;
  }

  /** Bytes of records accepted and not yet acknowledged (or failed). */
  get bufferedBytesNow(): number {
    return this.bufferedBytes;
  }

  /** Sends one record and resolves when the broker acknowledged it (per `acks`). */
  async send(record: ProducerRecord<K, V>): Promise<RecordMetadata> {
    return (await this.queue(record)).delivered;
  }

  /** Sends records and resolves when all are acknowledged; rejects with the first failure. */
  async sendBatch(records: Array<ProducerRecord<K, V>>): Promise<RecordMetadata[]> {
    const queued: QueuedRecord[] = [];
    for (const record of records) queued.push(await this.queue(record));
    return Promise.all(queued.map((q) => q.delivered));
  }

  /**
   * Accepts a record into the buffer, waiting for room when it is full, and resolves with
   * the promise of its acknowledgement: a loop that awaits `queue` keeps at most
   * `bufferBytesMax` bytes in memory while still batching. The delivery promise is already
   * marked as handled, so a failure the application never looks at does not crash the
   * process; look at it.
   */
  async queue(record: ProducerRecord<K, V>): Promise<QueuedRecord> {
    if (this.closing) throw new ClientClosedError('the producer');
    const topic = record.topic;
    const key = this.keySerializer.serialize(record.key as K, topic);
    const value = this.valueSerializer.serialize(record.value as V, topic);
    const headers: RecordHeader[] = toRecordHeaders(record.headers);
    const timestamp = toTimestamp(record.timestamp);
    let sizeBytes = RECORD_OVERHEAD_BYTES + (key?.length ?? 0) + (value?.length ?? 0);
    for (const h of headers) sizeBytes += 10 + Buffer.byteLength(h.key) + (h.value?.length ?? 0);
    if (sizeBytes + RECORD_BATCH_HEADER_BYTES > this.requestBytesMax || sizeBytes > this.bufferBytesMax) {
      throw new KafkaError(ErrorCode.MESSAGE_TOO_LARGE, `a record of ${sizeBytes} bytes exceeds requestBytesMax ${this.requestBytesMax} or bufferBytesMax ${this.bufferBytesMax}`, { topic });
    }
    const startedAt = Date.now();
    await this.reserve(sizeBytes);
    let partition: number;
    try {
      partition = await this.choosePartition(record, key, value?.length ?? 0, startedAt);
      if (this.closed) throw new ClientClosedError('the producer');
    } catch (error) {
      this.release(sizeBytes);
      throw error;
    }
    const delivery = deferred<RecordMetadata>();
    delivery.promise.catch(() => undefined);
    const pending: PendingRecord = { input: { key, value, headers, timestamp }, timestamp, sizeBytes, delivery };
    this.track(delivery.promise);
    this.append(topic, partition, pending);
    return { delivered: delivery.promise };
  }

  /** Sends everything buffered now, ignoring `lingerMs`, and resolves when all of it is settled. */
  async flush(): Promise<void> {
    const pending = [...this.pendingDeliveries];
    if (pending.length === 0) return;
    this.flushing++;
    try {
      this.scheduleDrain(0);
      await Promise.allSettled(pending);
    } finally {
      this.flushing--;
    }
  }

  /** Flushes, then closes the connections. Records sent after close start failing at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    for (const waiter of this.spaceWaiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new ClientClosedError('the producer'));
    }
    await this.flush();
    this.closed = true;
    if (this.drainTimer !== null) clearTimeout(this.drainTimer);
    await this.cluster.close();
  }

  // ---- accepting records -----------------------------------------------------------------------

  private track(promise: Promise<unknown>): void {
    this.pendingDeliveries.add(promise);
    const forget = (): void => {
      this.pendingDeliveries.delete(promise);
    };
    promise.then(forget, forget);
  }

  private reserve(bytes: number): Promise<void> {
    if (this.spaceWaiters.length === 0 && this.bufferedBytes + bytes <= this.bufferBytesMax) {
      this.bufferedBytes += bytes;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        bytes,
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.spaceWaiters.indexOf(waiter);
          if (i >= 0) this.spaceWaiters.splice(i, 1);
          reject(new RequestTimeoutError(`no room in the producer buffer (bufferBytesMax ${this.bufferBytesMax}) within maxBlockMs ${this.maxBlockMs}`));
          this.grantWaiters();
        }, this.maxBlockMs),
      };
      this.spaceWaiters.push(waiter);
      // Waiting for room is the moment to send what lingers, so room appears sooner.
      this.scheduleDrain(0);
    });
  }

  private release(bytes: number): void {
    this.bufferedBytes -= bytes;
    this.grantWaiters();
  }

  private grantWaiters(): void {
    while (this.spaceWaiters.length > 0) {
      const next = this.spaceWaiters[0]!;
      if (this.bufferedBytes + next.bytes > this.bufferBytesMax && this.bufferedBytes > 0) return;
      this.spaceWaiters.shift();
      clearTimeout(next.timer);
      this.bufferedBytes += next.bytes;
      next.resolve();
    }
  }

  private async choosePartition(record: ProducerRecord<K, V>, key: Buffer | null, valueBytes: number, startedAt: number): Promise<number> {
    const topic = record.topic;
    let info = this.cluster.topic(topic);
    if (info === undefined || (record.partition !== undefined && record.partition >= info.partitions.length)) {
      const budget = Math.max(0, this.maxBlockMs - (Date.now() - startedAt));
      info = await this.waitForTopic(topic, budget);
    }
    const partitionCount = info.partitions.length;
    if (record.partition !== undefined) {
      if (!Number.isInteger(record.partition) || record.partition < 0 || record.partition >= partitionCount) {
        throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `partition ${record.partition} is not in 0-${partitionCount - 1}`, {
          topic,
          partition: record.partition,
          retriable: false,
        });
      }
      return record.partition;
    }
    const p = this.partitioner.partition({ topic, key, valueBytes, partitionCount });
    if (!Number.isInteger(p) || p < 0 || p >= partitionCount) throw new RangeError(`the partitioner chose partition ${p} of ${partitionCount} for ${topic}`);
    return p;
  }

  /** Metadata for a topic, retried until it exists (auto-creation takes a moment) or `budgetMs` runs out. */
  private async waitForTopic(topic: string, budgetMs: number) {
    const deadline = Date.now() + budgetMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.cluster.topicMetadata(topic, { allowAutoTopicCreation: this.allowAutoTopicCreation, retries: 0 });
      } catch (error) {
        const retriable = error instanceof KafkaError && error.retriable;
        const wait = backoffMs(attempt, { initialBackoffMs: this.retryBackoffMs, maxBackoffMs: this.retryBackoffMaxMs });
        if (!retriable || Date.now() + wait > deadline || this.closing) throw error;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  private append(topic: string, partition: number, record: PendingRecord): void {
    const key = partitionKey(topic, partition);
    let queue = this.queues.get(key);
    if (queue === undefined) {
      queue = new PartitionQueue(topic, partition);
      this.queues.set(key, queue);
    }
    let batch = queue.batches[queue.batches.length - 1];
    if (batch === undefined || batch.closed || (batch.records.length > 0 && batch.sizeBytes + record.sizeBytes > this.batchBytes)) {
      if (batch !== undefined) batch.closed = true;
      batch = new ProducerBatch(Date.now());
      queue.batches.push(batch);
    }
    batch.records.push(record);
    batch.sizeBytes += record.sizeBytes;
    if (batch.sizeBytes >= this.batchBytes) batch.closed = true;
    this.scheduleDrain(batch.closed || this.flushing > 0 ? 0 : this.lingerMs);
  }

  // ---- sending ----------------------------------------------------------------------------------

  private scheduleDrain(delayMs: number): void {
    if (this.closed) return;
    const at = Date.now() + delayMs;
    if (this.drainTimer !== null && this.drainTimerAt <= at) return;
    if (this.drainTimer !== null) clearTimeout(this.drainTimer);
    this.drainTimerAt = at;
    this.drainTimer = setTimeout(() => {
      this.drainTimer = null;
      this.drainTimerAt = Infinity;
      this.drain();
    }, delayMs);
  }

  /** Sends every batch that is ready, grouped by leader; schedules itself for the rest. */
  private drain(): void {
    if (this.draining) {
      this.drainAgain = true;
      return;
    }
    this.draining = true;
    try {
      do {
        this.drainAgain = false;
        this.drainOnce();
      } while (this.drainAgain);
    } finally {
      this.draining = false;
    }
  }

  private drainOnce(): void {
    const now = Date.now();
    const byLeader = new Map<number, PartitionQueue[]>();
    let nextWakeAt = Infinity;
    let needMetadata = false;
    for (const [key, queue] of this.queues) {
      if (queue.batches.length === 0) {
        if (!queue.inFlight) this.queues.delete(key);
        continue;
      }
      this.expireBatches(queue, now);
      const batch = queue.batches[0];
      if (batch === undefined || queue.inFlight) continue;
      const readyAt = batch.closed || this.flushing > 0 || this.closing ? 0 : batch.createdAt + this.lingerMs;
      const sendAt = Math.max(readyAt, batch.retryAt);
      if (sendAt > now) {
        nextWakeAt = Math.min(nextWakeAt, sendAt);
        continue;
      }
      const leader = this.cluster.leaderFor(queue.topic, queue.partition);
      if (leader < 0) {
        needMetadata = true;
        nextWakeAt = Math.min(nextWakeAt, now + this.retryBackoffMs);
        continue;
      }
      let list = byLeader.get(leader);
      if (list === undefined) byLeader.set(leader, (list = []));
      list.push(queue);
    }
    for (const [leader, queues] of byLeader) {
      // One request per leader, up to requestBytesMax; the rest wait for the next drain.
      let bytes = 0;
      const chosen: PartitionQueue[] = [];
      for (const queue of queues) {
        const batch = queue.batches[0]!;
        if (chosen.length > 0 && bytes + batch.sizeBytes > this.requestBytesMax) {
          nextWakeAt = now;
          break;
        }
        bytes += batch.sizeBytes;
        batch.closed = true;
        queue.inFlight = true;
        chosen.push(queue);
      }
      void this.sendTo(leader, chosen);
    }
    if (needMetadata) this.refreshMetadataSoon();
    if (nextWakeAt !== Infinity) this.scheduleDrain(Math.max(0, nextWakeAt - Date.now()));
  }

  /** Fails batches that have waited longer than the delivery timeout without being sent. */
  private expireBatches(queue: PartitionQueue, now: number): void {
    if (queue.inFlight) return;
    while (queue.batches.length > 0 && now - queue.batches[0]!.createdAt > this.deliveryTimeoutMs) {
      const batch = queue.batches.shift()!;
      const cause = batch.lastError;
      const error =
        cause instanceof KafkaError
          ? new KafkaError(cause.code, `delivery timed out after ${this.deliveryTimeoutMs} ms; last error: ${cause.message}`, {
              topic: queue.topic,
              partition: queue.partition,
              cause,
            })
          : new RequestTimeoutError(`delivery to ${queue.topic}-${queue.partition} timed out after ${this.deliveryTimeoutMs} ms`);
      this.failBatch(batch, error);
    }
  }

  private refreshMetadataSoon(): void {
    if (this.metadataRefresh !== null || this.closed) return;
    this.metadataRefresh = this.cluster
      .refreshMetadata([], this.allowAutoTopicCreation)
      .catch(() => undefined)
      .finally(() => {
        this.metadataRefresh = null;
        this.scheduleDrain(0);
      });
  }

  private async sendTo(leader: number, queues: PartitionQueue[]): Promise<void> {
    let connection: BrokerConnection;
    let response: ProduceResponse | null = null;
    let version = 0;
    try {
      connection = await this.cluster.connectionTo(leader);
      version = connection.version(ProduceApi);
      for (const queue of queues) {
        const batch = queue.batches[0]!;
        batch.built ??= await buildRecordBatch({
          records: batch.records.map((r) => r.input),
          compression: this.codec,
          ...(this.compressionLevel === undefined ? {} : { compressionLevel: this.compressionLevel }),
        });
      }
      // Produce v13 names topics by id; a topic whose id is unknown goes by name at v12.
      if (version >= 13 && queues.some((q) => (this.cluster.topic(q.topic)?.topicId ?? ZERO_TOPIC_ID) === ZERO_TOPIC_ID)) version = 12;
      const request = this.buildRequest(queues, version);
      if (this.acks === 0) {
        await connection.send(ProduceApi, request, { version });
      } else {
        response = await connection.request(ProduceApi, request, { version, timeoutMs: this.cluster.requestTimeoutMs + 5000 });
      }
    } catch (error) {
      for (const queue of queues) this.completeBatch(queue, errorCodeOf(error), error, null);
      this.afterResponse();
      return;
    }
    if (response === null) {
      for (const queue of queues) this.completeBatch(queue, ErrorCode.NONE, null, { baseOffset: -1n, logAppendTimeMs: -1n });
    } else {
      const results = new Map<string, { errorCode: number; baseOffset: bigint; logAppendTimeMs: bigint; errorMessage: string | null }>();
      for (const t of response.responses) {
        const name = version >= 13 ? this.cluster.topicNameById(t.topicId ?? '') : t.name;
        for (const p of t.partitionResponses) {
          results.set(partitionKey(name ?? '', p.index), {
            errorCode: p.errorCode,
            baseOffset: p.baseOffset,
            logAppendTimeMs: p.logAppendTimeMs ?? -1n,
            errorMessage: p.errorMessage ?? null,
          });
        }
      }
      for (const queue of queues) {
        const r = results.get(partitionKey(queue.topic, queue.partition));
        if (r === undefined) {
          this.completeBatch(queue, ErrorCode.UNKNOWN_SERVER_ERROR, new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, 'the produce response left out a partition'), null);
        } else if (r.errorCode !== ErrorCode.NONE) {
          this.completeBatch(queue, r.errorCode, new KafkaError(r.errorCode, undefined, { topic: queue.topic, partition: queue.partition, brokerMessage: r.errorMessage }), null);
        } else {
          this.completeBatch(queue, ErrorCode.NONE, null, r);
        }
      }
    }
    this.afterResponse();
  }

  private afterResponse(): void {
    this.scheduleDrain(0);
  }

  private buildRequest(queues: PartitionQueue[], version: number): ProduceRequest {
    const byTopic = new Map<string, Array<{ index: number; records: Buffer }>>();
    for (const queue of queues) {
      let list = byTopic.get(queue.topic);
      if (list === undefined) byTopic.set(queue.topic, (list = []));
      list.push({ index: queue.partition, records: queue.batches[0]!.built! });
    }
    return {
      transactionalId: null,
      acks: this.acks,
      timeoutMs: this.cluster.requestTimeoutMs,
      topicData: [...byTopic].map(([name, partitionData]) =>
        version >= 13 ? { topicId: this.cluster.topic(name)!.topicId, partitionData } : { name, partitionData },
      ),
    };
  }

  /** Settles the in-flight batch of a partition: delivered, retried, split or failed. */
  private completeBatch(
    queue: PartitionQueue,
    errorCode: number,
    error: unknown,
    result: { baseOffset: bigint; logAppendTimeMs: bigint } | null,
  ): void {
    queue.inFlight = false;
    const batch = queue.batches[0]!;
    if (result !== null) {
      queue.batches.shift();
      for (let i = 0; i < batch.records.length; i++) {
        const r = batch.records[i]!;
        r.delivery.resolve({
          topic: queue.topic,
          partition: queue.partition,
          offset: result.baseOffset < 0n ? -1n : result.baseOffset + BigInt(i),
          timestamp: Number(result.logAppendTimeMs >= 0n ? result.logAppendTimeMs : r.timestamp),
        });
      }
      this.release(batch.sizeBytes - RECORD_BATCH_HEADER_BYTES);
      return;
    }
    batch.lastError = error;
    if ((errorCode === ErrorCode.MESSAGE_TOO_LARGE || errorCode === ErrorCode.RECORD_LIST_TOO_LARGE) && batch.records.length > 1) {
      // The broker's limit is lower than batchBytes: halve the batch until it fits.
      const half = Math.ceil(batch.records.length / 2);
      const first = this.childBatch(batch, batch.records.slice(0, half));
      const second = this.childBatch(batch, batch.records.slice(half));
      queue.batches.splice(0, 1, first, second);
      return;
    }
    const retriable = error instanceof KafkaError ? error.retriable : false;
    const now = Date.now();
    if (retriable && batch.attempts < this.retries && now - batch.createdAt < this.deliveryTimeoutMs && !this.closed) {
      batch.retryAt = now + backoffMs(batch.attempts, { initialBackoffMs: this.retryBackoffMs, maxBackoffMs: this.retryBackoffMaxMs });
      batch.attempts++;
      if (METADATA_ERRORS.has(errorCode)) this.refreshMetadataSoon();
      return;
    }
    queue.batches.shift();
    this.failBatch(batch, error instanceof Error ? error : new KafkaError(errorCode, undefined, { topic: queue.topic, partition: queue.partition }));
  }

  private childBatch(parent: ProducerBatch, records: PendingRecord[]): ProducerBatch {
    const child = new ProducerBatch(parent.createdAt);
    child.records = records;
    child.sizeBytes = RECORD_BATCH_HEADER_BYTES + records.reduce((n, r) => n + r.sizeBytes, 0);
    child.closed = true;
    child.attempts = parent.attempts;
    return child;
  }

  private failBatch(batch: ProducerBatch, error: unknown): void {
    for (const r of batch.records) r.delivery.reject(error);
    this.release(batch.sizeBytes - RECORD_BATCH_HEADER_BYTES);
  }
}

function toTimestamp(value: number | bigint | Date | undefined): bigint {
  if (value === undefined) return BigInt(Date.now());
  if (value instanceof Date) return BigInt(value.getTime());
  if (typeof value === 'bigint') return value;
  if (!Number.isSafeInteger(value)) throw new TypeError(`timestamp ${value} is not an integer number of milliseconds`);
  return BigInt(value);
}

function errorCodeOf(error: unknown): number {
  return error instanceof KafkaError ? error.code : ErrorCode.UNKNOWN_SERVER_ERROR;
}

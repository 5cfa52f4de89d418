/**
 * The producer: records are serialized, partitioned and written into a per-partition batch
 * (one buffer per batch, see producer-batch.ts); a batch goes out when it is full
 * (`batchBytes`), when it has waited `lingerMs`, or on flush/close. One Produce request per
 * broker carries at most one batch per partition.
 *
 * Accepting a record is synchronous when the buffer has room and the topic's metadata is
 * cached: `queue()` then returns an already-resolved promise, and nothing per record is
 * allocated beyond the returned handle (its `delivered` promise is made on first use).
 *
 * Ordering: up to `maxInFlightPerPartition` batches of a partition (default 5, like Java's
 * max.in.flight.requests.per.connection) are in flight at a time; brokers append a
 * connection's requests in order, so while nothing fails the partition's records land in
 * the order they were accepted. When a batch fails with a retriable error, the partition
 * stops sending, waits for its other in-flight batches to come back, puts every one that
 * failed back at the head of its queue in their original order, and resends them one batch
 * at a time until one succeeds. Records can still be reordered in one case: a batch fails
 * retriably (a timeout, say) while a later batch of the same partition that was already in
 * flight succeeds; the retried batch then lands after it (the Java client without
 * idempotence behaves the same). Set `maxInFlightPerPartition: 1` for strict ordering
 * across retries, at a cost in throughput.
 *
 * Memory: records wait for room in a buffer of `bufferBytesMax` bytes before they are
 * accepted; `send` (and `queue`) wait for that room, up to `maxBlockMs`, so a producer that
 * outpaces the broker slows down instead of growing without limit. A record's key, value
 * and headers are copied into its batch when it is accepted, so the caller may reuse them.
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
import { RECORD_BATCH_HEADER_BYTES, type RecordHeader } from '../protocol/record-batch.js';
import type { BrokerConnection } from './broker-connection.js';
import { Cluster, type ClientOptions, type TopicInfo, ZERO_TOPIC_ID } from './cluster.js';
import { ClientClosedError, KafkaError, RequestTimeoutError } from './errors.js';
import { DefaultPartitioner, type Partitioner } from './partitioner.js';
import { RecordBuffer } from './producer-batch.js';
import { type RecordHeadersInput, partitionKey, toRecordHeaders } from './record-types.js';
import { backoffMs } from './retry.js';
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
  /**
   * Bytes of records accepted but not yet acknowledged; `send` waits beyond this. Default
   * 8 MiB, or two batches when `batchBytes` is larger (see BUFFER_BYTES_DEFAULT).
   */
  bufferBytesMax?: number;
  /** The largest Produce request; also the largest single record. */
  requestBytesMax?: number;
  /** How long a record may take from `send` to its acknowledgement, retries included. */
  deliveryTimeoutMs?: number;
  /** How long `send` may wait for metadata or buffer room. */
  maxBlockMs?: number;
  /**
   * Batches of one partition sent and not yet answered (default 5). 1 keeps records in order
   * even when a batch is retried; see the top of producer.ts.
   */
  maxInFlightPerPartition?: number;
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

const NO_HEADERS: RecordHeader[] = [];

/** Varint and attribute overhead of one record beyond its key, value and headers, about. */
const RECORD_OVERHEAD_BYTES = 21;

/** The smallest buffer a new batch starts with; it doubles as records arrive. */
const BATCH_CAPACITY_MIN = 16 * 1024;

/**
 * The default bufferBytesMax (Java's buffer.memory is 32 MB). Every record waiting for its
 * acknowledgement keeps a few objects alive (its delivery promise, and whatever callbacks the
 * application hung on it); when tens of thousands wait, they outlive V8's young-generation
 * collections and get copied and promoted, which cost a third of the CPU of a producer held
 * at a full 32 MiB buffer of 1 KiB records (against 8 MiB: 3.7 vs 2.5 µs per record, and no
 * less throughput against a broker on the same machine). 8 MiB is still about 30 batches of
 * the default size in flight or filling.
 */
const BUFFER_BYTES_DEFAULT = 8 * 1024 * 1024;

/** At most this many batch buffers are kept for reuse. */
const BUFFER_POOL_MAX = 16;

const PENDING = 0;
const DELIVERED = 1;
const FAILED = 2;
const SPLIT = 3;

/** flush()'s wait for a set of batches. */
interface FlushWaiter {
  remaining: number;
  resolve: () => void;
}

function noop(): void {}

class ProducerBatch {
  /** No more records may join (it is full, or it was sent once). */
  closed = false;
  attempts = 0;
  retryAt = 0;
  built: Buffer | null = null;
  lastError: unknown = null;
  /** Estimated bytes of the records, as reserved from the producer's buffer. */
  reservedBytes = 0;
  state = PENDING;
  baseOffset = -1n;
  logAppendTimeMs = -1;
  error: unknown = null;
  /** Records whose `delivered` promise exists and waits for this batch. */
  waiters: Waiters | null = null;
  flushWaiters: FlushWaiter[] | null = null;
  /** After a split: records below `splitAt` went to `first`, the rest to `second`. */
  splitAt = 0;
  first: ProducerBatch | null = null;
  second: ProducerBatch | null = null;

  constructor(
    readonly queue: PartitionQueue,
    /** Position in the partition's order; the halves of a split keep their parent's. */
    readonly seq: number,
    readonly createdAt: number,
    public records: RecordBuffer,
  ) {}
}

class PartitionQueue {
  /** Batches not sent yet (or waiting to be sent again), in order; only the last may be open. */
  batches: ProducerBatch[] = [];
  /** Batches sent and not yet answered, in the order sent. */
  inFlight: ProducerBatch[] = [];
  /** Failed in-flight batches waiting for the rest of the in-flight ones to come back. */
  returned: ProducerBatch[] | null = null;
  /** After a retry: one batch at a time until one succeeds. */
  cautious = false;
  nextSeq = 0;
  /** The buffer size a new batch starts with: what recent batches needed. */
  capacityHint = BATCH_CAPACITY_MIN;
  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}
}

/**
 * The records of a batch whose `delivered` promise exists, in parallel arrays: a record
 * waiting costs its promise and resolve function, and no object of its own.
 */
class Waiters {
  readonly resolve: Array<(value: RecordMetadata | PromiseLike<RecordMetadata>) => void> = [];
  readonly promise: Array<Promise<RecordMetadata>> = [];
  readonly index: number[] = [];
  /** Timestamp minus the batch's base timestamp (small integers, so stored unboxed). */
  readonly timestampDelta: number[] = [];

  add(resolve: (value: RecordMetadata | PromiseLike<RecordMetadata>) => void, promise: Promise<RecordMetadata>, index: number, timestampDelta: number): void {
    this.resolve.push(resolve);
    this.promise.push(promise);
    this.index.push(index);
    this.timestampDelta.push(timestampDelta);
  }
}

/** What `queue()` returns: a record's place in a batch; its promise is made when asked for. */
class RecordHandle implements QueuedRecord {
  private promise: Promise<RecordMetadata> | null = null;

  constructor(
    private batch: ProducerBatch,
    /** The record's offset delta in `batch`. */
    private index: number,
    /** Its timestamp minus the batch's base timestamp. */
    private readonly timestampDelta: number,
  ) {}

  get delivered(): Promise<RecordMetadata> {
    if (this.promise !== null) return this.promise;
    let batch = this.batch;
    let index = this.index;
    while (batch.state === SPLIT) {
      if (index < batch.splitAt) {
        batch = batch.first!;
      } else {
        index -= batch.splitAt;
        batch = batch.second!;
      }
    }
    this.batch = batch;
    this.index = index;
    if (batch.state === DELIVERED) {
      this.promise = Promise.resolve(metadataOf(batch, index, this.timestampDelta));
    } else if (batch.state === FAILED) {
      this.promise = rejected(batch.error);
    } else {
      // Only resolve is kept: a failure resolves it with a rejected promise.
      this.promise = new Promise<RecordMetadata>(captureResolve);
      (batch.waiters ??= new Waiters()).add(captured!, this.promise, index, this.timestampDelta);
      captured = null;
    }
    return this.promise;
  }
}

/** The resolve function of the promise just made with captureResolve (one shared executor, no closure per promise). */
let captured: ((value: RecordMetadata | PromiseLike<RecordMetadata>) => void) | null = null;

function captureResolve(resolve: (value: RecordMetadata | PromiseLike<RecordMetadata>) => void): void {
  captured = resolve;
}

/** A rejected promise already marked as handled: a failure nobody looks at must not crash the process. */
function rejected(error: unknown): Promise<never> {
  const p = Promise.reject(error);
  p.catch(noop);
  return p;
}

function metadataOf(batch: ProducerBatch, index: number, timestampDelta: number): RecordMetadata {
  return {
    topic: batch.queue.topic,
    partition: batch.queue.partition,
    offset: batch.baseOffset < 0n ? -1n : batch.baseOffset + BigInt(index),
    timestamp: batch.logAppendTimeMs >= 0 ? batch.logAppendTimeMs : batch.records.baseTimestamp + timestampDelta,
  };
}

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
  private readonly maxInFlight: number;
  private readonly retries: number;
  private readonly retryBackoffMs: number;
  private readonly retryBackoffMaxMs: number;
  private readonly partitioner: Partitioner;
  private readonly keySerializer: Serializer<K>;
  private readonly valueSerializer: Serializer<V>;
  private readonly allowAutoTopicCreation: boolean;

  private readonly queues = new Map<string, PartitionQueue>();
  /** The queues of the partitions of each topic, by partition index. */
  private readonly queuesByTopic = new Map<string, PartitionQueue[]>();
  private bufferedBytes = 0;
  /**
   * Buffers of exactly `batchBytes` from delivered batches, for the next batches: a busy
   * producer then allocates no new batch memory (fresh pages cost page faults, and external
   * memory makes V8 collect sooner) and its batches never grow (copy) as records arrive.
   */
  private readonly bufferPool: Buffer[] = [];
  private readonly bufferPoolMax: number;
  private readonly spaceWaiters: Array<{ bytes: number; resolve: () => void; reject: (e: unknown) => void; timer: NodeJS.Timeout }> = [];
  private drainTimer: NodeJS.Timeout | null = null;
  private drainTimerAt = Infinity;
  private draining = false;
  private drainAgain = false;
  private flushing = 0;
  private closing = false;
  private closed = false;
  private closePromise: Promise<void> | null = null;
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
    this.bufferBytesMax = options.bufferBytesMax ?? Math.max(BUFFER_BYTES_DEFAULT, 2 * this.batchBytes);
    this.requestBytesMax = options.requestBytesMax ?? 1024 * 1024;
    this.deliveryTimeoutMs = options.deliveryTimeoutMs ?? 120_000;
    this.maxBlockMs = options.maxBlockMs ?? 60_000;
    this.bufferPoolMax = Math.min(BUFFER_POOL_MAX, Math.ceil(this.bufferBytesMax / this.batchBytes));
    this.maxInFlight = options.maxInFlightPerPartition ?? 5;
    if (!Number.isInteger(this.maxInFlight) || this.maxInFlight < 1) throw new TypeError(`maxInFlightPerPartition must be a positive integer, not ${this.maxInFlight}`);
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
   *
   * When the buffer has room and the topic's metadata is cached the record is accepted at
   * once and the promise returned is already resolved.
   */
  queue(record: ProducerRecord<K, V>): Promise<QueuedRecord> {
    try {
      if (this.closing) throw new ClientClosedError('the producer');
      const topic = record.topic;
      const key = this.keySerializer.serialize(record.key as K, topic);
      const value = this.valueSerializer.serialize(record.value as V, topic);
      const headers = record.headers === undefined ? NO_HEADERS : toRecordHeaders(record.headers);
      const timestamp = toTimestamp(record.timestamp);
      let sizeBytes = RECORD_OVERHEAD_BYTES + (key?.length ?? 0) + (value?.length ?? 0);
      for (const h of headers) sizeBytes += 10 + Buffer.byteLength(h.key) + (h.value?.length ?? 0);
      if (sizeBytes + RECORD_BATCH_HEADER_BYTES > this.requestBytesMax || sizeBytes > this.bufferBytesMax) {
        throw new KafkaError(ErrorCode.MESSAGE_TOO_LARGE, `a record of ${sizeBytes} bytes exceeds requestBytesMax ${this.requestBytesMax} or bufferBytesMax ${this.bufferBytesMax}`, { topic });
      }
      if (this.spaceWaiters.length === 0 && this.bufferedBytes + sizeBytes <= this.bufferBytesMax) {
        const info = this.cluster.topic(topic);
        if (info !== undefined && (record.partition === undefined || record.partition < info.partitions.length)) {
          const partition = this.partitionFor(record, info, key, value?.length ?? 0);
          this.bufferedBytes += sizeBytes;
          return Promise.resolve(this.append(topic, partition, key, value, headers, timestamp, sizeBytes));
        }
      }
      return this.queueSlowly(record, key, value, headers, timestamp, sizeBytes);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** queue() when the record must wait: for buffer room, or for the topic's metadata. */
  private async queueSlowly(
    record: ProducerRecord<K, V>,
    key: Buffer | null,
    value: Buffer | null,
    headers: RecordHeader[],
    timestamp: number,
    sizeBytes: number,
  ): Promise<QueuedRecord> {
    const startedAt = Date.now();
    await this.reserve(sizeBytes);
    let partition: number;
    try {
      const topic = record.topic;
      let info = this.cluster.topic(topic);
      if (info === undefined || (record.partition !== undefined && record.partition >= info.partitions.length)) {
        const budget = Math.max(0, this.maxBlockMs - (Date.now() - startedAt));
        info = await this.waitForTopic(topic, budget);
      }
      partition = this.partitionFor(record, info, key, value?.length ?? 0);
      if (this.closed) throw new ClientClosedError('the producer');
    } catch (error) {
      this.release(sizeBytes);
      throw error;
    }
    return this.append(record.topic, partition, key, value, headers, timestamp, sizeBytes);
  }

  /** Sends everything buffered now, ignoring `lingerMs`, and resolves when all of it is settled. */
  async flush(): Promise<void> {
    let resolve!: () => void;
    const settled = new Promise<void>((r) => (resolve = r));
    const waiter: FlushWaiter = { remaining: 0, resolve };
    const wait = (batch: ProducerBatch): void => {
      (batch.flushWaiters ??= []).push(waiter);
      waiter.remaining++;
    };
    for (const queue of this.queues.values()) {
      for (const b of queue.batches) wait(b);
      for (const b of queue.inFlight) wait(b);
      if (queue.returned !== null) for (const b of queue.returned) wait(b);
    }
    if (waiter.remaining === 0) return;
    this.flushing++;
    try {
      this.scheduleDrain(0);
      await settled;
    } finally {
      this.flushing--;
    }
  }

  /**
   * Flushes, then closes the connections. Records sent after close start failing at once.
   * Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.closePromise ??= this.closeOnce();
    return this.closePromise;
  }

  private async closeOnce(): Promise<void> {
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
    if (this.spaceWaiters.length > 0) this.grantWaiters();
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

  private partitionFor(record: ProducerRecord<K, V>, info: TopicInfo, key: Buffer | null, valueBytes: number): number {
    const topic = record.topic;
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

  private queueFor(topic: string, partition: number): PartitionQueue {
    let byPartition = this.queuesByTopic.get(topic);
    if (byPartition === undefined) this.queuesByTopic.set(topic, (byPartition = []));
    const known = byPartition[partition];
    if (known !== undefined) return known;
    const key = partitionKey(topic, partition);
    let queue = this.queues.get(key);
    if (queue === undefined) {
      queue = new PartitionQueue(topic, partition);
      this.queues.set(key, queue);
    }
    byPartition[partition] = queue;
    return queue;
  }

  /** Writes the record into its partition's open batch (opening one if needed). */
  private append(topic: string, partition: number, key: Buffer | null, value: Buffer | null, headers: RecordHeader[], timestamp: number, sizeBytes: number): RecordHandle {
    const queue = this.queueFor(topic, partition);
    const batches = queue.batches;
    let batch = batches.length > 0 ? batches[batches.length - 1]! : undefined;
    if (
      batch === undefined ||
      batch.closed ||
      (batch.records.count > 0 && (batch.records.pos + sizeBytes > this.batchBytes || !batch.records.fitsTimestamp(timestamp)))
    ) {
      let delay = this.flushing > 0 ? 0 : this.lingerMs;
      if (batch !== undefined && !batch.closed) {
        // Full: it can go now, and the partition's next batch needs as much room.
        batch.closed = true;
        queue.capacityHint = this.batchBytes;
        delay = 0;
      }
      // A pooled buffer (batchBytes long) when there is one: then the batch never has to grow.
      const capacity = Math.max(RECORD_BATCH_HEADER_BYTES + sizeBytes, Math.min(queue.capacityHint, this.batchBytes));
      const pool = this.bufferPool;
      const records = new RecordBuffer(capacity, pool.length > 0 && pool[pool.length - 1]!.length >= capacity ? pool.pop() : undefined);
      batch = new ProducerBatch(queue, queue.nextSeq++, Date.now(), records);
      batches.push(batch);
      this.scheduleDrain(delay);
    } else if (this.flushing > 0) {
      this.scheduleDrain(0);
    }
    const index = batch.records.append(key, value, headers, timestamp, this.batchBytes);
    batch.reservedBytes += sizeBytes;
    if (batch.records.pos >= this.batchBytes) {
      batch.closed = true;
      queue.capacityHint = this.batchBytes;
      this.scheduleDrain(0);
    }
    return new RecordHandle(batch, index, timestamp - batch.records.baseTimestamp);
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

  /** When the partition's first waiting batch may be sent (Infinity: not now, for reasons a response will change). */
  private sendableAt(queue: PartitionQueue): number {
    const batch = queue.batches[0];
    if (batch === undefined || queue.returned !== null) return Infinity;
    if (queue.inFlight.length >= (queue.cautious ? 1 : this.maxInFlight)) return Infinity;
    const readyAt = batch.closed || this.flushing > 0 || this.closing ? 0 : batch.createdAt + this.lingerMs;
    return Math.max(readyAt, batch.retryAt);
  }

  private drainOnce(): void {
    const now = Date.now();
    const byLeader = new Map<number, PartitionQueue[]>();
    let nextWakeAt = Infinity;
    let needMetadata = false;
    for (const [key, queue] of this.queues) {
      if (queue.batches.length === 0) {
        if (queue.inFlight.length === 0 && queue.returned === null) {
          this.queues.delete(key);
          const byPartition = this.queuesByTopic.get(queue.topic);
          if (byPartition !== undefined && byPartition[queue.partition] === queue) delete byPartition[queue.partition];
        }
        continue;
      }
      this.expireBatches(queue, now);
      const sendAt = this.sendableAt(queue);
      if (sendAt === Infinity) continue;
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
      // Requests of at most one batch per partition and up to requestBytesMax (one batch at
      // least), as many as the partitions' ready batches and in-flight limits allow.
      for (;;) {
        let bytes = 0;
        const chosen: ProducerBatch[] = [];
        for (const queue of queues) {
          const at = this.sendableAt(queue);
          if (at > now) {
            // Its next batch is not ready yet (or the partition has enough in flight).
            if (at !== Infinity) nextWakeAt = Math.min(nextWakeAt, at);
            continue;
          }
          const batch = queue.batches[0]!;
          const size = batch.built?.length ?? batch.records.pos;
          if (chosen.length > 0 && bytes + size > this.requestBytesMax) continue;
          queue.batches.shift();
          if (!batch.closed) {
            batch.closed = true;
            // It went out before it filled: the next one probably needs about as much room.
            queue.capacityHint = Math.max(BATCH_CAPACITY_MIN, Math.min(this.batchBytes, batch.records.pos * 2));
          }
          queue.inFlight.push(batch);
          bytes += size;
          chosen.push(batch);
        }
        if (chosen.length === 0) break;
        void this.sendTo(leader, chosen);
      }
    }
    if (needMetadata) this.refreshMetadataSoon();
    if (nextWakeAt !== Infinity) this.scheduleDrain(Math.max(0, nextWakeAt - Date.now()));
  }

  /** Fails batches that have waited longer than the delivery timeout without being sent. */
  private expireBatches(queue: PartitionQueue, now: number): void {
    if (queue.returned !== null) return;
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

  private async sendTo(leader: number, batches: ProducerBatch[]): Promise<void> {
    let connection: BrokerConnection;
    let response: ProduceResponse | null = null;
    let version = 0;
    try {
      connection = await this.cluster.connectionTo(leader);
      version = connection.version(ProduceApi);
      for (const batch of batches) batch.built ??= await batch.records.build(this.codec, this.compressionLevel);
      // Produce v13 names topics by id; a topic whose id is unknown goes by name at v12.
      if (version >= 13 && batches.some((b) => (this.cluster.topic(b.queue.topic)?.topicId ?? ZERO_TOPIC_ID) === ZERO_TOPIC_ID)) version = 12;
      const request = this.buildRequest(batches, version);
      if (this.acks === 0) {
        await connection.send(ProduceApi, request, { version });
      } else {
        response = await connection.request(ProduceApi, request, { version, timeoutMs: this.cluster.requestTimeoutMs + 5000 });
      }
    } catch (error) {
      for (const batch of batches) this.completeBatch(batch, errorCodeOf(error), error, -1n, -1);
      this.afterResponse();
      return;
    }
    if (response === null) {
      for (const batch of batches) this.completeBatch(batch, ErrorCode.NONE, null, -1n, -1);
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
      for (const batch of batches) {
        const { topic, partition } = batch.queue;
        const r = results.get(partitionKey(topic, partition));
        if (r === undefined) {
          this.completeBatch(batch, ErrorCode.UNKNOWN_SERVER_ERROR, new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, 'the produce response left out a partition'), -1n, -1);
        } else if (r.errorCode !== ErrorCode.NONE) {
          this.completeBatch(batch, r.errorCode, new KafkaError(r.errorCode, undefined, { topic, partition, brokerMessage: r.errorMessage }), -1n, -1);
        } else {
          this.completeBatch(batch, ErrorCode.NONE, null, r.baseOffset, Number(r.logAppendTimeMs));
        }
      }
    }
    this.afterResponse();
  }

  private afterResponse(): void {
    this.scheduleDrain(0);
  }

  private buildRequest(batches: ProducerBatch[], version: number): ProduceRequest {
    const byTopic = new Map<string, Array<{ index: number; records: Buffer }>>();
    for (const batch of batches) {
      let list = byTopic.get(batch.queue.topic);
      if (list === undefined) byTopic.set(batch.queue.topic, (list = []));
      list.push({ index: batch.queue.partition, records: batch.built! });
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

  /** Settles an in-flight batch: delivered, retried, split or failed. */
  private completeBatch(batch: ProducerBatch, errorCode: number, error: unknown, baseOffset: bigint, logAppendTimeMs: number): void {
    const queue = batch.queue;
    const i = queue.inFlight.indexOf(batch);
    if (i >= 0) queue.inFlight.splice(i, 1);
    if (error === null) {
      queue.cautious = false;
      this.deliverBatch(batch, baseOffset, logAppendTimeMs);
      this.requeueReturned(queue);
      return;
    }
    batch.lastError = error;
    const count = batch.records.count;
    if ((errorCode === ErrorCode.MESSAGE_TOO_LARGE || errorCode === ErrorCode.RECORD_LIST_TOO_LARGE) && count > 1) {
      // The broker's limit is lower than batchBytes: halve the batch until it fits.
      const [first, second] = this.splitBatch(batch);
      (queue.returned ??= []).push(first, second);
      this.requeueReturned(queue);
      return;
    }
    const retriable = error instanceof KafkaError ? error.retriable : false;
    const now = Date.now();
    if (retriable && batch.attempts < this.retries && now - batch.createdAt < this.deliveryTimeoutMs && !this.closed) {
      batch.retryAt = now + backoffMs(batch.attempts, { initialBackoffMs: this.retryBackoffMs, maxBackoffMs: this.retryBackoffMaxMs });
      batch.attempts++;
      if (METADATA_ERRORS.has(errorCode)) this.refreshMetadataSoon();
      (queue.returned ??= []).push(batch);
      this.requeueReturned(queue);
      return;
    }
    this.failBatch(batch, error instanceof Error ? error : new KafkaError(errorCode, undefined, { topic: queue.topic, partition: queue.partition }));
    this.requeueReturned(queue);
  }

  /** Once nothing of the partition is in flight, failed batches go back to the head of its queue, in order. */
  private requeueReturned(queue: PartitionQueue): void {
    if (queue.returned === null || queue.inFlight.length > 0) return;
    const returned = queue.returned.sort((a, b) => a.seq - b.seq);
    queue.returned = null;
    queue.batches.unshift(...returned);
    queue.cautious = true;
  }

  private splitBatch(parent: ProducerBatch): [ProducerBatch, ProducerBatch] {
    const at = Math.ceil(parent.records.count / 2);
    const [a, b] = parent.records.split(at);
    const first = new ProducerBatch(parent.queue, parent.seq, parent.createdAt, a);
    const second = new ProducerBatch(parent.queue, parent.seq, parent.createdAt, b);
    for (const child of [first, second]) {
      child.closed = true;
      child.attempts = parent.attempts;
      child.lastError = parent.lastError;
    }
    first.reservedBytes = Math.floor((parent.reservedBytes * at) / parent.records.count);
    second.reservedBytes = parent.reservedBytes - first.reservedBytes;
    parent.state = SPLIT;
    parent.records.release();
    parent.built = null;
    parent.splitAt = at;
    parent.first = first;
    parent.second = second;
    const waiters = parent.waiters;
    if (waiters !== null) {
      parent.waiters = null;
      for (let i = 0; i < waiters.resolve.length; i++) {
        const index = waiters.index[i]!;
        if (index < at) (first.waiters ??= new Waiters()).add(waiters.resolve[i]!, waiters.promise[i]!, index, waiters.timestampDelta[i]!);
        else (second.waiters ??= new Waiters()).add(waiters.resolve[i]!, waiters.promise[i]!, index - at, waiters.timestampDelta[i]!);
      }
    }
    if (parent.flushWaiters !== null) {
      // Two batches now stand for the one flush() waits for.
      for (const w of parent.flushWaiters) w.remaining++;
      first.flushWaiters = parent.flushWaiters;
      second.flushWaiters = [...parent.flushWaiters];
      parent.flushWaiters = null;
    }
    return [first, second];
  }

  private deliverBatch(batch: ProducerBatch, baseOffset: bigint, logAppendTimeMs: number): void {
    batch.state = DELIVERED;
    batch.baseOffset = baseOffset;
    batch.logAppendTimeMs = logAppendTimeMs;
    // The broker answered, so the request was written out: its buffer can be used again.
    const buf = batch.records.buf;
    if (buf.length === this.batchBytes && this.bufferPool.length < this.bufferPoolMax) this.bufferPool.push(buf);
    const waiters = batch.waiters;
    if (waiters !== null) {
      batch.waiters = null;
      const { resolve, index, timestampDelta } = waiters;
      for (let i = 0; i < resolve.length; i++) resolve[i]!(metadataOf(batch, index[i]!, timestampDelta[i]!));
    }
    this.settled(batch);
  }

  private failBatch(batch: ProducerBatch, error: unknown): void {
    batch.state = FAILED;
    batch.error = error;
    const waiters = batch.waiters;
    if (waiters !== null) {
      batch.waiters = null;
      const failure = rejected(error);
      for (let i = 0; i < waiters.resolve.length; i++) {
        // Marked as handled first: a failure nobody looks at must not crash the process.
        waiters.promise[i]!.catch(noop);
        waiters.resolve[i]!(failure);
      }
    }
    this.settled(batch);
  }

  private settled(batch: ProducerBatch): void {
    // Handles the application keeps refer to the batch: they must not keep its memory.
    batch.records.release();
    batch.built = null;
    this.release(batch.reservedBytes);
    const flushWaiters = batch.flushWaiters;
    if (flushWaiters !== null) {
      batch.flushWaiters = null;
      for (const w of flushWaiters) if (--w.remaining === 0) w.resolve();
    }
  }
}

/** A record's timestamp as a number of milliseconds (now when not given). */
function toTimestamp(value: number | bigint | Date | undefined): number {
  if (value === undefined) return Date.now();
  const ms = value instanceof Date ? value.getTime() : typeof value === 'bigint' ? Number(value) : value;
  if (!Number.isSafeInteger(ms) || (typeof value === 'bigint' && BigInt(ms) !== value)) {
    throw new TypeError(`timestamp ${String(value)} is not an integer number of milliseconds within ±2^53`);
  }
  return ms;
}

function errorCodeOf(error: unknown): number {
  return error instanceof KafkaError ? error.code : ErrorCode.UNKNOWN_SERVER_ERROR;
}

// kafkajs (npm) against a Ferry broker process, in this process.
//
// Producing, topic creation, metadata and offset lookups use kafkajs's public API (Producer,
// Admin). Consuming cannot: kafkajs's only consumer is a group consumer (subscribe + run), and
// the broker has no consumer groups yet. So this file reads the way kafkajs's consumer does
// underneath, with kafkajs's own lower-level pieces from node_modules/kafkajs/src: a Cluster
// (connections, metadata, ListOffsets), Broker.fetch (kafkajs's Fetch request and response
// decoding, record batches and decompression included) and consumer/batch.js (which drops
// control records and records before the fetch offset). Only the group coordination is skipped.
//
// kafkajs ships gzip only; snappy and lz4 are registered as codec plugins from the
// devDependencies (kafkajs-snappy, lz4js). There is no pure-JS zstd compressor, so zstd batches
// are compressed with @mongodb-js/zstd (libzstd, a project dependency) and decompressed with the
// pure-JS fzstd: a real zstd frame either way.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { decompress as fzstdDecompress } from 'fzstd';
import kafkajs from 'kafkajs';
import type { Admin, Message, PartitionerArgs, Producer, RecordMetadata } from 'kafkajs';
import { ClientError, type CodecName, type ConsumedRecord, type DeliveryReport, type FerryProcess, type Header, PRODUCER_BATCH_BYTES, type TestMessage, sleep } from './harness.js';
import { type ClientMetadata, type ClientUnderTest, type Reader, type StartAt, defineClientSuite } from './suite.js';

const require = createRequire(import.meta.url);
const { Kafka, CompressionTypes, CompressionCodecs, Partitioners, logLevel } = kafkajs;

// ---- kafkajs internals used to read without a group (untyped CommonJS; minimal shapes) -------

interface KjsRecord {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | null | Array<Buffer | null>>;
  isControlRecord?: boolean;
}
interface KjsPartitionData {
  partition: number;
  errorCode: number;
  highWatermark: string;
  abortedTransactions: unknown[];
  messages: KjsRecord[];
}
interface KjsBroker {
  fetch(request: {
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; fetchOffset: string; maxBytes: number }> }>;
  }): Promise<{ responses: Array<{ topicName: string; partitions: KjsPartitionData[] }> }>;
}
interface KjsCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadata(): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(o: { nodeId: string }): Promise<KjsBroker>;
  fetchTopicsOffset(
    topics: Array<{ topic: string; partitions: Array<{ partition: number }>; fromBeginning?: boolean; fromTimestamp?: number }>,
  ): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>>;
}
interface KjsBatch {
  messages: KjsRecord[];
  messagesWithinOffset: KjsRecord[];
}

const KjsClusterClass = require('kafkajs/src/cluster') as new (options: Record<string, unknown>) => KjsCluster;
const { createLogger, LEVELS } = require('kafkajs/src/loggers') as {
  createLogger(o: { level: number; logCreator: unknown }): unknown;
  LEVELS: Record<string, number>;
};
const KjsLoggerConsole = require('kafkajs/src/loggers/console') as unknown;
const kjsSocketFactory = require('kafkajs/src/network/socketFactory') as () => unknown;
const KjsBatchClass = require('kafkajs/src/consumer/batch') as new (topic: string, fetchedOffset: string, partitionData: KjsPartitionData) => KjsBatch;
const KAFKAJS_VERSION = (JSON.parse(readFileSync(require.resolve('kafkajs/package.json'), 'utf8')) as { version: string }).version;
/** kafkajs's consumer default (src/consumer/index.js). */
const READ_COMMITTED = 1;

// ---- codecs ----------------------------------------------------------------------------------

interface KjsEncoder {
  buffer: Buffer;
}
const asBuffer = (u8: Uint8Array): Buffer => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
const lz4js = require('lz4js') as { compress(src: Uint8Array): Uint8Array; decompress(src: Uint8Array): Uint8Array };
const mongoZstd = require('@mongodb-js/zstd') as { compress(data: Buffer, level?: number): Promise<Buffer> };
const codecs = CompressionCodecs as unknown as Record<number, () => { compress(e: KjsEncoder): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> }>;
codecs[CompressionTypes.Snappy] = require('kafkajs-snappy') as () => { compress(e: KjsEncoder): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> };
codecs[CompressionTypes.LZ4] = () => ({
  compress: async (encoder) => asBuffer(lz4js.compress(encoder.buffer)),
  decompress: async (buffer) => asBuffer(lz4js.decompress(buffer)),
});
codecs[CompressionTypes.ZSTD] = () => ({
  compress: async (encoder) => mongoZstd.compress(encoder.buffer, 3),
  decompress: async (buffer) => asBuffer(fzstdDecompress(buffer)),
});
const COMPRESSION: Record<CodecName, number> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

// ---- headers: kafkajs's API is an object, duplicate keys merged into arrays ------------------

type KjsHeaders = Record<string, Buffer | null | Array<Buffer | null>>;

/** The same merge kafkajs's record decoder does (src/protocol/recordBatch/record/v0/decoder.js). */
function mergeHeaders(headers: Header[]): KjsHeaders {
  const out: KjsHeaders = {};
  for (const [k, v] of headers) {
    const cur = out[k];
    out[k] = cur === undefined ? v : Array.isArray(cur) ? [...cur, v] : [cur, v];
  }
  return out;
}

function splitHeaders(h: KjsHeaders | undefined): Header[] {
  const out: Header[] = [];
  for (const [k, v] of Object.entries(h ?? {})) {
    if (Array.isArray(v)) for (const x of v) out.push([k, x]);
    else out.push([k, v]);
  }
  return out;
}

/** Roughly what a message adds to a batch. */
function messageBytes(m: TestMessage): number {
  return 20 + (m.key?.length ?? 0) + (m.value?.length ?? 0) + m.headers.reduce((n, [k, v]) => n + 10 + Buffer.byteLength(k) + (v?.length ?? 0), 0);
}

function describeError(e: unknown): string {
  const parts: string[] = [];
  for (let x = e as (Error & { type?: string; code?: number; cause?: unknown; originalError?: unknown }) | undefined, depth = 0; x !== undefined && x !== null && depth < 5; depth++) {
    parts.push(`${x.name}${x.type === undefined ? '' : ` ${x.type}`}${x.code === undefined ? '' : ` (${x.code})`}: ${x.message}`);
    x = (x.originalError ?? x.cause) as typeof x;
  }
  return parts.join(' <- ');
}

// ---- the client ------------------------------------------------------------------------------

class KafkajsClient implements ClientUnderTest {
  readonly name = 'kafkajs';
  readonly id = 'kafkajs';
  readonly caps = {
    fixedHeaders: null,
    // kafkajs's producer cannot send a null header value (record/v0/index.js calls
    // Buffer.byteLength(header.value)); it decodes them.
    nullHeaderValues: false,
    emptyValues: true,
    explicitTimestamps: true,
    normalizeHeaders: mergeHeaders,
    createTopics: 'admin' as const,
    tooLarge: /MESSAGE_TOO_LARGE/,
    alreadyExists: /TOPIC_ALREADY_EXISTS/,
  };

  private producer: Producer | null = null;
  private admin: Admin | null = null;
  private cluster: KjsCluster | null = null;
  /** The partition kafkajs's own partitioner chose for each message object. */
  private readonly chosen = new WeakMap<object, number>();

  async open(ferry: FerryProcess): Promise<void> {
    const kafka = new Kafka({ clientId: 'ferry-compat-kafkajs', brokers: [ferry.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
    const chosen = this.chosen;
    // Wraps kafkajs's default partitioner only to see its choice (for the delivery check).
    const observed = () => {
      const inner = Partitioners.DefaultPartitioner();
      return (args: PartitionerArgs): number => {
        const p = inner(args);
        chosen.set(args.message, p);
        return p;
      };
    };
    this.producer = kafka.producer({ createPartitioner: observed, allowAutoTopicCreation: false });
    this.admin = kafka.admin();
    await this.producer.connect();
    await this.admin.connect();
    this.cluster = new KjsClusterClass({
      logger: createLogger({ level: LEVELS['NOTHING']!, logCreator: KjsLoggerConsole }),
      socketFactory: kjsSocketFactory(),
      brokers: [ferry.bootstrap],
      clientId: 'ferry-compat-kafkajs-reader',
      connectionTimeout: 3000,
      requestTimeout: 30000,
      enforceRequestTimeout: true,
      metadataMaxAge: 300000,
      allowAutoTopicCreation: false,
      maxInFlightRequests: null,
      isolationLevel: READ_COMMITTED,
      retry: { retries: 3 },
    });
    await this.cluster.connect();
  }

  async close(): Promise<void> {
    const tasks = [this.producer?.disconnect(), this.admin?.disconnect(), this.cluster?.disconnect()];
    this.producer = null;
    this.admin = null;
    this.cluster = null;
    await Promise.all(tasks);
  }

  async versionLines(): Promise<string[]> {
    return [`kafkajs ${KAFKAJS_VERSION} (Node.js ${process.version})`];
  }

  async codecs(): Promise<{ tested: CodecName[]; notes: string[] }> {
    return {
      tested: ['gzip', 'snappy', 'lz4', 'zstd'],
      notes: [
        'kafkajs: gzip built in; snappy via kafkajs-snappy, lz4 via lz4js (codec plugins);',
        'kafkajs: zstd has no pure-JS compressor: compressed with @mongodb-js/zstd (libzstd), decompressed with fzstd',
      ],
    };
  }

  private get p(): Producer {
    if (this.producer === null) throw new Error('kafkajs is not connected');
    return this.producer;
  }
  private get a(): Admin {
    if (this.admin === null) throw new Error('kafkajs is not connected');
    return this.admin;
  }
  private get c(): KjsCluster {
    if (this.cluster === null) throw new Error('kafkajs is not connected');
    return this.cluster;
  }

  async metadata(topic: string): Promise<ClientMetadata> {
    const cluster = await this.a.describeCluster();
    const md = await this.a.fetchTopicMetadata({ topics: [topic] });
    const t = md.topics.find((x) => x.name === topic);
    return {
      brokers: cluster.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port })),
      controllerId: cluster.controller,
      topic:
        t === undefined
          ? null
          : {
              errorCode: 0,
              partitions: t.partitions.map((p) => ({ partition: p.partitionId, leader: p.leader, replicas: p.replicas, isr: p.isr, errorCode: p.partitionErrorCode })),
            },
    };
  }

  async createTopic(topic: string, partitions: number): Promise<void> {
    let created: boolean;
    try {
      created = await this.a.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true, timeout: 10_000 });
    } catch (e) {
      throw new ClientError(describeError(e));
    }
    // kafkajs turns TOPIC_ALREADY_EXISTS into `false`.
    if (!created) throw new ClientError(`createTopics resolved false: TOPIC_ALREADY_EXISTS (${topic})`);
  }

  private toKafkajs(m: TestMessage): Message {
    const msg: Message = { key: m.key, value: m.value, headers: mergeHeaders(m.headers) as Message['headers'] };
    if (m.partition !== undefined) msg.partition = m.partition;
    if (m.timestamp !== undefined) msg.timestamp = String(m.timestamp);
    return msg;
  }

  async produce(topic: string, messages: TestMessage[], options: { compression?: CodecName } = {}): Promise<Array<DeliveryReport | null>> {
    const reports: Array<DeliveryReport | null> = [];
    // kafkajs puts everything a send() has for a partition into one batch: keep sends small
    // enough for the broker's max.message.bytes.
    for (let i = 0; i < messages.length; ) {
      let bytes = 0;
      let j = i;
      while (j < messages.length && (j === i || bytes + messageBytes(messages[j]!) <= PRODUCER_BATCH_BYTES)) bytes += messageBytes(messages[j++]!);
      const batch = messages.slice(i, j).map((m) => this.toKafkajs(m));
      i = j;
      let meta: RecordMetadata[];
      try {
        meta = await this.p.send({ topic, messages: batch, acks: -1, timeout: 30_000, compression: COMPRESSION[options.compression ?? 'none'] });
      } catch (e) {
        throw new ClientError(describeError(e));
      }
      // One RecordMetadata per partition: its baseOffset is the offset of the first message
      // this send put there; the others follow in order.
      const next = new Map(meta.map((r) => [r.partition, Number(r.baseOffset)]));
      for (const m of batch) {
        const p = this.chosen.get(m);
        const o = p === undefined ? undefined : next.get(p);
        if (p === undefined || o === undefined) {
          reports.push(null);
          continue;
        }
        reports.push({ partition: p, offset: o });
        next.set(p, o + 1);
      }
    }
    return reports;
  }

  async produceExpectingError(topic: string, messages: TestMessage[]): Promise<string> {
    try {
      const meta = await this.p.send({ topic, messages: messages.map((m) => this.toKafkajs(m)), acks: -1, timeout: 30_000 });
      throw new Error(`expected a refusal, but the broker accepted: ${JSON.stringify(meta)}`);
    } catch (e) {
      if (e instanceof Error && e.message.startsWith('expected a refusal')) throw e;
      return describeError(e);
    }
  }

  private async listOffsets(topic: string, partitions: number[], spec: { fromBeginning?: boolean; fromTimestamp?: number }): Promise<Map<number, number>> {
    await this.c.addTargetTopic(topic);
    const r = await this.c.fetchTopicsOffset([{ topic, partitions: partitions.map((partition) => ({ partition })), ...spec }]);
    return new Map(r[0]!.partitions.map((p) => [p.partition, Number(p.offset)]));
  }

  async openReader(topic: string, partitions: number[], start: StartAt): Promise<Reader> {
    const cluster = this.c;
    await cluster.addTargetTopic(topic);
    let startOffsets: Map<number, number>;
    if (start === 'earliest') startOffsets = await this.listOffsets(topic, partitions, { fromBeginning: true });
    else if (start === 'latest') startOffsets = await this.listOffsets(topic, partitions, { fromBeginning: false });
    else if ('offset' in start) startOffsets = new Map(partitions.map((p) => [p, start.offset]));
    else {
      // Seek by timestamp: ListOffsets for the timestamp (-1, no such record, means the end).
      const found = await this.listOffsets(topic, partitions, { fromTimestamp: start.timestamp });
      const ends = await this.listOffsets(topic, partitions, { fromBeginning: false });
      startOffsets = new Map(partitions.map((p) => [p, found.get(p)! >= 0 ? found.get(p)! : ends.get(p)!]));
    }
    const position = new Map(startOffsets);
    const fetchOnce = async (maxWaitTime: number): Promise<ConsumedRecord[]> => {
      const out: ConsumedRecord[] = [];
      const leaders = cluster.findLeaderForPartitions(topic, partitions);
      for (const [nodeId, ps] of Object.entries(leaders)) {
        const broker = await cluster.findBroker({ nodeId });
        const response = await broker.fetch({
          isolationLevel: READ_COMMITTED,
          maxWaitTime,
          minBytes: 1,
          maxBytes: 10 << 20,
          topics: [{ topic, partitions: ps.map((p) => ({ partition: p, fetchOffset: String(position.get(p)), maxBytes: 1 << 20 })) }],
        });
        for (const tr of response.responses) {
          for (const pd of tr.partitions) {
            const batch = new KjsBatchClass(topic, String(position.get(pd.partition)), pd);
            for (const m of batch.messages) {
              out.push({
                partition: pd.partition,
                offset: Number(m.offset),
                key: m.key,
                value: m.value,
                headers: splitHeaders(m.headers),
                timestamp: Number(m.timestamp),
              });
            }
            const within = batch.messagesWithinOffset;
            if (within.length > 0) position.set(pd.partition, Number(within[within.length - 1]!.offset) + 1);
          }
        }
      }
      return out;
    };
    return {
      positions: Array.from({ length: Math.max(...partitions) + 1 }, (_, p) => startOffsets.get(p) ?? 0),
      async readUntil(until: number[], timeoutMs: number): Promise<ConsumedRecord[]> {
        const deadline = Date.now() + timeoutMs;
        const out: ConsumedRecord[] = [];
        while (partitions.some((p) => position.get(p)! < (until[p] ?? 0))) {
          if (Date.now() > deadline) {
            throw new Error(`read ${out.length} records in ${timeoutMs} ms; positions ${JSON.stringify([...position])}, wanted ${JSON.stringify(until)}`);
          }
          out.push(...(await fetchOnce(200)));
        }
        return out;
      },
      async readFor(durationMs: number): Promise<ConsumedRecord[]> {
        const deadline = Date.now() + durationMs;
        const out: ConsumedRecord[] = [];
        while (Date.now() < deadline) {
          out.push(...(await fetchOnce(Math.max(10, Math.min(200, deadline - Date.now())))));
          await sleep(10);
        }
        return out;
      },
      async close(): Promise<void> {},
    };
  }

  async offsetForTime(topic: string, partition: number, ts: number): Promise<number | null> {
    // Admin API; kafkajs answers the high watermark when no record is that recent.
    const r = await this.a.fetchTopicOffsetsByTimestamp(topic, ts);
    const p = r.find((x) => x.partition === partition);
    if (p === undefined) throw new Error(`fetchTopicOffsetsByTimestamp: no partition ${partition}`);
    const o = Number(p.offset);
    return o < 0 ? null : o;
  }
}

defineClientSuite(new KafkajsClient());

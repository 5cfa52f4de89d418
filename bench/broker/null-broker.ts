// A calibration broker for `npm run bench:broker`: Ferry's own server, connection and codec
// layers (Broker, Connection, the generated Produce/Fetch codecs, ApiVersions, Metadata and
// ListOffsets as served by Ferry), with the storage path taken out:
// - Produce is a null sink: every partition's batch is acknowledged at once (fresh offsets
//   counted from its recordCount) and dropped, without validation, CRC or write.
// - Fetch, for the topic named by --memory-topic, is served from an in-memory copy of that
//   topic's segment files (read from --data-dir at start-up, which must then hold a cleanly
//   closed Ferry log of it): whole batches up to the partition's and the request's byte limits
//   (at least one, KIP-74), as subarrays of that copy: no file read, no CRC, no copy.
// A client driven against this process is limited by itself, loopback TCP and Ferry's network
// layer only, so its rate here bounds from below what the client can generate or absorb.
//
// Usage: node null-broker.js --data-dir DIR [--port 0] [--memory-topic NAME] [--name=value...]
// Prints `null broker listening on HOST:PORT`; SIGTERM stops it.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { startBroker } from '../../src/broker/broker.js';
import { handler, type ApiHandler } from '../../src/broker/handlers/handler.js';
import { HANDLERS } from '../../src/broker/handlers/index.js';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import {
  FetchApi,
  ProduceApi,
  type FetchResponseFetchableTopicResponse,
  type ProduceResponseTopicProduceResponse,
} from '../../src/protocol/messages/index.js';
import { BATCH_LENGTH_OFFSET, LAST_OFFSET_DELTA_OFFSET, LOG_OVERHEAD_BYTES, RECORD_BATCH_HEADER_BYTES, RECORD_COUNT_OFFSET } from '../../src/protocol/record-batch.js';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const dataDir = option('data-dir');
if (dataDir === undefined) {
  process.stderr.write('null-broker: --data-dir DIR is required\n');
  process.exit(2);
}
const memoryTopic = option('memory-topic');

// ---- Fetch from memory --------------------------------------------------------------------

interface MemoryBatches {
  /** Per batch: the buffer (one per segment file) and where the batch is in it. */
  files: Buffer[];
  file: Int32Array;
  position: Float64Array;
  size: Int32Array;
  baseOffset: Float64Array;
  lastOffset: Float64Array;
  count: number;
  endOffset: number;
}

/** Loads `<dataDir>/<topic>-<p>/*.log` of a cleanly closed log: whole batches, in order. */
function loadPartition(dir: string): MemoryBatches {
  const names = fs.readdirSync(dir).filter((n) => /^\d{20}\.log$/.test(n)).sort();
  const files: Buffer[] = [];
  const file: number[] = [];
  const position: number[] = [];
  const size: number[] = [];
  const baseOffset: number[] = [];
  const lastOffset: number[] = [];
  for (const name of names) {
    const buf = fs.readFileSync(join(dir, name));
    const fi = files.length;
    files.push(buf);
    let at = 0;
    while (buf.length - at >= RECORD_BATCH_HEADER_BYTES) {
      const n = buf.readInt32BE(at + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD_BYTES;
      if (n < RECORD_BATCH_HEADER_BYTES || at + n > buf.length) break;
      const base = Number(buf.readBigInt64BE(at));
      file.push(fi);
      position.push(at);
      size.push(n);
      baseOffset.push(base);
      lastOffset.push(base + buf.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET));
      at += n;
    }
  }
  const count = file.length;
  return {
    files,
    file: Int32Array.from(file),
    position: Float64Array.from(position),
    size: Int32Array.from(size),
    baseOffset: Float64Array.from(baseOffset),
    lastOffset: Float64Array.from(lastOffset),
    count,
    endOffset: count > 0 ? lastOffset[count - 1]! + 1 : 0,
  };
}

const memory = new Map<number, MemoryBatches>();
if (memoryTopic !== undefined) {
  const prefix = `${memoryTopic}-`;
  for (const name of fs.readdirSync(dataDir)) {
    if (!name.startsWith(prefix) || !/^\d+$/.test(name.slice(prefix.length))) continue;
    memory.set(Number(name.slice(prefix.length)), loadPartition(join(dataDir, name)));
  }
}

/** Whole batches from the one holding `offset`, within `limit` bytes (at least one batch). */
function readMemory(m: MemoryBatches, offset: number, limit: number, first: boolean): Buffer | null {
  let lo = 0;
  let hi = m.count - 1;
  let i = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (m.lastOffset[mid]! >= offset) {
      i = mid;
      hi = mid - 1;
    } else lo = mid + 1;
  }
  if (i < 0) return null;
  const f = m.file[i]!;
  const start = m.position[i]!;
  let end = start;
  for (let j = i; j < m.count && m.file[j] === f; j++) {
    const n = m.size[j]!;
    if (end - start + n > limit && !(end === start && first)) break;
    end += n;
  }
  return end > start ? m.files[f]!.subarray(start, end) : null;
}

const EMPTY = Buffer.alloc(0);

const memoryFetch = handler(FetchApi, 0, 12, async (_ctx, req) => {
  let remaining = req.maxBytes ?? 0x7fffffff;
  let total = 0;
  const responses: FetchResponseFetchableTopicResponse[] = req.topics.map((t) => ({
    topic: t.topic ?? '',
    partitions: t.partitions.map((p) => {
      const m = t.topic === memoryTopic ? memory.get(p.partition) : undefined;
      if (m === undefined) {
        return {
          partitionIndex: p.partition,
          errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          highWatermark: -1n,
          lastStableOffset: -1n,
          logStartOffset: -1n,
          abortedTransactions: null,
          preferredReadReplica: -1,
          records: EMPTY,
        };
      }
      const records = readMemory(m, Number(p.fetchOffset), Math.min(p.partitionMaxBytes, remaining), total === 0);
      if (records !== null) {
        total += records.length;
        remaining -= records.length;
      }
      return {
        partitionIndex: p.partition,
        errorCode: ErrorCode.NONE,
        highWatermark: BigInt(m.endOffset),
        lastStableOffset: BigInt(m.endOffset),
        logStartOffset: 0n,
        abortedTransactions: (req.isolationLevel ?? 0) === 1 ? [] : null,
        preferredReadReplica: -1,
        records: records ?? EMPTY,
      };
    }),
  }));
  if (total === 0 && req.maxWaitMs > 0) {
    // Nothing to send (at the end): wait as a long-polling broker would, briefly.
    await new Promise((r) => setTimeout(r, Math.min(req.maxWaitMs, 100)));
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses };
});

// ---- Produce to nowhere -----------------------------------------------------------------------

const nextOffsets = new Map<string, number>();

const nullProduce = handler(ProduceApi, 0, 11, async (_ctx, req) => {
  const responses: ProduceResponseTopicProduceResponse[] = req.topicData.map((t) => ({
    name: t.name ?? '',
    partitionResponses: t.partitionData.map((p) => {
      const key = `${t.name}-${p.index}`;
      const base = nextOffsets.get(key) ?? 0;
      const r = p.records;
      const records = r !== null && r.length >= RECORD_BATCH_HEADER_BYTES ? r.readInt32BE(RECORD_COUNT_OFFSET) : 1;
      nextOffsets.set(key, base + Math.max(1, records));
      return {
        index: p.index,
        errorCode: ErrorCode.NONE,
        baseOffset: BigInt(base),
        logAppendTimeMs: -1n,
        logStartOffset: 0n,
        recordErrors: [],
        errorMessage: null,
      };
    }),
  }));
  if (req.acks === 0) return null;
  return { responses, throttleTimeMs: 0 };
});

// ---- start ------------------------------------------------------------------------------------

if (!(HANDLERS instanceof Map)) throw new Error('null-broker: HANDLERS is no longer a Map; update bench/broker/null-broker.ts');
const handlers = HANDLERS as Map<number, ApiHandler<unknown, unknown>>;
handlers.set(ProduceApi.apiKey, nullProduce as unknown as ApiHandler<unknown, unknown>);
if (memoryTopic !== undefined) handlers.set(FetchApi.apiKey, memoryFetch as unknown as ApiHandler<unknown, unknown>);

const settingArgs = process.argv.slice(2).filter((a) => a.startsWith('--') && a.includes('='));
const broker = await startBroker({ port: Number(option('port') ?? 0), dataDir, argv: settingArgs });
process.stdout.write(`null broker listening on ${broker.host}:${broker.port}\n`);
const stop = (): void => {
  broker.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

/**
 * The workload shared by the crash test (crash.test.ts), its child process (crash-child.ts)
 * and the corruption tests: record batches whose every byte is a function of a sequence
 * number, and a checker that walks a log with read() and verifies every batch against it.
 *
 * A batch carries its sequence number in the baseSequence header field (producer id 4242),
 * so whoever reads it back can rebuild the exact bytes it must have (all but baseOffset,
 * which the log assigns) and compare.
 */
import { seededRng } from './memory-file-system.js';
import { BASE_SEQUENCE_OFFSET, LAST_OFFSET_DELTA_OFFSET, RECORD_BATCH_HEADER_BYTES, buildUncompressedRecordBatch, type RecordInput } from '../../src/protocol/record-batch.js';
import type { LogConfig } from '../../src/storage/log-config.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';

/** Small segments (rolls every ~35 batches), a dense index, and retention to keep the log small. */
export const CRASH_LOG_CONFIG: Partial<LogConfig> = {
  segmentBytes: 64 * 1024,
  indexIntervalBytes: 512,
  retentionBytes: 512 * 1024,
  retentionMs: -1,
  // The batches' timestamps are fixed (2023): with the default segment.ms every append would roll.
  segmentMs: Infinity,
};

export const WORKLOAD_PRODUCER_ID = 4242n;

/** A small seeded generator of numbers in [0, 1) (mulberry32, shared with the memory file system). */
export const rng = seededRng;

/** The largest batch batchForSeq makes is below this. */
export const WORKLOAD_BATCH_BYTES_MAX = 6 * (2000 + 40) + 61;

/** The batch for sequence number `seq` (baseOffset 0): 1-6 records of 0-2000 bytes each. */
export function batchForSeq(seq: number): Buffer {
  const r = rng(Math.imul(seq, 0x9e3779b1) ^ 0x5bd1e995);
  const count = 1 + Math.floor(r() * 6);
  const baseTimestamp = 1_700_000_000_000 + seq * 10;
  const records: RecordInput[] = [];
  for (let i = 0; i < count; i++) {
    const size = Math.floor(r() * r() * 2000);
    const value = Buffer.allocUnsafe(size);
    for (let k = 0; k < size; k++) value[k] = (r() * 256) | 0;
    records.push({ key: Buffer.from(`seq-${seq}-${i}`), value, timestamp: BigInt(baseTimestamp + i) });
  }
  return buildUncompressedRecordBatch({
    records,
    baseTimestamp: BigInt(baseTimestamp),
    producerId: WORKLOAD_PRODUCER_ID,
    producerEpoch: 0,
    baseSequence: seq,
  });
}

export function seqOf(batch: Buffer, at = 0): number {
  return batch.readInt32BE(at + BASE_SEQUENCE_OFFSET);
}

export interface WalkedBatch {
  baseOffset: number;
  lastOffset: number;
  seq: number;
}

export interface WalkResult {
  logStartOffset: number;
  logEndOffset: number;
  batches: WalkedBatch[];
}

/**
 * Reads the whole log from its start with read() and checks: every batch is exactly
 * batchForSeq(its sequence number) apart from its baseOffset, offsets are contiguous from
 * the log start to the log end, and sequence numbers increase strictly. Throws on the
 * first problem (with a message saying where).
 */
export async function walkAndVerify(
  log: PartitionLog,
  maxBytes = 256 * 1024,
  from = log.logStartOffset,
  /** Updated as the walk goes: the offset after the last batch verified so far. */
  progress: { offset: number } = { offset: from },
): Promise<WalkResult> {
  const start = log.logStartOffset;
  const end = log.logEndOffset;
  const batches: WalkedBatch[] = [];
  let offset = from;
  let prevSeq = -Infinity;
  let first = true;
  while (offset < end) {
    const r = await log.read(offset, maxBytes, end);
    if (r.bytes === 0) throw new Error(`read(${offset}) returned nothing below the log end ${end}`);
    let total = 0;
    for (const chunk of r.chunks) {
      total += chunk.length;
      let at = 0;
      while (at < chunk.length) {
        if (chunk.length - at < RECORD_BATCH_HEADER_BYTES) throw new Error(`read(${offset}) returned a torn batch header`);
        const size = chunk.readInt32BE(at + 8) + 12;
        if (size > chunk.length - at) throw new Error(`read(${offset}) returned a torn batch`);
        const batch = chunk.subarray(at, at + size);
        const base = Number(batch.readBigInt64BE(0));
        const last = base + batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET);
        if (first ? !(base <= offset && offset <= last) : base !== offset) {
          throw new Error(`batch at offset ${base}..${last} where ${offset} was expected (log ${start}..${end})`);
        }
        first = false;
        const seq = seqOf(batch);
        if (!(seq > prevSeq)) throw new Error(`sequence ${seq} at offset ${base} does not follow ${prevSeq}`);
        if (seq < 0) throw new Error(`batch at offset ${base} has sequence ${seq}`);
        const expected = batchForSeq(seq);
        if (expected.length !== batch.length || !expected.subarray(8).equals(batch.subarray(8))) {
          throw new Error(`batch at offset ${base} (sequence ${seq}) differs from what was appended`);
        }
        batches.push({ baseOffset: base, lastOffset: last, seq });
        prevSeq = seq;
        offset = last + 1;
        progress.offset = offset;
        at += size;
      }
    }
    if (total !== r.bytes) throw new Error(`read(${offset}) reported ${r.bytes} bytes for ${total}`);
    if (r.nextOffset !== offset) throw new Error(`read reported nextOffset ${r.nextOffset}, batches end at ${offset}`);
  }
  if (offset !== end) throw new Error(`batches end at ${offset}, the log at ${end}`);
  return { logStartOffset: start, logEndOffset: end, batches };
}

/**
 * One segment of a partition log: `<base offset, 20 digits>.log` holding magic-2 record
 * batches exactly as they were appended (after offset assignment), back to back, with its
 * offset and time indexes (see offset-index.ts). Offsets inside the storage engine are
 * JavaScript numbers: exact up to 2^53, which a log appending a million records a second
 * reaches after 285 years.
 */
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BATCH_LENGTH_OFFSET,
  CRC_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD_BYTES,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  RECORD_BATCH_HEADER_BYTES,
  RECORD_COUNT_OFFSET,
} from '../protocol/record-batch.js';
import { crc32c } from '../protocol/crc32c.js';
import type { FileSystem, StorageFile } from './file-system.js';
import { SegmentIndex } from './offset-index.js';

export const LOG_SUFFIX = '.log';
export const INDEX_SUFFIX = '.index';
export const TIME_INDEX_SUFFIX = '.timeindex';

export function segmentFileName(baseOffset: number, suffix: string): string {
  return `${String(baseOffset).padStart(20, '0')}${suffix}`;
}

/** Reads an int64 field that the engine treats as a safe integer. */
export function readOffset(buf: Buffer, at: number): number {
  const hi = buf.readInt32BE(at);
  const lo = buf.readUInt32BE(at + 4);
  // hi * 2^32 + lo is exact while the result is a safe integer, negative ones included.
  return hi * 0x1_0000_0000 + lo;
}

/** The header facts the engine needs about one batch, read at fixed offsets. */
export interface BatchFacts {
  baseOffset: number;
  lastOffset: number;
  sizeBytes: number;
  maxTimestamp: number;
  recordCount: number;
}

export function batchFacts(buf: Buffer, at = 0): BatchFacts {
  const baseOffset = readOffset(buf, at + BASE_OFFSET_OFFSET);
  return {
    baseOffset,
    lastOffset: baseOffset + buf.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET),
    sizeBytes: buf.readInt32BE(at + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD_BYTES,
    maxTimestamp: readOffset(buf, at + MAX_TIMESTAMP_OFFSET),
    recordCount: buf.readInt32BE(at + RECORD_COUNT_OFFSET),
  };
}

/** Why a batch on disk cannot be trusted, or null when it checks out. */
export function batchProblem(buf: Buffer, at: number, available: number, expectedBaseOffset: number | null, checkCrc = true): string | null {
  if (available < RECORD_BATCH_HEADER_BYTES) return `torn batch header (${available} bytes)`;
  const size = buf.readInt32BE(at + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD_BYTES;
  if (size < RECORD_BATCH_HEADER_BYTES) return `batch length ${size} below the header size`;
  if (size > available) return `torn batch: ${size} bytes declared, ${available} present`;
  if (buf[at + MAGIC_OFFSET] !== 2) return `magic ${buf[at + MAGIC_OFFSET]} is not 2`;
  const lastOffsetDelta = buf.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
  if (lastOffsetDelta < 0) return `negative lastOffsetDelta ${lastOffsetDelta}`;
  const base = readOffset(buf, at + BASE_OFFSET_OFFSET);
  if (expectedBaseOffset !== null && base !== expectedBaseOffset) return `base offset ${base}, expected ${expectedBaseOffset}`;
  if (checkCrc && crc32c(buf.subarray(at + ATTRIBUTES_OFFSET, at + size)) !== buf.readUInt32BE(at + CRC_OFFSET)) {
    return `CRC mismatch at base offset ${base}`;
  }
  return null;
}

export interface ScanResult {
  /** Bytes from the start of the segment that hold valid batches. */
  validBytes: number;
  nextOffset: number;
  maxTimestamp: number;
  firstBatchMaxTimestamp: number;
  index: SegmentIndex;
  /** Why the scan stopped before the end of the file, or null. */
  stopReason: string | null;
  batches: number;
}

/** Bytes read at a time during a scan; a larger batch is read whole. */
const SCAN_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * Scans a segment from its start, checking every batch's length, magic, offsets and CRC,
 * and rebuilding its indexes. Stops at the first batch that is torn or does not check out.
 */
export async function scanSegment(file: StorageFile, baseOffset: number, fileBytes: number, indexIntervalBytes: number): Promise<ScanResult> {
  const index = new SegmentIndex();
  let chunk: Buffer = Buffer.alloc(0);
  let chunkStart = 0;
  let position = 0;
  let nextOffset = baseOffset;
  let maxTimestamp = -1;
  let firstBatchMaxTimestamp = -1;
  let bytesSinceIndex = Infinity;
  let batches = 0;
  let stopReason: string | null = null;
  while (position < fileBytes) {
    let at = position - chunkStart;
    // Make sure the whole header is in the chunk, then the whole batch.
    if (chunk.length - at < RECORD_BATCH_HEADER_BYTES) {
      chunk = await readAt(file, position, Math.min(SCAN_CHUNK_BYTES, fileBytes - position));
      chunkStart = position;
      at = 0;
    }
    if (chunk.length - at >= RECORD_BATCH_HEADER_BYTES) {
      const size = chunk.readInt32BE(at + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD_BYTES;
      if (size > chunk.length - at && size <= fileBytes - position && size >= RECORD_BATCH_HEADER_BYTES) {
        chunk = await readAt(file, position, Math.max(size, Math.min(SCAN_CHUNK_BYTES, fileBytes - position)));
        chunkStart = position;
        at = 0;
      }
    }
    const problem = batchProblem(chunk, at, Math.min(chunk.length - at, fileBytes - position), nextOffset);
    if (problem !== null) {
      stopReason = `${problem} at position ${position}`;
      break;
    }
    const facts = batchFacts(chunk, at);
    if (bytesSinceIndex >= indexIntervalBytes) {
      index.addOffset(facts.baseOffset - baseOffset, position);
      bytesSinceIndex = 0;
    }
    bytesSinceIndex += facts.sizeBytes;
    if (facts.maxTimestamp > maxTimestamp) {
      maxTimestamp = facts.maxTimestamp;
      index.addTime(maxTimestamp, facts.baseOffset - baseOffset);
    }
    if (batches === 0) firstBatchMaxTimestamp = facts.maxTimestamp;
    batches++;
    nextOffset = facts.lastOffset + 1;
    position += facts.sizeBytes;
  }
  return { validBytes: position, nextOffset, maxTimestamp, firstBatchMaxTimestamp, index, stopReason, batches };
}

export async function readAt(file: StorageFile, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  const n = await file.read(buf, 0, length, position);
  return n === length ? buf : buf.subarray(0, n);
}

/** A segment's state in memory. The active (last) segment is the only one written to. */
export class LogSegment {
  file: StorageFile | null = null;
  /** Bytes of complete, written batches: reads never go past this. */
  size = 0;
  nextOffset: number;
  maxTimestamp = -1;
  firstBatchMaxTimestamp = -1;
  /** When the segment was created or recovered, for segment.ms when timestamps are absent. */
  createdAtMs: number;
  /** Loaded for the active segment and on demand for sealed ones (bounded by an LRU). */
  index: SegmentIndex | null = null;
  bytesSinceIndexEntry = Infinity;
  /**
   * Bytes from the start whose batches passed a CRC check in this process: appended after
   * validation, scanned at recovery, or read and checked once. Reads re-check only past it.
   */
  verifiedBytes = 0;
  /** Written bytes not yet fdatasync'ed. */
  unsynced = false;
  /** The directory entry of this file is not yet durable. */
  dirEntryUnsynced = false;
  /** Reads in progress, so the file is not closed under them. */
  readers = 0;
  deleted = false;
  lastUsedMs = 0;
  /** fdatasyncs of the file, one at a time; after one fails every later one fails too. */
  private syncChain: Promise<void> = Promise.resolve();

  constructor(
    readonly fs: FileSystem,
    readonly dir: string,
    readonly baseOffset: number,
    nowMs: number,
  ) {
    this.nextOffset = baseOffset;
    this.createdAtMs = nowMs;
  }

  get logPath(): string {
    return `${this.dir}/${segmentFileName(this.baseOffset, LOG_SUFFIX)}`;
  }

  get indexPath(): string {
    return `${this.dir}/${segmentFileName(this.baseOffset, INDEX_SUFFIX)}`;
  }

  get timeIndexPath(): string {
    return `${this.dir}/${segmentFileName(this.baseOffset, TIME_INDEX_SUFFIX)}`;
  }

  get isEmpty(): boolean {
    return this.size === 0;
  }

  /**
   * fdatasync of the file, after any still running (the roll and the group commit both sync
   * the active segment). A sync that starts after one failed fails too: after a writeback
   * error Linux may report success for data that was never written.
   */
  datasync(): Promise<void> {
    const file = this.file!;
    this.syncChain = this.syncChain.then(() => file.datasync());
    return this.syncChain;
  }

  /** Records a batch written at `position` in the in-memory index. */
  noteBatch(facts: BatchFacts, position: number, indexIntervalBytes: number): void {
    const index = this.index!;
    if (this.bytesSinceIndexEntry >= indexIntervalBytes) {
      index.addOffset(facts.baseOffset - this.baseOffset, position);
      this.bytesSinceIndexEntry = 0;
    }
    this.bytesSinceIndexEntry += facts.sizeBytes;
    if (facts.maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = facts.maxTimestamp;
      index.addTime(facts.maxTimestamp, facts.baseOffset - this.baseOffset);
    }
    if (this.size === 0 && position === 0) this.firstBatchMaxTimestamp = facts.maxTimestamp;
  }

  /** Writes the in-memory indexes to their files (on roll and clean shutdown). */
  async writeIndexes(): Promise<void> {
    const index = this.index;
    if (index === null) return;
    for (const [path, data] of [
      [this.indexPath, index.encodeOffsets()],
      [this.timeIndexPath, index.encodeTimes()],
    ] as const) {
      const f = await this.fs.open(path, true);
      try {
        await f.truncate(0);
        if (data.length > 0) await f.writev([data], 0);
        await f.datasync();
      } finally {
        await f.close();
      }
    }
  }
}

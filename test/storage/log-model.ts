/**
 * Helpers for the model-based tests of PartitionLog (partition-log.model.test.ts):
 *
 * - `Process`: a FileSystem wrapper standing for one broker process. After `kill()` (a
 *   simulated power loss), every call through it, and every result of a call made before,
 *   never settles, so the abandoned PartitionLog instance freezes exactly where it was and
 *   cannot touch the file system that the next "process" recovers.
 * - `LogModel`: what the log must contain: the batches in append order with their bytes,
 *   record timestamps and offsets, the log start, and the durability floors the engine
 *   promised (acknowledged durable appends, completed flushes, its durableOffset).
 * - Batch building from generated specs, and the checks of read results against the model.
 */
import assert from 'node:assert/strict';
import { CompressionCodec } from '../../src/protocol/compression.js';
import { RecordBatchView, buildRecordBatch, buildUncompressedRecordBatch, type RecordInput } from '../../src/protocol/record-batch.js';
import type { FileSystem, StorageFile } from '../../src/storage/file-system.js';
import type { ReadResult } from '../../src/storage/partition-log.js';

// ---- processes ---------------------------------------------------------------------------------

const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

export class Process {
  alive = true;
  readonly fs: FileSystem;

  constructor(inner: FileSystem) {
    const gate = <T>(call: () => Promise<T>): Promise<T> => {
      if (!this.alive) return never<T>();
      return call().then(
        (v) => (this.alive ? v : never<T>()),
        (e: unknown) => (this.alive ? Promise.reject(e) : never<T>()),
      );
    };
    const file = (f: StorageFile): StorageFile => ({
      read: (buf, offset, length, position) => gate(() => f.read(buf, offset, length, position)),
      writev: (buffers, position) => gate(() => f.writev(buffers, position)),
      datasync: () => gate(() => f.datasync()),
      truncate: (length) => gate(() => f.truncate(length)),
      size: () => gate(() => f.size()),
      close: () => gate(() => f.close()),
    });
    this.fs = {
      open: (path, create) => gate(() => inner.open(path, create).then(file)),
      readFile: (path) => gate(() => inner.readFile(path)),
      stat: (path) => gate(() => inner.stat(path)),
      readdir: (path) => gate(() => inner.readdir(path)),
      mkdir: (path) => gate(() => inner.mkdir(path)),
      rename: (from, to) => gate(() => inner.rename(from, to)),
      unlink: (path) => gate(() => inner.unlink(path)),
      removeDir: (path) => gate(() => inner.removeDir(path)),
      syncDir: (path) => gate(() => inner.syncDir(path)),
    };
  }

  kill(): void {
    this.alive = false;
  }
}

/** Lets `n` rounds of microtasks run (the in-memory file system completes its calls in one). */
export async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

/** Runs every pending microtask: nothing in the engine waits on timers or real I/O here. */
export async function settle(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  await new Promise<void>((resolve) => setImmediate(resolve));
}

// ---- batches ---------------------------------------------------------------------------------

export interface RecordSpec {
  /** Key length, or null for a null key. */
  key: number | null;
  value: number | null;
  /** Timestamp relative to the batch's base timestamp (so records may be out of order). */
  tsDelta: number;
  /** The record carries timestamp -1 (no timestamp). */
  noTimestamp: boolean;
  header: boolean;
}

export interface BatchSpec {
  records: RecordSpec[];
  /** The batch's base timestamp relative to the clock when the batch is built. */
  tsBase: number;
  gzip: boolean;
  fill: number;
}

export interface BuiltBatch {
  buf: Buffer;
  timestamps: number[];
  maxTimestamp: number;
}

/** Sentinel base offset: an append that assigns no offset leaves it in place. */
export const UNASSIGNED = -1n;

export async function buildBatch(spec: BatchSpec, nowMs: number): Promise<BuiltBatch> {
  const base = nowMs + spec.tsBase;
  let n = spec.fill;
  const bytes = (len: number | null): Buffer | null => {
    if (len === null) return null;
    const b = Buffer.allocUnsafe(len);
    for (let i = 0; i < len; i++) b[i] = (n = (n * 31 + 7) & 0xff);
    return b;
  };
  const timestamps = spec.records.map((r) => (r.noTimestamp ? -1 : base + r.tsDelta));
  const records: RecordInput[] = spec.records.map((r, i) => ({
    key: bytes(r.key),
    value: bytes(r.value),
    timestamp: BigInt(timestamps[i]!),
    ...(r.header ? { headers: [{ key: 'h', value: bytes(3) }] } : {}),
  }));
  const input = { records, baseOffset: UNASSIGNED, baseTimestamp: BigInt(timestamps[0]!) };
  const buf = spec.gzip ? await buildRecordBatch({ ...input, compression: CompressionCodec.Gzip }) : buildUncompressedRecordBatch(input);
  const maxTimestamp = Math.max(...timestamps);
  assert.equal(Number(new RecordBatchView(buf, 0).maxTimestamp), maxTimestamp);
  return { buf, timestamps, maxTimestamp };
}

// ---- the model ---------------------------------------------------------------------------------

export interface ModelBatch {
  base: number;
  last: number;
  /** The bytes as appended, with the assigned base offset. */
  bytes: Buffer;
  timestamps: number[];
  maxTimestamp: number;
}

export class LogModel {
  /** Contiguous batches, from the first segment's base (older ones were deleted) to `end`. */
  batches: ModelBatch[] = [];
  /** Batches deleted by retention, oldest first, just below `batches`. */
  archive: ModelBatch[] = [];
  /** The offset the next append gets (includes appends not yet acknowledged, or that failed). */
  end = 0;
  logStart = 0;
  /** Every batch below this must survive any crash (durable acks, flushes, durableOffset, open). */
  durable = 0;
  /** Every batch below this was written (acknowledged appends): survives a restart without crash. */
  written = 0;
  /** Segment bases that may follow a segment that is not full (rolled by retention). */
  readonly shortBoundaries = new Set<number>();

  constructor(start = 0) {
    this.end = start;
    this.logStart = start;
  }

  add(b: ModelBatch): void {
    assert.equal(b.base, this.end, 'offsets are assigned contiguously');
    this.batches.push(b);
    this.end = b.last + 1;
  }

  /** Index of the batch containing `offset`, or -1. */
  indexOf(offset: number): number {
    let lo = 0;
    let hi = this.batches.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const b = this.batches[mid]!;
      if (b.last < offset) lo = mid + 1;
      else if (b.base > offset) hi = mid - 1;
      else return mid;
    }
    return -1;
  }

  get firstOffset(): number {
    return this.batches.length > 0 ? this.batches[0]!.base : this.end;
  }

  /** Drops batches below `offset` (a batch boundary: the first segment's base), keeping them in the archive. */
  dropBelow(offset: number): void {
    const i = offset >= this.end ? this.batches.length : this.indexOf(offset);
    assert.ok(i >= 0 && (i === this.batches.length || this.batches[i]!.base === offset), `segment base ${offset} is not a batch boundary`);
    this.archive.push(...this.batches.slice(0, i));
    if (this.archive.length > 500) this.archive = this.archive.slice(-500);
    this.batches = this.batches.slice(i);
  }

  /**
   * Brings back the deleted batches from `offset` on (segments whose deletion a crash undid);
   * false when they are not the ones just below the first batch.
   */
  restoreFrom(offset: number): boolean {
    const i = this.archive.findIndex((b) => b.base === offset);
    if (i < 0 || this.archive[this.archive.length - 1]!.last + 1 !== this.firstOffset) return false;
    this.batches = [...this.archive.slice(i), ...this.batches];
    this.archive = this.archive.slice(0, i);
    return true;
  }

  /** Drops every batch at or after `end`, which must be a batch boundary. */
  truncate(end: number): void {
    if (end >= this.end) {
      assert.equal(end, this.end);
      return;
    }
    const i = end < this.firstOffset ? 0 : this.indexOf(end);
    assert.ok(end <= this.firstOffset || (i >= 0 && this.batches[i]!.base === end), `truncation point ${end} is not a batch boundary`);
    this.batches = this.batches.slice(0, i);
    this.end = end;
    this.durable = Math.min(this.durable, end);
    this.written = Math.min(this.written, end);
  }

  bytesFrom(offset: number): number {
    let n = 0;
    for (const b of this.batches) if (b.base >= offset) n += b.bytes.length;
    return n;
  }

  /** Byte size, largest batch max timestamp and first batch size of the segment [base, next). */
  segmentFacts(base: number, next: number): { size: number; maxTimestamp: number; batches: number; firstSize: number } {
    let size = 0;
    let maxTimestamp = -1;
    let batches = 0;
    let firstSize = 0;
    let i = base >= this.end ? this.batches.length : this.indexOf(base);
    assert.ok(i >= 0, `segment base ${base} not in the model`);
    for (; i < this.batches.length && this.batches[i]!.base < next; i++) {
      const b = this.batches[i]!;
      if (batches === 0) firstSize = b.bytes.length;
      size += b.bytes.length;
      maxTimestamp = Math.max(maxTimestamp, b.maxTimestamp);
      batches++;
    }
    return { size, maxTimestamp, batches, firstSize };
  }

  /** The first record at or after the log start whose timestamp is ≥ t. */
  offsetForTimestamp(t: number): { offset: number; timestamp: number } | null {
    for (const b of this.batches) {
      if (b.last < this.logStart || b.maxTimestamp < t) continue;
      for (let k = 0; k < b.timestamps.length; k++) {
        const offset = b.base + k;
        if (offset >= this.logStart && b.timestamps[k]! >= t) return { offset, timestamp: b.timestamps[k]! };
      }
    }
    return null;
  }
}

/**
 * Checks a read result: whole batches equal (byte for byte) to the model's, the first one
 * containing `offset`, contiguous, within `maxBytes` unless there is only one, all below
 * `limitEnd`; empty exactly when `offset >= limitEnd`.
 */
export function checkReadResult(model: LogModel, offset: number, maxBytes: number, limitEnd: number, r: ReadResult, what: string): void {
  if (offset >= limitEnd) {
    assert.deepEqual({ chunks: r.chunks.length, bytes: r.bytes, nextOffset: r.nextOffset }, { chunks: 0, bytes: 0, nextOffset: offset }, `${what}: empty at the end`);
    return;
  }
  assert.ok(r.chunks.length > 0, `${what}: at least one batch below ${limitEnd}`);
  let expectIndex = model.indexOf(offset);
  assert.ok(expectIndex >= 0, `${what}: model has offset ${offset}`);
  let bytes = 0;
  let count = 0;
  let next = -1;
  for (const chunk of r.chunks) {
    let at = 0;
    while (at < chunk.length) {
      const view = new RecordBatchView(chunk, at);
      const size = view.sizeBytes;
      const base = Number(view.baseOffset);
      const expected = model.batches[expectIndex];
      assert.ok(expected !== undefined, `${what}: batch at ${base} is past the model's end ${model.end}`);
      assert.equal(base, expected.base, `${what}: batch ${count} base offset`);
      assert.ok(base < limitEnd, `${what}: batch ${base} is at or past the read limit ${limitEnd}`);
      assert.ok(chunk.subarray(at, at + size).equals(expected.bytes), `${what}: bytes of batch ${base} differ`);
      if (count === 0) assert.ok(base <= offset && offset <= expected.last, `${what}: first batch ${base}..${expected.last} does not contain ${offset}`);
      next = expected.last + 1;
      bytes += size;
      at += size;
      count++;
      expectIndex++;
    }
  }
  assert.equal(r.bytes, bytes, `${what}: bytes`);
  assert.equal(r.nextOffset, next, `${what}: nextOffset`);
  if (count > 1) assert.ok(bytes <= maxBytes, `${what}: ${count} batches, ${bytes} bytes > maxBytes ${maxBytes}`);
}

/** Maps a fraction onto [lo, hi] (integers), so generated operations stay meaningful after shrinking. */
export function pick(fraction: number, lo: number, hi: number): number {
  if (hi <= lo) return lo;
  return Math.min(hi, lo + Math.floor(fraction * (hi - lo + 1)));
}

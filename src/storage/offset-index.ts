/**
 * Sparse indexes of one segment.
 *
 * Offset index, `<base offset, 20 digits>.index`: 8-byte entries, no header.
 *
 *   relativeOffset  uint32  batch base offset minus the segment's base offset
 *   position        uint32  byte position of that batch in the segment's .log file
 *
 * Time index, `<base offset, 20 digits>.timeindex`: 12-byte entries, no header.
 *
 *   timestamp       int64   the largest batch max timestamp in the segment so far
 *   relativeOffset  uint32  base offset (relative) of the batch that reached it
 *
 * An entry is added for the first batch of a segment and then after every
 * `index.interval.bytes` of log, so lookups narrow the search to a few KiB that are then
 * scanned batch by batch. Time entries are added only when the largest timestamp grows, so
 * both columns increase strictly. Both files are derived data: recovery rebuilds them from
 * the log whenever they are missing or fail the sanity checks below.
 */

export const OFFSET_ENTRY_BYTES = 8;
export const TIME_ENTRY_BYTES = 12;

/** An index held in memory: the active segment's (growing) or a loaded sealed one's. */
export class SegmentIndex {
  private offsets: Uint32Array;
  private positions: Uint32Array;
  private timestamps: Float64Array;
  private timeOffsets: Uint32Array;
  offsetCount = 0;
  timeCount = 0;

  constructor(capacity = 64) {
    this.offsets = new Uint32Array(capacity);
    this.positions = new Uint32Array(capacity);
    this.timestamps = new Float64Array(capacity);
    this.timeOffsets = new Uint32Array(capacity);
  }

  /** Bytes this index occupies on disk (offset + time files). */
  get fileBytes(): number {
    return this.offsetCount * OFFSET_ENTRY_BYTES + this.timeCount * TIME_ENTRY_BYTES;
  }

  /** Bytes of memory held. */
  get memoryBytes(): number {
    return this.offsets.length * 8 + this.timestamps.length * 12;
  }

  get lastPosition(): number {
    return this.offsetCount === 0 ? -1 : this.positions[this.offsetCount - 1]!;
  }

  get lastTimestamp(): number {
    return this.timeCount === 0 ? -Infinity : this.timestamps[this.timeCount - 1]!;
  }

  addOffset(relativeOffset: number, position: number): void {
    if (this.offsetCount > 0 && (relativeOffset <= this.offsets[this.offsetCount - 1]! || position <= this.positions[this.offsetCount - 1]!)) {
      throw new Error(`offset index entries must increase: ${relativeOffset}@${position}`);
    }
    if (this.offsetCount === this.offsets.length) {
      this.offsets = grow(this.offsets);
      this.positions = grow(this.positions);
    }
    this.offsets[this.offsetCount] = relativeOffset;
    this.positions[this.offsetCount] = position;
    this.offsetCount++;
  }

  addTime(timestamp: number, relativeOffset: number): void {
    if (this.timeCount > 0 && timestamp <= this.timestamps[this.timeCount - 1]!) return;
    if (this.timeCount === this.timestamps.length) {
      this.timestamps = growF(this.timestamps);
      this.timeOffsets = grow(this.timeOffsets);
    }
    this.timestamps[this.timeCount] = timestamp;
    this.timeOffsets[this.timeCount] = relativeOffset;
    this.timeCount++;
  }

  /**
   * The last entry whose relative offset is ≤ relativeOffset, or {0, 0}: where to start
   * looking for that offset, and the relative base offset the batch there must have.
   */
  entryFor(relativeOffset: number): { relativeOffset: number; position: number } {
    let lo = 0;
    let hi = this.offsetCount - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.offsets[mid]! <= relativeOffset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? { relativeOffset: 0, position: 0 } : { relativeOffset: this.offsets[found]!, position: this.positions[found]! };
  }

  /** Position of the last indexed batch whose base offset is ≤ relativeOffset, or 0. */
  positionFor(relativeOffset: number): number {
    return this.entryFor(relativeOffset).position;
  }

  /**
   * Relative offset of a batch from which a forward scan finds the first record with
   * timestamp ≥ t: the batch of the last entry whose timestamp is < t (every batch before
   * it has smaller timestamps), or 0.
   */
  scanStartForTimestamp(t: number): number {
    let lo = 0;
    let hi = this.timeCount - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timestamps[mid]! < t) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? 0 : this.timeOffsets[found]!;
  }

  /** Drops entries at or after the given relative offset (truncation). */
  truncateFrom(relativeOffset: number): void {
    while (this.offsetCount > 0 && this.offsets[this.offsetCount - 1]! >= relativeOffset) this.offsetCount--;
    while (this.timeCount > 0 && this.timeOffsets[this.timeCount - 1]! >= relativeOffset) this.timeCount--;
  }

  encodeOffsets(): Buffer {
    const buf = Buffer.allocUnsafe(this.offsetCount * OFFSET_ENTRY_BYTES);
    for (let i = 0; i < this.offsetCount; i++) {
      buf.writeUInt32BE(this.offsets[i]!, i * 8);
      buf.writeUInt32BE(this.positions[i]!, i * 8 + 4);
    }
    return buf;
  }

  encodeTimes(): Buffer {
    const buf = Buffer.allocUnsafe(this.timeCount * TIME_ENTRY_BYTES);
    for (let i = 0; i < this.timeCount; i++) {
      buf.writeBigInt64BE(BigInt(this.timestamps[i]!), i * 12);
      buf.writeUInt32BE(this.timeOffsets[i]!, i * 12 + 8);
    }
    return buf;
  }

  /**
   * Loads index files, or returns null when they fail the sanity checks: whole entries,
   * strictly increasing columns, positions inside the segment, offsets below its end.
   */
  static decode(offsetFile: Buffer, timeFile: Buffer, segmentBytes: number, relativeEndOffset: number): SegmentIndex | null {
    if (offsetFile.length % OFFSET_ENTRY_BYTES !== 0 || timeFile.length % TIME_ENTRY_BYTES !== 0) return null;
    const n = offsetFile.length / OFFSET_ENTRY_BYTES;
    const m = timeFile.length / TIME_ENTRY_BYTES;
    const index = new SegmentIndex(Math.max(n, m, 1));
    for (let i = 0; i < n; i++) {
      const rel = offsetFile.readUInt32BE(i * 8);
      const pos = offsetFile.readUInt32BE(i * 8 + 4);
      if (pos >= segmentBytes || rel >= relativeEndOffset) return null;
      if (i > 0 && (rel <= index.offsets[i - 1]! || pos <= index.positions[i - 1]!)) return null;
      if (i === 0 && pos !== 0) return null;
      index.offsets[i] = rel;
      index.positions[i] = pos;
    }
    index.offsetCount = n;
    for (let i = 0; i < m; i++) {
      const ts = Number(timeFile.readBigInt64BE(i * 12));
      const rel = timeFile.readUInt32BE(i * 12 + 8);
      if (rel >= relativeEndOffset) return null;
      if (i > 0 && ts <= index.timestamps[i - 1]!) return null;
      index.timestamps[i] = ts;
      index.timeOffsets[i] = rel;
    }
    index.timeCount = m;
    return index;
  }
}

function grow(a: Uint32Array): Uint32Array {
  const b = new Uint32Array(a.length * 2);
  b.set(a);
  return b;
}

function growF(a: Float64Array): Float64Array {
  const b = new Float64Array(a.length * 2);
  b.set(a);
  return b;
}

/**
 * The most recently written batches of one log, kept in memory so that consumers reading
 * at the tail are served without touching the file system. It holds a contiguous suffix of
 * the log (every batch from its first entry to the log end), bounded in bytes per log and,
 * through StorageResources, across all logs. It keeps references to the appended buffers,
 * so callers must not modify a batch after appending it.
 */
import type { StorageResources } from './storage-resources.js';

interface CachedBatch {
  baseOffset: number;
  lastOffset: number;
  buf: Buffer;
}

export class TailCache {
  private entries: CachedBatch[] = [];
  private head = 0;
  bytes = 0;

  constructor(private readonly resources: StorageResources) {}

  get firstOffset(): number {
    return this.head < this.entries.length ? this.entries[this.head]!.baseOffset : Infinity;
  }

  add(baseOffset: number, lastOffset: number, buf: Buffer): void {
    const limits = this.resources.limits;
    if (buf.length > limits.tailCacheBytesPerLogMax) {
      this.clear();
      return;
    }
    this.entries.push({ baseOffset, lastOffset, buf });
    this.bytes += buf.length;
    this.resources.tailCacheBytes += buf.length;
    while (this.size > 0 && (this.bytes > limits.tailCacheBytesPerLogMax || this.resources.tailCacheBytes > limits.tailCacheBytesMax)) {
      this.evictOne();
    }
  }

  private get size(): number {
    return this.entries.length - this.head;
  }

  private evictOne(): void {
    const e = this.entries[this.head]!;
    this.entries[this.head] = undefined as unknown as CachedBatch;
    this.head++;
    this.bytes -= e.buf.length;
    this.resources.tailCacheBytes -= e.buf.length;
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** Drops everything (truncation, or a batch too large to cache). */
  clear(): void {
    while (this.size > 0) this.evictOne();
    this.entries = [];
    this.head = 0;
  }

  /**
   * Batches from the one containing `offset`, up to `maxBytes` (at least one) and below
   * `endOffset`, or null when the cache does not reach back to `offset`.
   */
  read(offset: number, maxBytes: number, endOffset: number): { chunks: Buffer[]; bytes: number; nextOffset: number } | null {
    if (offset < this.firstOffset) return null;
    let lo = this.head;
    let hi = this.entries.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid]!.lastOffset >= offset) {
        at = mid;
        hi = mid - 1;
      } else lo = mid + 1;
    }
    if (at < 0) return null;
    const chunks: Buffer[] = [];
    let bytes = 0;
    let nextOffset = offset;
    for (let i = at; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (e.baseOffset >= endOffset) break;
      if (chunks.length > 0 && bytes + e.buf.length > maxBytes) break;
      chunks.push(e.buf);
      bytes += e.buf.length;
      nextOffset = e.lastOffset + 1;
    }
    return { chunks, bytes, nextOffset };
  }
}

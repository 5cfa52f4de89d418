/**
 * Limits shared by every partition log of a broker: open files of sealed segments, memory
 * of loaded sealed-segment indexes, and memory of tail caches. Each is a least-recently-used
 * set; when a limit is passed the oldest entries that are not in use are released. The
 * active segment of each log is not counted: it is always open and indexed in memory.
 */
import type { LogSegment } from './segment.js';

export interface StorageLimits {
  /** Open files of sealed segments, across all logs. */
  openSegmentFilesMax: number;
  /** Bytes of sealed-segment indexes held in memory, across all logs. */
  indexBytesMax: number;
  /** Bytes of recently appended batches cached for tail readers, across all logs. */
  tailCacheBytesMax: number;
  /** The most any one log may cache, so one busy partition cannot take all of it. */
  tailCacheBytesPerLogMax: number;
}

export const DEFAULT_STORAGE_LIMITS: Readonly<StorageLimits> = Object.freeze({
  openSegmentFilesMax: 512,
  indexBytesMax: 64 * 1024 * 1024,
  tailCacheBytesMax: 256 * 1024 * 1024,
  tailCacheBytesPerLogMax: 16 * 1024 * 1024,
});

export class StorageResources {
  readonly limits: StorageLimits;
  /** Insertion order of a Map is its recency order: touch = delete + set. */
  private readonly openFiles = new Map<LogSegment, true>();
  private readonly loadedIndexes = new Map<LogSegment, number>();
  private indexBytes = 0;
  tailCacheBytes = 0;

  constructor(limits: Partial<StorageLimits> = {}) {
    this.limits = { ...DEFAULT_STORAGE_LIMITS, ...limits };
  }

  get openFileCount(): number {
    return this.openFiles.size;
  }

  get loadedIndexBytes(): number {
    return this.indexBytes;
  }

  /** Notes that a sealed segment's file is open and in use; closes the least recent idle ones over the limit. */
  touchFile(seg: LogSegment): void {
    this.openFiles.delete(seg);
    this.openFiles.set(seg, true);
    if (this.openFiles.size <= this.limits.openSegmentFilesMax) return;
    for (const other of this.openFiles.keys()) {
      if (this.openFiles.size <= this.limits.openSegmentFilesMax) break;
      if (other === seg || other.readers > 0) continue;
      this.releaseFile(other);
    }
  }

  /** Closes the least recently used idle files while over the limit (touchFile skips files in use). */
  trimFiles(): void {
    for (const other of this.openFiles.keys()) {
      if (this.openFiles.size <= this.limits.openSegmentFilesMax) break;
      if (other.readers > 0) continue;
      this.releaseFile(other);
    }
  }

  releaseFile(seg: LogSegment): void {
    if (!this.openFiles.delete(seg)) return;
    const file = seg.file;
    seg.file = null;
    // Closing is best effort: the handle is dropped either way and nothing was unsynced.
    if (file !== null) file.close().catch(() => undefined);
  }

  touchIndex(seg: LogSegment): void {
    const bytes = seg.index?.memoryBytes ?? 0;
    const known = this.loadedIndexes.get(seg);
    if (known !== undefined) {
      this.indexBytes -= known;
      this.loadedIndexes.delete(seg);
    }
    this.loadedIndexes.set(seg, bytes);
    this.indexBytes += bytes;
    for (const [other, otherBytes] of this.loadedIndexes) {
      if (this.indexBytes <= this.limits.indexBytesMax) break;
      if (other === seg) continue;
      this.loadedIndexes.delete(other);
      this.indexBytes -= otherBytes;
      other.index = null;
    }
  }

  releaseIndex(seg: LogSegment): void {
    const bytes = this.loadedIndexes.get(seg);
    if (bytes === undefined) return;
    this.loadedIndexes.delete(seg);
    this.indexBytes -= bytes;
  }
}

/**
 * The log of one partition: `<data-dir>/<topic>-<partition>/` holding segments (segment.ts),
 * their indexes (offset-index.ts) and the checkpoint and clean-shutdown files
 * (checkpoint.ts).
 *
 * Appends assign offsets by rewriting each batch's baseOffset in place and queue the batch;
 * one write at a time per log takes everything queued and writes it with one writev, so
 * concurrent producers share system calls without their batches being copied together.
 * Durable appends (acks=all) wait for an fdatasync that started after their bytes were
 * written; all appends waiting at once share it (group commit). Rolling to a new segment
 * fsyncs the old one and, before anything in the new one is reported durable, the
 * directory. Reads see only completely written batches, and recent ones come from memory.
 *
 * On open, a log that was not closed cleanly is scanned from the segment holding its
 * recovery point: every batch's length, magic, offset and CRC is checked and the log is
 * truncated at the first one that fails. A batch read from disk later that fails its CRC
 * takes the partition offline instead of being served.
 */
import { ErrorCode } from '../protocol/error-codes.js';
import { BASE_OFFSET_OFFSET, BATCH_LENGTH_OFFSET, LOG_OVERHEAD_BYTES, MAGIC_OFFSET, RECORD_BATCH_HEADER_BYTES, RecordBatchView, readRecords } from '../protocol/record-batch.js';
import { CHECKPOINT_FILE, CLEAN_SHUTDOWN_FILE, type PartitionCheckpoint, readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { type Clock, systemClock } from './clock.js';
import { readBufferPool } from './buffer-pool.js';
import { type FileSystem, type StorageFile, nodeFileSystem } from './file-system.js';
import { type LogConfig, logConfig } from './log-config.js';
import { OFFSET_ENTRY_BYTES, SegmentIndex, TIME_ENTRY_BYTES } from './offset-index.js';
import {
  type BatchFacts,
  LOG_SUFFIX,
  LogSegment,
  batchFacts,
  batchProblem,
  readAt,
  scanSegment,
} from './segment.js';
import { LogOfflineError, StorageError } from './storage-errors.js';
import { StorageResources } from './storage-resources.js';
import { TailCache } from './tail-cache.js';

export interface PartitionLogOptions {
  fs?: FileSystem;
  clock?: Clock;
  resources?: StorageResources;
  /** Called once per problem worth an operator's attention (recovery, corruption). */
  log?: (message: string) => void;
  /** Called after appended batches become readable (wakes long-polling fetches). */
  onAppend?: () => void;
}

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
  /** The broker's clock when the batch was appended (for LogAppendTime topics). */
  logAppendTimeMs: number;
}

export interface ReadResult {
  /** Whole batches, in order; slices of files or cached buffers, never copied together. */
  chunks: Buffer[];
  bytes: number;
  /** The offset after the last batch returned (the next offset to read). */
  nextOffset: number;
}

/** Writes gathered into one writev: Linux's IOV_MAX, and a byte bound per system call. */
const WRITEV_BUFFERS_MAX = 1024;
const WRITEV_BYTES_MAX = 64 * 1024 * 1024;
/**
 * Writes up to this size go to the page cache synchronously (see StorageFile.writevSync);
 * larger ones through the thread pool. Copying into the page cache costs the kernel about a
 * millisecond per megabyte when it must first get fresh pages (on this kind of VM, from the
 * host), and on the event loop that time stalled reading and validating the next requests;
 * in the pool it overlaps with them on another core, while batches appended meanwhile queue
 * up for the next writev. Below this size the pool's round trip costs more than it saves.
 */
const SYNC_WRITE_BYTES_MAX = 128 * 1024;
/** Relative offsets in indexes are 32-bit: roll before a segment spans more offsets. */
const SEGMENT_OFFSET_SPAN_MAX = 0x7fff_ffff;
/** How often (at most) tick() rewrites the checkpoint when the recovery point moved. */
const CHECKPOINT_INTERVAL_MS = 60_000;

type Queued =
  | { kind: 'batch'; buf: Buffer; facts: BatchFacts; durable: boolean; result: AppendResult; resolve: (r: AppendResult) => void; reject: (e: Error) => void }
  | { kind: 'roll'; baseOffset: number };

interface SyncWaiter {
  result: AppendResult;
  resolve: (r: AppendResult) => void;
  reject: (e: Error) => void;
}

export class PartitionLog {
  readonly fs: FileSystem;
  readonly clock: Clock;
  readonly resources: StorageResources;
  private readonly logMessage: (message: string) => void;
  private readonly onAppend: (() => void) | undefined;

  private segments: LogSegment[] = [];
  private readonly tail: TailCache;
  private queue: Queued[] = [];
  private pumping = false;
  private pumpScheduled = false;
  private syncing = false;
  private syncRequested = false;
  private syncWaiters: SyncWaiter[] = [];
  private closed = false;
  private offlineReason: string | null = null;
  private idle: Array<() => void> = [];

  /** The offset the next appended batch gets (ahead of what is written while writes are queued). */
  private nextAssignedOffset = 0;
  /** Bytes queued for the segment that is the append target. */
  private queuedBytes = 0;
  private queuedTargetHasData = false;
  private writtenNextOffset = 0;
  private durableNextOffset = 0;
  private unflushedMessages = 0;
  private firstUnflushedAtMs = -1;
  private logStart = 0;
  private checkpointed: PartitionCheckpoint = { recoveryPoint: -1, logStartOffset: -1 };
  private lastCheckpointMs = 0;
  private checkpointChain: Promise<void> = Promise.resolve();

  private constructor(
    readonly dir: string,
    public config: LogConfig,
    options: PartitionLogOptions,
  ) {
    this.fs = options.fs ?? nodeFileSystem;
    this.clock = options.clock ?? systemClock;
    this.resources = options.resources ?? new StorageResources();
    this.logMessage = options.log ?? ((m) => console.error(`ferry storage: ${m}`));
    this.onAppend = options.onAppend;
    this.tail = new TailCache(this.resources);
  }

  // ---- state ------------------------------------------------------------------------------

  get logStartOffset(): number {
    return this.logStart;
  }

  /** The offset after the last completely written batch. */
  get logEndOffset(): number {
    return this.writtenNextOffset;
  }

  /** Every batch below this offset has been fsynced. */
  get durableOffset(): number {
    return this.durableNextOffset;
  }

  get isOffline(): boolean {
    return this.offlineReason !== null;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Base offsets of the segments, oldest first (for tests and tools). */
  get segmentBaseOffsets(): number[] {
    return this.segments.map((s) => s.baseOffset);
  }

  /** Bytes of all segments. */
  get sizeBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.size;
    return n;
  }

  /** The largest batch timestamp in the log, or -1 (ListOffsets MAX_TIMESTAMP). */
  get maxTimestamp(): number {
    let max = -1;
    for (const s of this.segments) if (s.maxTimestamp > max) max = s.maxTimestamp;
    return max;
  }

  private get active(): LogSegment {
    return this.segments[this.segments.length - 1]!;
  }

  private checkOnline(): void {
    if (this.offlineReason !== null) throw new LogOfflineError(`partition ${this.dir} is offline: ${this.offlineReason}`);
    if (this.closed) throw new LogOfflineError(`partition ${this.dir} is closed`);
  }

  private goOffline(reason: string): void {
    if (this.offlineReason !== null) return;
    this.offlineReason = reason;
    this.logMessage(`partition ${this.dir} goes offline: ${reason}`);
    const err = new LogOfflineError(`partition ${this.dir} is offline: ${reason}`);
    for (const q of this.queue) if (q.kind === 'batch') q.reject(err);
    this.queue = [];
    for (const w of this.syncWaiters) w.reject(err);
    this.syncWaiters = [];
  }

  // ---- open and recovery ---------------------------------------------------------------------

  static async open(dir: string, config: Partial<LogConfig> | LogConfig = {}, options: PartitionLogOptions = {}): Promise<PartitionLog> {
    const log = new PartitionLog(dir, logConfig(config), options);
    await log.load();
    return log;
  }

  private async load(): Promise<void> {
    const fs = this.fs;
    const now = this.clock.nowMs();
    await fs.mkdir(this.dir);
    const names = await fs.readdir(this.dir);
    const bases: number[] = [];
    for (const name of names) {
      if (name.endsWith('.tmp') || name.endsWith('.deleted')) {
        await fs.unlink(`${this.dir}/${name}`);
      } else if (name.endsWith(LOG_SUFFIX) && /^\d{20}\.log$/.test(name)) {
        bases.push(Number(name.slice(0, 20)));
      }
    }
    bases.sort((a, b) => a - b);
    // Index files without their segment are leftovers of an interrupted deletion.
    for (const name of names) {
      const m = /^(\d{20})\.(index|timeindex)$/.exec(name);
      if (m !== null && !bases.includes(Number(m[1]))) await fs.unlink(`${this.dir}/${name}`);
    }
    const checkpoint = await readCheckpoint(fs, this.dir);
    const clean = (await fs.stat(`${this.dir}/${CLEAN_SHUTDOWN_FILE}`)) !== null;
    if (!clean && (await fs.stat(`${this.dir}/${CHECKPOINT_FILE}`)) !== null && checkpoint === null) {
      this.logMessage(`${this.dir}: checkpoint file is damaged; scanning the whole log`);
    }
    const recoveryPoint = clean ? Infinity : (checkpoint?.recoveryPoint ?? 0);

    if (bases.length === 0) bases.push(checkpoint?.logStartOffset ?? 0);
    for (let i = 0; i < bases.length; i++) {
      const seg = new LogSegment(fs, this.dir, bases[i]!, now);
      const nextBase = bases[i + 1];
      const isLast = nextBase === undefined;
      const stat = await fs.stat(seg.logPath);
      const fileBytes = stat?.size ?? 0;
      const trusted = nextBase !== undefined && nextBase <= recoveryPoint;
      if (trusted && (await this.loadTrustedSealed(seg, fileBytes, nextBase))) {
        this.segments.push(seg);
        continue;
      }
      if (isLast && clean && (await this.loadCleanActive(seg, fileBytes))) {
        this.segments.push(seg);
        continue;
      }
      // Scan: this segment may hold batches that were never fsynced (or its indexes are bad).
      const file = await fs.open(seg.logPath, true);
      const scan = await scanSegment(file, seg.baseOffset, fileBytes, this.config.indexIntervalBytes);
      seg.file = file;
      seg.size = scan.validBytes;
      seg.verifiedBytes = scan.validBytes;
      seg.nextOffset = scan.nextOffset;
      seg.maxTimestamp = scan.maxTimestamp;
      seg.firstBatchMaxTimestamp = scan.firstBatchMaxTimestamp;
      seg.index = scan.index;
      const expectedEnd = nextBase ?? Infinity;
      const broken = scan.stopReason !== null || (nextBase !== undefined && scan.nextOffset !== expectedEnd);
      if (broken) {
        const why = scan.stopReason ?? `segment ends at offset ${scan.nextOffset} but the next one starts at ${nextBase}`;
        const dropped = bases.slice(i + 1);
        this.logMessage(
          `${this.dir}: recovery truncates segment ${seg.baseOffset} at byte ${scan.validBytes} of ${fileBytes} (${why})` +
            (dropped.length ? `; removing ${dropped.length} later segment(s)` : ''),
        );
        await file.truncate(scan.validBytes);
        await file.datasync();
        for (const b of dropped) await this.removeSegmentFiles(new LogSegment(fs, this.dir, b, now));
        await seg.writeIndexes();
        this.segments.push(seg);
        break;
      }
      if (!isLast) {
        await seg.writeIndexes();
        await file.datasync();
        seg.file = null;
        seg.index = null;
        await file.close();
      }
      this.segments.push(seg);
    }

    const active = this.active;
    if (active.file === null) active.file = await fs.open(active.logPath, true);
    if (active.index === null) active.index = new SegmentIndex();
    active.bytesSinceIndexEntry = active.size - Math.max(0, active.index.lastPosition);
    if (active.index.offsetCount === 0) active.bytesSinceIndexEntry = Infinity;
    // The recovered bytes were read back from the page cache, which a kill -9 leaves
    // intact but unwritten: make them durable before counting them as such.
    await active.file.datasync();
    await fs.syncDir(this.dir);

    this.writtenNextOffset = active.nextOffset;
    this.nextAssignedOffset = active.nextOffset;
    this.durableNextOffset = active.nextOffset;
    this.queuedTargetHasData = !active.isEmpty;
    this.logStart = Math.max(this.segments[0]!.baseOffset, Math.min(checkpoint?.logStartOffset ?? 0, this.writtenNextOffset));
    if (clean) {
      await fs.unlink(`${this.dir}/${CLEAN_SHUTDOWN_FILE}`);
      await fs.syncDir(this.dir);
    }
    await this.saveCheckpoint();
  }

  /** A sealed segment below the recovery point: trust its data, take facts from its time index. */
  private async loadTrustedSealed(seg: LogSegment, fileBytes: number, nextBase: number): Promise<boolean> {
    if (fileBytes === 0 && nextBase !== seg.baseOffset) return false;
    seg.size = fileBytes;
    seg.nextOffset = nextBase;
    const stat = await this.fs.stat(seg.timeIndexPath);
    if (stat === null || stat.size % TIME_ENTRY_BYTES !== 0) return false;
    const offsets = await this.fs.stat(seg.indexPath);
    if (offsets === null || offsets.size % OFFSET_ENTRY_BYTES !== 0) return false;
    // A segment with data has a time entry (unless all its timestamps are negative): an empty
    // file is one whose rewrite was cut short, and would make the segment look timeless.
    if (stat.size === 0 && fileBytes > 0) return false;
    if (stat.size > 0) {
      const f = await this.fs.open(seg.timeIndexPath, false);
      try {
        const last = await readAt(f, stat.size - TIME_ENTRY_BYTES, TIME_ENTRY_BYTES);
        if (last.length < TIME_ENTRY_BYTES || last.readUInt32BE(8) >= nextBase - seg.baseOffset) return false;
        seg.maxTimestamp = Number(last.readBigInt64BE(0));
      } finally {
        await f.close();
      }
    }
    return true;
  }

  /** The last segment after a clean shutdown: indexes from files, then scan only the tail. */
  private async loadCleanActive(seg: LogSegment, fileBytes: number): Promise<boolean> {
    const index = await this.readIndexFiles(seg, fileBytes, Infinity);
    if (index === null) return false;
    const file = await this.fs.open(seg.logPath, true);
    const from = Math.max(0, index.lastPosition);
    const tailBytes = fileBytes - from;
    // Scan from the last indexed batch to the end, checking every batch on the way.
    let position = from;
    let nextOffset = seg.baseOffset;
    if (index.offsetCount > 0) {
      const head = await readAt(file, from, Math.min(RECORD_BATCH_HEADER_BYTES, tailBytes));
      if (head.length < RECORD_BATCH_HEADER_BYTES) {
        await file.close();
        return false;
      }
      nextOffset = batchFacts(head, 0).baseOffset;
    }
    const tail = await readAt(file, from, tailBytes);
    let maxTimestamp = index.lastTimestamp === -Infinity ? -1 : index.lastTimestamp;
    let firstBatchMaxTimestamp = -1;
    if (from > 0) {
      // segment.ms counts from the first batch, which the scan of the tail does not reach.
      const head = await readAt(file, 0, RECORD_BATCH_HEADER_BYTES);
      if (head.length === RECORD_BATCH_HEADER_BYTES) firstBatchMaxTimestamp = batchFacts(head, 0).maxTimestamp;
    }
    let at = 0;
    while (at < tail.length) {
      if (batchProblem(tail, at, tail.length - at, nextOffset) !== null) {
        await file.close();
        return false;
      }
      const facts = batchFacts(tail, at);
      if (position === 0) firstBatchMaxTimestamp = facts.maxTimestamp;
      maxTimestamp = Math.max(maxTimestamp, facts.maxTimestamp);
      nextOffset = facts.lastOffset + 1;
      at += facts.sizeBytes;
      position += facts.sizeBytes;
    }
    seg.file = file;
    seg.index = index;
    seg.size = fileBytes;
    seg.nextOffset = nextOffset;
    seg.maxTimestamp = maxTimestamp;
    seg.firstBatchMaxTimestamp = firstBatchMaxTimestamp;
    return true;
  }

  private async readIndexFiles(seg: LogSegment, segmentBytes: number, relativeEnd: number): Promise<SegmentIndex | null> {
    const [a, b] = await Promise.all([this.fs.stat(seg.indexPath), this.fs.stat(seg.timeIndexPath)]);
    if (a === null || b === null) return null;
    const [offsets, times] = await Promise.all([this.fs.readFile(seg.indexPath), this.fs.readFile(seg.timeIndexPath)]);
    return SegmentIndex.decode(offsets, times, Math.max(segmentBytes, 1), relativeEnd);
  }

  private async removeSegmentFiles(seg: LogSegment): Promise<void> {
    for (const path of [seg.logPath, seg.indexPath, seg.timeIndexPath]) {
      if ((await this.fs.stat(path)) !== null) await this.fs.unlink(path);
    }
  }

  // ---- append ---------------------------------------------------------------------------------

  /**
   * Appends one validated magic-2 batch: assigns its offsets (rewriting baseOffset in place)
   * and resolves once it is written, or with `durable`, once it is fsynced too. The buffer
   * is kept (tail cache), so the caller must not change it afterwards.
   */
  append(batch: Buffer, options: { durable?: boolean } = {}): Promise<AppendResult> {
    try {
      this.checkOnline();
    } catch (e) {
      return Promise.reject(e);
    }
    if (batch.length > this.config.maxMessageBytes) {
      return Promise.reject(
        new StorageError(ErrorCode.MESSAGE_TOO_LARGE, `batch of ${batch.length} bytes exceeds max.message.bytes ${this.config.maxMessageBytes}`),
      );
    }
    if (
      batch.length < RECORD_BATCH_HEADER_BYTES ||
      batch[MAGIC_OFFSET] !== 2 ||
      batch.readInt32BE(BATCH_LENGTH_OFFSET) + LOG_OVERHEAD_BYTES !== batch.length
    ) {
      return Promise.reject(new StorageError(ErrorCode.CORRUPT_MESSAGE, 'not one complete magic-2 record batch'));
    }
    const now = this.clock.nowMs();
    const baseOffset = this.nextAssignedOffset;
    batch.writeBigInt64BE(BigInt(baseOffset), BASE_OFFSET_OFFSET);
    const facts = batchFacts(batch, 0);
    this.maybeQueueRoll(batch.length, facts, now);
    this.nextAssignedOffset = facts.lastOffset + 1;
    this.queuedBytes += batch.length;
    this.queuedTargetHasData = true;
    const result: AppendResult = { baseOffset, lastOffset: facts.lastOffset, logAppendTimeMs: now };
    const promise = new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ kind: 'batch', buf: batch, facts, durable: options.durable === true, result, resolve, reject });
    });
    // Start the writer after the current microtasks: appends issued together (one produce
    // request's partitions, producers resumed by the same fsync) then share one writev.
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      queueMicrotask(() => {
        this.pumpScheduled = false;
        void this.pump();
      });
    }
    return promise;
  }

  private maybeQueueRoll(bytes: number, facts: BatchFacts, nowMs: number): void {
    if (!this.queuedTargetHasData) return;
    const active = this.active;
    const targetBytes = this.pendingRoll() ? this.queuedBytes : active.size + this.queuedBytes;
    const targetBase = this.pendingRoll()?.baseOffset ?? active.baseOffset;
    const rollBase = active.firstBatchMaxTimestamp >= 0 ? active.firstBatchMaxTimestamp : active.createdAtMs;
    const full = targetBytes + bytes > this.config.segmentBytes;
    const old = !this.pendingRoll() && !active.isEmpty && nowMs - rollBase >= this.config.segmentMs;
    const indexFull = !this.pendingRoll() && (active.index?.offsetCount ?? 0) * OFFSET_ENTRY_BYTES >= this.config.segmentIndexBytes - OFFSET_ENTRY_BYTES;
    const span = facts.lastOffset - targetBase >= SEGMENT_OFFSET_SPAN_MAX;
    if (full || old || indexFull || span) this.queueRoll(facts.baseOffset);
  }

  private pendingRoll(): { baseOffset: number } | null {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const q = this.queue[i]!;
      if (q.kind === 'roll') return q;
    }
    return null;
  }

  private queueRoll(baseOffset: number): void {
    this.queue.push({ kind: 'roll', baseOffset });
    this.queuedBytes = 0;
    this.queuedTargetHasData = false;
  }

  /** The writer: one writev at a time, taking everything queued for the same segment. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0 && this.offlineReason === null) {
        const first = this.queue[0]!;
        if (first.kind === 'roll') {
          // The roll stays queued until done, so appends meanwhile see it pending and count
          // their bytes for the new segment instead of rolling again after the full old one.
          await this.roll(first.baseOffset);
          if (this.queue[0] === first) this.queue.shift();
          continue;
        }
        const items: Array<Extract<Queued, { kind: 'batch' }>> = [];
        let bytes = 0;
        while (items.length < WRITEV_BUFFERS_MAX && items.length < this.queue.length) {
          const q = this.queue[items.length]!;
          if (q.kind !== 'batch' || (items.length > 0 && bytes + q.buf.length > WRITEV_BYTES_MAX)) break;
          items.push(q);
          bytes += q.buf.length;
        }
        const seg = this.active;
        const position = seg.size;
        try {
          const file = seg.file!;
          const buffers = items.map((i) => i.buf);
          if (bytes <= SYNC_WRITE_BYTES_MAX && file.writevSync !== undefined) file.writevSync(buffers, position);
          else await file.writev(buffers, position);
        } catch (e) {
          this.goOffline(`write failed: ${(e as Error).message}`);
          for (const i of items) i.reject(new LogOfflineError(`partition ${this.dir} is offline: write failed`));
          break;
        }
        this.queue.splice(0, items.length);
        let pos = position;
        let records = 0;
        for (const item of items) {
          seg.noteBatch(item.facts, pos, this.config.indexIntervalBytes);
          pos += item.buf.length;
          seg.size = pos;
          seg.nextOffset = item.facts.lastOffset + 1;
          this.tail.add(item.facts.baseOffset, item.facts.lastOffset, item.buf);
          records += item.facts.recordCount;
        }
        if (this.queuedTargetHasData && !this.pendingRoll()) this.queuedBytes -= bytes;
        // Appended batches were validated (CRC included) by the caller, as append requires.
        if (seg.verifiedBytes === position) seg.verifiedBytes = pos;
        seg.unsynced = true;
        this.writtenNextOffset = seg.nextOffset;
        if (this.unflushedMessages === 0) this.firstUnflushedAtMs = this.clock.nowMs();
        this.unflushedMessages += records;
        let wantSync = this.unflushedMessages >= this.config.flushMessages;
        for (const item of items) {
          if (item.durable) {
            this.syncWaiters.push({ result: item.result, resolve: item.resolve, reject: item.reject });
            wantSync = true;
          } else item.resolve(item.result);
        }
        if (wantSync) this.requestSync();
        this.onAppend?.();
      }
    } catch (e) {
      this.goOffline(`writer failed: ${(e as Error).message}`);
    } finally {
      this.pumping = false;
      this.notifyIfIdle();
    }
  }

  private async roll(baseOffset: number): Promise<void> {
    const old = this.active;
    if (old.isEmpty) return;
    // The old segment becomes read-only: make it durable and its indexes complete first,
    // so sealed segments never hold unsynced data and their files may be closed any time.
    await old.datasync();
    // After a failed fsync elsewhere, a later one may succeed without the data (Linux).
    if (this.offlineReason !== null) throw new Error(this.offlineReason);
    old.unsynced = false;
    await old.writeIndexes();
    const seg = new LogSegment(this.fs, this.dir, baseOffset, this.clock.nowMs());
    seg.file = await this.fs.open(seg.logPath, true);
    await seg.file.truncate(0).catch(async (e: unknown) => {
      // The segment is not added: close its handle rather than leak it.
      await seg.file!.close().catch(() => undefined);
      throw e;
    });
    seg.index = new SegmentIndex();
    seg.dirEntryUnsynced = true;
    this.segments.push(seg);
    // The old segment's index now lives in its files; load it again on demand.
    old.index = null;
    this.resources.touchFile(old);
    // The old segment's data is durable only once its directory entry is (a segment made by
    // the previous roll may not have had one synced yet); the new one's is synced with it.
    if (old.dirEntryUnsynced) {
      await this.fs.syncDir(this.dir);
      old.dirEntryUnsynced = false;
      seg.dirEntryUnsynced = false;
    }
    if (this.offlineReason !== null) throw new Error(this.offlineReason);
    this.durableNextOffset = Math.max(this.durableNextOffset, old.nextOffset);
    void this.saveCheckpoint();
  }

  // ---- durability ------------------------------------------------------------------------------

  private requestSync(): void {
    if (this.syncing) {
      this.syncRequested = true;
      return;
    }
    void this.syncLoop();
  }

  /** Group commit: one fdatasync (and directory fsync after a roll) for everyone waiting. */
  private async syncLoop(): Promise<void> {
    this.syncing = true;
    // Waiters taken for the current round; rejected with everyone else if its fsync fails.
    let waiters: SyncWaiter[] = [];
    try {
      do {
        this.syncRequested = false;
        waiters = this.syncWaiters;
        this.syncWaiters = [];
        const target = this.writtenNextOffset;
        const synced = this.unflushedMessages;
        for (const seg of this.segments) {
          if (seg.unsynced && seg.file !== null) {
            seg.unsynced = false;
            await seg.datasync();
          }
        }
        const unsyncedEntries = this.segments.filter((s) => s.dirEntryUnsynced);
        if (unsyncedEntries.length > 0) {
          await this.fs.syncDir(this.dir);
          // Cleared only once synced: a roll meanwhile must not take them for durable.
          for (const s of unsyncedEntries) s.dirEntryUnsynced = false;
        }
        if (this.offlineReason !== null) throw new Error(this.offlineReason);
        this.durableNextOffset = Math.max(this.durableNextOffset, target);
        this.unflushedMessages = Math.max(0, this.unflushedMessages - synced);
        if (this.unflushedMessages === 0) this.firstUnflushedAtMs = -1;
        for (const w of waiters) w.resolve(w.result);
        waiters = [];
      } while ((this.syncRequested || this.syncWaiters.length > 0) && this.offlineReason === null);
    } catch (e) {
      this.goOffline(`fsync failed: ${(e as Error).message}`);
      const err = new LogOfflineError(`partition ${this.dir} is offline: fsync failed`);
      for (const w of waiters) w.reject(err);
    } finally {
      this.syncing = false;
      this.notifyIfIdle();
    }
  }

  /** Makes everything written so far durable. */
  async flush(): Promise<void> {
    await this.drain();
    this.checkOnline();
    if (this.writtenNextOffset === this.durableNextOffset && !this.segments.some((s) => s.unsynced || s.dirEntryUnsynced)) return;
    await new Promise<void>((resolve, reject) => {
      this.syncWaiters.push({ result: { baseOffset: -1, lastOffset: -1, logAppendTimeMs: 0 }, resolve: () => resolve(), reject });
      this.requestSync();
    });
  }

  /** Resolves when no write or fsync is queued or running. */
  private drain(): Promise<void> {
    if (!this.pumping && !this.syncing && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private notifyIfIdle(): void {
    if (this.pumping || this.syncing || this.queue.length > 0) return;
    const idle = this.idle;
    this.idle = [];
    for (const f of idle) f();
  }

  /** Time-driven policies: flush.ms, segment.ms (for idle logs) and the checkpoint. */
  async tick(): Promise<void> {
    if (this.offlineReason !== null || this.closed) return;
    const now = this.clock.nowMs();
    if (this.firstUnflushedAtMs >= 0 && now - this.firstUnflushedAtMs >= this.config.flushMs) this.requestSync();
    if (now - this.lastCheckpointMs >= CHECKPOINT_INTERVAL_MS) await this.saveCheckpoint();
  }

  private saveCheckpoint(): Promise<void> {
    const next = this.checkpointChain.then(async () => {
      // An offline log makes no new durability claims (its fsyncs may have lost data).
      if (this.offlineReason !== null) return;
      const c = { recoveryPoint: this.durableNextOffset, logStartOffset: this.logStart };
      if (c.recoveryPoint === this.checkpointed.recoveryPoint && c.logStartOffset === this.checkpointed.logStartOffset) return;
      await writeCheckpoint(this.fs, this.dir, c);
      this.checkpointed = c;
      this.lastCheckpointMs = this.clock.nowMs();
    });
    this.checkpointChain = next.catch((e: Error) => this.goOffline(`checkpoint write failed: ${e.message}`));
    return this.checkpointChain;
  }

  // ---- read -----------------------------------------------------------------------------------

  /**
   * Whole batches from the one containing `offset`, up to `maxBytes` but always at least one,
   * below `endOffset` (default: the log end). An offset outside [logStart, logEnd] is
   * OFFSET_OUT_OF_RANGE; at the log end the result is empty.
   *
   * With `pooled`, batches read from a segment file come in a buffer lent by readBufferPool
   * (see buffer-pool.ts): the caller is then its only holder and should give it back once
   * nothing refers to it (Fetch: once the response is written). Without it, and for batches
   * from the tail cache, the chunks are ordinary buffers that may be kept.
   */
  async read(offset: number, maxBytes: number, endOffset = Infinity, options: { pooled?: boolean } = {}): Promise<ReadResult> {
    this.checkOnline();
    if (offset < this.logStart || offset > this.writtenNextOffset) {
      throw new StorageError(
        ErrorCode.OFFSET_OUT_OF_RANGE,
        `offset ${offset} is outside [${this.logStart}, ${this.writtenNextOffset}] of ${this.dir}`,
      );
    }
    const end = Math.min(endOffset, this.writtenNextOffset);
    if (offset >= end) return { chunks: [], bytes: 0, nextOffset: offset };
    const cached = this.tail.read(offset, maxBytes, end);
    if (cached !== null && cached.chunks.length > 0) return cached;
    const seg = this.segmentFor(offset);
    if (seg === null) return { chunks: [], bytes: 0, nextOffset: offset };
    return this.readSegment(seg, offset, maxBytes, end, options.pooled === true);
  }

  private segmentFor(offset: number): LogSegment | null {
    let lo = 0;
    let hi = this.segments.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.segments[mid]!.baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    for (let i = Math.max(found, 0); i < this.segments.length; i++) {
      const s = this.segments[i]!;
      if (s.nextOffset > offset && !s.isEmpty) return s;
    }
    return null;
  }

  private async readSegment(seg: LogSegment, offset: number, maxBytes: number, endOffset: number, pooled = false): Promise<ReadResult> {
    seg.readers++;
    /**
     * The buffer read into: with `pooled`, from readBufferPool, and given back unless its bytes
     * are returned (giving back a plain buffer does nothing).
     */
    let window: Buffer | null = null;
    try {
      const file = await this.openForRead(seg);
      const index = await this.indexOf(seg);
      const segEnd = seg.size;
      const entry = index.entryFor(offset - seg.baseOffset);
      let position = entry.position;
      // Base offsets are outside the CRC: each batch passed on the way must continue the last.
      let expectedBase = seg.baseOffset + entry.relativeOffset;
      // One read covers the gap to the wanted batch (about one index interval) and maxBytes.
      const windowBytes = Math.min(segEnd - position, this.config.indexIntervalBytes * 2 + Math.max(maxBytes, RECORD_BATCH_HEADER_BYTES) + 65536);
      window = await readWindow(file, pooled, position, windowBytes);
      let at = 0;
      // Find the batch that contains `offset`.
      for (;;) {
        if (window.length - at < RECORD_BATCH_HEADER_BYTES) {
          // Forgotten before the next read: once given back, another read may take it.
          readBufferPool.give(window);
          window = null;
          window = await readWindow(file, pooled, position, Math.min(segEnd - position, windowBytes));
          at = 0;
          if (window.length < RECORD_BATCH_HEADER_BYTES) throw this.corrupt(seg, position, 'segment ends inside a batch header');
        }
        const facts = batchFacts(window, at);
        if (facts.sizeBytes < RECORD_BATCH_HEADER_BYTES || position + facts.sizeBytes > segEnd) {
          throw this.corrupt(seg, position, `bad batch length ${facts.sizeBytes}`);
        }
        if (facts.baseOffset !== expectedBase) throw this.corrupt(seg, position, `base offset ${facts.baseOffset}, expected ${expectedBase}`);
        if (facts.lastOffset >= offset) break;
        expectedBase = facts.lastOffset + 1;
        position += facts.sizeBytes;
        at += facts.sizeBytes;
      }
      // Collect whole batches from here.
      const first = batchFacts(window, at);
      if (window.length - at < first.sizeBytes) {
        readBufferPool.give(window);
        window = null;
        window = await readWindow(file, pooled, position, first.sizeBytes);
        at = 0;
      }
      const start = at;
      let bytes = 0;
      let nextOffset = offset;
      while (window.length - at >= RECORD_BATCH_HEADER_BYTES) {
        const facts = batchFacts(window, at);
        if (facts.baseOffset >= endOffset) break;
        if (bytes > 0 && bytes + facts.sizeBytes > maxBytes) break;
        if (facts.sizeBytes > window.length - at) break;
        // Each batch's CRC is checked once per process (see LogSegment.verifiedBytes); the
        // cheap checks of length, magic and offset continuity run on every read.
        const filePosition = position + (at - start);
        const verified = filePosition + facts.sizeBytes <= seg.verifiedBytes;
        const problem = batchProblem(window, at, window.length - at, bytes === 0 ? null : nextOffset, !verified);
        if (problem !== null) throw this.corrupt(seg, filePosition, problem);
        if (!verified && filePosition === seg.verifiedBytes) seg.verifiedBytes = filePosition + facts.sizeBytes;
        bytes += facts.sizeBytes;
        at += facts.sizeBytes;
        nextOffset = facts.lastOffset + 1;
      }
      if (bytes === 0) {
        readBufferPool.give(window);
        return { chunks: [], bytes, nextOffset };
      }
      // The caller holds the window from here (through the chunk) and may give it back.
      const chunk = window.subarray(start, start + bytes);
      window = null;
      return { chunks: [chunk], bytes, nextOffset };
    } catch (e) {
      if (window !== null) readBufferPool.give(window);
      // Deleted by retention meanwhile (its files may be gone): the offset is below the start now.
      if (seg.deleted && !(e instanceof StorageError)) throw this.deletedMeanwhile(seg);
      throw e;
    } finally {
      seg.readers--;
      if (seg.deleted && seg.readers === 0) this.resources.releaseFile(seg);
      // Files kept open past the limit while in use are closed once idle.
      this.resources.trimFiles();
    }
  }

  private deletedMeanwhile(seg: LogSegment): StorageError {
    return new StorageError(ErrorCode.OFFSET_OUT_OF_RANGE, `segment ${seg.baseOffset} of ${this.dir} was deleted while being read`);
  }

  private corrupt(seg: LogSegment, position: number, why: string): LogOfflineError {
    this.goOffline(`corrupt data in segment ${seg.baseOffset} at byte ${position}: ${why}`);
    return new LogOfflineError(`partition ${this.dir} is offline: corrupt data in segment ${seg.baseOffset}`);
  }

  private async openForRead(seg: LogSegment): Promise<NonNullable<LogSegment['file']>> {
    if (seg === this.active) return seg.file!;
    if (seg.file === null) {
      const file = await this.fs.open(seg.logPath, false);
      // Another read may have opened it meanwhile: keep one handle, not leak the other.
      if (seg.file === null) seg.file = file;
      else void file.close().catch(() => undefined);
    }
    this.resources.touchFile(seg);
    return seg.file;
  }

  private async indexOf(seg: LogSegment): Promise<SegmentIndex> {
    if (seg.index !== null) {
      if (seg !== this.active) this.resources.touchIndex(seg);
      return seg.index;
    }
    if (seg.deleted) throw this.deletedMeanwhile(seg);
    let index = await this.readIndexFiles(seg, seg.size, seg.nextOffset - seg.baseOffset);
    if (index === null) {
      this.logMessage(`${this.dir}: rebuilding the indexes of segment ${seg.baseOffset}`);
      const scan = await scanSegment(await this.openForRead(seg), seg.baseOffset, seg.size, this.config.indexIntervalBytes);
      if (scan.stopReason !== null) throw this.corrupt(seg, scan.validBytes, scan.stopReason);
      index = scan.index;
      seg.index = index;
      // The time index it came with was bad, so the facts taken from it at open may be too.
      seg.maxTimestamp = scan.maxTimestamp;
      // A segment deleted meanwhile gets no index files again (nor a place in the LRU).
      if (seg.deleted) throw this.deletedMeanwhile(seg);
      await seg.writeIndexes();
    }
    if (seg.deleted) throw this.deletedMeanwhile(seg);
    seg.index = index;
    this.resources.touchIndex(seg);
    return index;
  }

  /**
   * The first offset whose record timestamp is ≥ `timestampMs` (ListOffsets by time), with
   * that record's timestamp, or null when every record is older.
   */
  async offsetForTimestamp(timestampMs: number): Promise<{ offset: number; timestamp: number } | null> {
    this.checkOnline();
    // A copy: retention may remove segments from the front meanwhile (skipping one here).
    for (const seg of [...this.segments]) {
      if (seg.maxTimestamp < timestampMs || seg.isEmpty || seg.deleted) continue;
      // A reader, so that its file is not closed under an index rebuild.
      seg.readers++;
      try {
        const index = await this.indexOf(seg);
        const rel = index.scanStartForTimestamp(timestampMs);
        let offset = Math.max(seg.baseOffset + rel, this.logStart);
        while (offset < seg.nextOffset && offset < this.writtenNextOffset) {
          const r = await this.readSegment(seg, offset, 1, Infinity);
          if (r.bytes === 0) break;
          const batch = new RecordBatchView(r.chunks[0]!, 0);
          if (Number(batch.maxTimestamp) >= timestampMs) {
            for (const rec of await readRecords(batch, 256 * 1024 * 1024)) {
              const o = Number(rec.offset);
              if (o >= this.logStart && Number(rec.timestamp) >= timestampMs) return { offset: o, timestamp: Number(rec.timestamp) };
            }
          }
          offset = r.nextOffset;
        }
      } catch (e) {
        // Deleted by retention while searched: its records are below the start now.
        if (seg.deleted) continue;
        throw e;
      } finally {
        seg.readers--;
        if (seg.deleted && seg.readers === 0) this.resources.releaseFile(seg);
        this.resources.trimFiles();
      }
    }
    return null;
  }

  // ---- retention, deletion, truncation ----------------------------------------------------------

  /** Deletes whole segments past retention.ms / retention.bytes or below the log start. */
  async applyRetention(): Promise<number> {
    this.checkOnline();
    await this.drain();
    // The log may have gone offline meanwhile: a roll queued now would never be taken.
    this.checkOnline();
    const now = this.clock.nowMs();
    // Compacted topics keep their segments until the cleaner (to come) rewrites them;
    // only DeleteRecords moves their start. "compact,delete" applies both.
    const deletes = this.config.cleanupPolicy !== 'compact';
    const retentionMs = deletes ? this.config.retentionMs : -1;
    const retentionBytes = deletes ? this.config.retentionBytes : -1;
    const expired = (s: LogSegment): boolean => retentionMs >= 0 && now - (s.maxTimestamp >= 0 ? s.maxTimestamp : s.createdAtMs) > retentionMs;
    // An expired active segment is rolled first so that it can go too (as Kafka does).
    const active = this.active;
    if (!active.isEmpty && expired(active) && this.segments.every((s) => s === active || expired(s))) {
      this.queueRoll(this.nextAssignedOffset);
      await this.pump();
      await this.drain();
      this.checkOnline();
    }
    let total = this.sizeBytes;
    let deleted = 0;
    await this.guarded('retention', async () => {
      while (this.segments.length > 1) {
        const oldest = this.segments[0]!;
        const bySize = retentionBytes >= 0 && total - oldest.size >= retentionBytes;
        const byStart = oldest.nextOffset <= this.logStart;
        if (!(expired(oldest) || bySize || byStart)) break;
        total -= oldest.size;
        await this.deleteOldestSegment();
        deleted++;
      }
      if (deleted > 0) {
        // The unlinks must not come back after a power loss while the checkpoint says
        // the log starts later: make them durable with the new log start.
        await this.fs.syncDir(this.dir);
        await this.saveCheckpoint();
      }
    });
    // Offline meanwhile: the deletions and the new log start may not be durable.
    this.checkOnline();
    return deleted;
  }

  /**
   * Runs file work that changes the log's shape (retention, truncation). An I/O error there
   * leaves memory and files out of step, so the partition goes offline rather than go on.
   */
  private async guarded(what: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (e) {
      if (e instanceof StorageError) throw e;
      this.goOffline(`${what} failed: ${(e as Error).message}`);
      throw new LogOfflineError(`partition ${this.dir} is offline: ${what} failed`);
    }
  }

  private async deleteOldestSegment(): Promise<void> {
    const seg = this.segments.shift()!;
    seg.deleted = true;
    this.logStart = Math.max(this.logStart, this.segments[0]!.baseOffset);
    this.resources.releaseIndex(seg);
    seg.index = null;
    if (seg.readers === 0) this.resources.releaseFile(seg);
    await this.removeSegmentFiles(seg);
  }

  /** DeleteRecords: moves the log start forward; returns the new log start offset. */
  async deleteRecordsBefore(offset: number): Promise<number> {
    this.checkOnline();
    if (offset > this.writtenNextOffset || offset < 0) {
      throw new StorageError(ErrorCode.OFFSET_OUT_OF_RANGE, `offset ${offset} is beyond the log end ${this.writtenNextOffset}`);
    }
    if (offset <= this.logStart) return this.logStart;
    this.logStart = offset;
    await this.saveCheckpoint();
    await this.applyRetention();
    return this.logStart;
  }

  /** Removes every batch at or after `offset` (rounded down to a batch boundary). */
  async truncateTo(offset: number): Promise<void> {
    await this.guarded('truncation', () => this.truncateFiles(offset));
  }

  private async truncateFiles(offset: number): Promise<void> {
    this.checkOnline();
    await this.drain();
    if (offset >= this.writtenNextOffset) return;
    const keep = this.segments.filter((s) => s.baseOffset < offset || s === this.segments[0]);
    for (const seg of this.segments.slice(keep.length).reverse()) {
      seg.deleted = true;
      this.resources.releaseIndex(seg);
      if (seg.file !== null) {
        const f = seg.file;
        seg.file = null;
        await f.close();
      }
      await this.removeSegmentFiles(seg);
    }
    this.segments = keep;
    // The segment that becomes active again must leave the LRUs, which may close its file
    // or drop its index at any time; the active segment's file and index stay with it.
    const seg = this.active;
    this.resources.releaseFile(seg);
    this.resources.releaseIndex(seg);
    if (seg.file === null) seg.file = await this.fs.open(seg.logPath, true);
    const scan = await scanSegment(seg.file, seg.baseOffset, seg.size, this.config.indexIntervalBytes);
    // Keep the batches that end before `offset`.
    let cut = 0;
    let next = seg.baseOffset;
    if (scan.batches > 0) {
      const data = await readAt(seg.file, 0, scan.validBytes);
      let at = 0;
      while (at < data.length) {
        const f = batchFacts(data, at);
        if (f.lastOffset >= offset) break;
        at += f.sizeBytes;
        next = f.lastOffset + 1;
      }
      cut = at;
    }
    await seg.file.truncate(cut);
    await seg.file.datasync();
    const rescan = await scanSegment(seg.file, seg.baseOffset, cut, this.config.indexIntervalBytes);
    seg.size = cut;
    seg.verifiedBytes = cut;
    seg.nextOffset = next;
    seg.index = rescan.index;
    seg.maxTimestamp = rescan.maxTimestamp;
    seg.firstBatchMaxTimestamp = rescan.firstBatchMaxTimestamp;
    seg.bytesSinceIndexEntry = rescan.index.offsetCount === 0 ? Infinity : cut - rescan.index.lastPosition;
    seg.unsynced = false;
    await this.fs.syncDir(this.dir);
    this.tail.clear();
    this.writtenNextOffset = next;
    this.nextAssignedOffset = next;
    this.durableNextOffset = Math.min(this.durableNextOffset, next);
    this.queuedBytes = 0;
    this.queuedTargetHasData = !seg.isEmpty;
    this.logStart = Math.min(this.logStart, next);
    await this.saveCheckpoint();
  }

  // ---- close and delete ---------------------------------------------------------------------

  /** Clean shutdown: write everything, fsync, save indexes and checkpoint, mark clean. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.drain();
    if (this.offlineReason === null) {
      await this.flush();
      const active = this.active;
      await active.writeIndexes();
      this.durableNextOffset = this.writtenNextOffset;
      await this.saveCheckpoint();
      const marker = await this.fs.open(`${this.dir}/${CLEAN_SHUTDOWN_FILE}`, true);
      await marker.close();
      await this.fs.syncDir(this.dir);
    }
    await this.releaseAll();
  }

  /** Marks the log closed and lets go of its cache, indexes and files. */
  private async releaseAll(): Promise<void> {
    this.closed = true;
    this.tail.clear();
    for (const seg of this.segments) {
      this.resources.releaseIndex(seg);
      this.resources.releaseFile(seg);
      if (seg.file !== null) {
        const f = seg.file;
        seg.file = null;
        await f.close();
      }
    }
  }

  /** Deletes the partition: closes it and removes its directory. */
  async delete(): Promise<void> {
    await this.drain();
    await this.releaseAll();
    await this.fs.removeDir(this.dir);
  }
}

/** Reads up to `length` bytes at `position`, into a buffer from readBufferPool when `pooled`. */
async function readWindow(file: StorageFile, pooled: boolean, position: number, length: number): Promise<Buffer> {
  const buf = pooled ? readBufferPool.take(length) : Buffer.allocUnsafe(length);
  let n: number;
  try {
    n = await file.read(buf, 0, length, position);
  } catch (e) {
    readBufferPool.give(buf);
    throw e;
  }
  return n === length ? buf : buf.subarray(0, n);
}

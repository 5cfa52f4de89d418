/**
 * All partition logs of one data directory: `<data-dir>/<topic>-<partition>/` each.
 *
 * It opens the logs found at start (a few at a time), creates and deletes them, shares one
 * StorageResources between them so their files, indexes and caches stay within one set of
 * limits, and runs the time-driven work: flush.ms, checkpoints, and retention every
 * `retentionCheckIntervalMs` (Kafka's log.retention.check.interval.ms).
 *
 * A partition is deleted by first renaming its directory to `<name>.<n>.deleting` (atomic,
 * and made durable by an fsync of the data directory) and then removing it, so a crash in
 * the middle never leaves a half-removed directory that looks like a partition; leftovers
 * are removed at the next start.
 */
import { type Clock, systemClock } from './clock.js';
import { type FileSystem, nodeFileSystem } from './file-system.js';
import type { LogConfig } from './log-config.js';
import { PartitionLog } from './partition-log.js';
import { StorageResources, type StorageLimits } from './storage-resources.js';

export interface LogManagerOptions {
  fs?: FileSystem;
  clock?: Clock;
  limits?: Partial<StorageLimits>;
  log?: (message: string) => void;
  /** The config of a partition found on disk; the broker knows each topic's settings. */
  configFor?: (topic: string, partition: number) => Partial<LogConfig>;
  onAppend?: (topic: string, partition: number) => void;
  /** log.retention.check.interval.ms */
  retentionCheckIntervalMs?: number;
  /** How often flush.ms and checkpoints are looked at. */
  tickIntervalMs?: number;
}

/** Logs opened at once during start-up. */
const OPEN_CONCURRENCY = 8;

export function partitionDirName(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/** Splits `<topic>-<partition>` at the last dash; null for names that are not partitions. */
export function parsePartitionDirName(name: string): { topic: string; partition: number } | null {
  const m = /^(.+)-(\d+)$/.exec(name);
  if (m === null) return null;
  const partition = Number(m[2]);
  if (!Number.isSafeInteger(partition) || partition > 0x7fffffff) return null;
  return { topic: m[1]!, partition };
}

export class LogManager {
  readonly fs: FileSystem;
  readonly clock: Clock;
  readonly resources: StorageResources;
  private readonly logs = new Map<string, PartitionLog>();
  private readonly opening = new Map<string, Promise<PartitionLog>>();
  private timers: NodeJS.Timeout[] = [];
  private deletions = 0;
  private closed = false;

  private constructor(
    readonly dataDir: string,
    private readonly options: LogManagerOptions,
  ) {
    this.fs = options.fs ?? nodeFileSystem;
    this.clock = options.clock ?? systemClock;
    this.resources = new StorageResources(options.limits);
  }

  static async open(dataDir: string, options: LogManagerOptions = {}): Promise<LogManager> {
    const m = new LogManager(dataDir, options);
    await m.load();
    return m;
  }

  private async load(): Promise<void> {
    await this.fs.mkdir(this.dataDir);
    const names = await this.fs.readdir(this.dataDir);
    const found: Array<{ topic: string; partition: number }> = [];
    for (const name of names) {
      if (name.endsWith('.deleting')) {
        await this.fs.removeDir(`${this.dataDir}/${name}`);
        continue;
      }
      const stat = await this.fs.stat(`${this.dataDir}/${name}`);
      const tp = stat?.isDirectory ? parsePartitionDirName(name) : null;
      if (tp !== null) found.push(tp);
    }
    for (let i = 0; i < found.length; i += OPEN_CONCURRENCY) {
      await Promise.all(found.slice(i, i + OPEN_CONCURRENCY).map((tp) => this.getOrCreate(tp.topic, tp.partition, this.options.configFor?.(tp.topic, tp.partition) ?? {})));
    }
  }

  private dirOf(topic: string, partition: number): string {
    return `${this.dataDir}/${partitionDirName(topic, partition)}`;
  }

  get(topic: string, partition: number): PartitionLog | undefined {
    return this.logs.get(partitionDirName(topic, partition));
  }

  /** Every open log, keyed by `<topic>-<partition>`. */
  all(): ReadonlyMap<string, PartitionLog> {
    return this.logs;
  }

  async getOrCreate(topic: string, partition: number, config: Partial<LogConfig> = {}): Promise<PartitionLog> {
    const key = partitionDirName(topic, partition);
    const existing = this.logs.get(key);
    if (existing !== undefined) return existing;
    let pending = this.opening.get(key);
    if (pending === undefined) {
      const onAppend = this.options.onAppend;
      pending = PartitionLog.open(this.dirOf(topic, partition), config, {
        fs: this.fs,
        clock: this.clock,
        resources: this.resources,
        ...(this.options.log ? { log: this.options.log } : {}),
        ...(onAppend ? { onAppend: () => onAppend(topic, partition) } : {}),
      });
      this.opening.set(key, pending);
      try {
        const log = await pending;
        this.logs.set(key, log);
        // A new partition directory must survive a crash along with its first fsync.
        await this.fs.syncDir(this.dataDir);
      } finally {
        this.opening.delete(key);
      }
    }
    return pending;
  }

  /** Deletes the partitions of a topic and their files. */
  async deleteTopic(topic: string): Promise<number> {
    let n = 0;
    for (const [key, log] of [...this.logs]) {
      const tp = parsePartitionDirName(key);
      if (tp === null || tp.topic !== topic) continue;
      this.logs.delete(key);
      await log.close();
      const doomed = `${this.dataDir}/${key}.${++this.deletions}-${this.clock.nowMs()}.deleting`;
      await this.fs.rename(`${this.dataDir}/${key}`, doomed);
      await this.fs.syncDir(this.dataDir);
      await this.fs.removeDir(doomed);
      n++;
    }
    return n;
  }

  /** Runs retention on every log once; returns the number of segments deleted. */
  async applyRetention(): Promise<number> {
    let n = 0;
    for (const log of this.logs.values()) {
      if (log.isOffline) continue;
      n += await log.applyRetention();
    }
    return n;
  }

  async tick(): Promise<void> {
    for (const log of this.logs.values()) await log.tick();
  }

  /** Starts the background timers (not used by deterministic tests, which call tick()). */
  startScheduler(): void {
    const every = (ms: number, f: () => Promise<unknown>): void => {
      let running = false;
      const t = setInterval(() => {
        if (running || this.closed) return;
        running = true;
        f()
          .catch((e: Error) => (this.options.log ?? console.error)(`storage scheduler: ${e.message}`))
          .finally(() => (running = false));
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.options.retentionCheckIntervalMs ?? 300_000, () => this.applyRetention());
    every(this.options.tickIntervalMs ?? 1_000, () => this.tick());
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await Promise.all([...this.logs.values()].map((l) => l.close()));
    this.logs.clear();
  }
}

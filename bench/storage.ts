// Storage engine benchmark: PartitionLog append throughput (without fsync, and with group commit
// at 1, 8 and 64 concurrent writers) for 16 KiB and 1 MiB batches of 1 KiB records, and catch-up
// read throughput of a multi-GiB log, each beside raw file-system baselines measured in the same
// run, in the same directory. Run with `npm run bench:storage` (options after `--`: --dir <path> to
// put the data files elsewhere than os.tmpdir(), --log-gib <n> for the catch-up log size (default
// 4), --runs <n> for every row, --only append,durable,read to run some parts).
//
// Method:
// - Batches are built once. PartitionLog.append rewrites baseOffset in place and the tail cache
//   keeps a reference to the buffer, so every append takes the next buffer of a pool of copies
//   (larger than the per-log tail cache plus the appends in flight; a buffer in flight is never
//   reused). The raw baselines write the same pool of buffers.
// - "N writers": N async loops, each appending its next batch when its previous one resolved, until
//   a fixed total number of batches has been appended.
// - Append rows without fsync are timed until the last append resolves (data in the page cache).
//   The final flush() is excluded from the main figure and reported in its own column
//   ("incl. final fdatasync"), as the raw rows are with a final fdatasync.
// - Group commit rows (durable: true) are timed until the last append resolves, which includes
//   every fdatasync. Their byte count is chosen per row by a probe run (which doubles as the
//   warm-up) so that a run takes about DURABLE_RUN_SECONDS, and is then fixed for every run.
// - Each run of a row uses a fresh directory (fresh log or file), removed after the run. Rows of
//   a group are interleaved run by run, with the order rotated, so drift affects them alike.
// - The catch-up log is written once with 1 MiB appends, closed, and reopened (the tail cache is
//   then cold: every read goes to the segment files); the files are in the page cache (fincore
//   reports how much), which is what the ">= 1.5 GB/s from page cache" target refers to.
// - Page allocation: on virtual machines that return free memory to the host (virtio-balloon free
//   page reporting, as on the Firecracker VM this was written on), page-cache pages that were free
//   for more than about a second are ~10× slower to write into than recently freed ones, which
//   made write rows swing between ~0.4 and ~4 GB/s depending on the time since the previous run.
//   So every write run (raw and engine alike) is preceded by writing and deleting an untimed
//   scratch file of its size: each run then starts with the same supply of recently freed pages.
// - Every figure is the median of several runs (APPEND_RUNS, DURABLE_RUNS, READ_RUNS; at least 3).
//   Ratios ("× baseline" and the targets) are the median over rounds of the ratio of the two rows
//   measured in the same round, next to each other, which cancels drift between rounds (other
//   processes on the machine, the disk's state). The durable group also measures appends without
//   fsync at 64 writers, so that the group-commit target compares rows of the same rounds.
// - MB = 10^6 B, GB = 10^9 B.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { arch, cpus, loadavg, platform, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { buildUncompressedRecordBatch, RecordBatchView, type RecordInput } from '../src/protocol/record-batch.js';
import { crc32cImplementation } from '../src/protocol/crc32c.js';
import { nodeFileSystem, type FileSystem } from '../src/storage/file-system.js';
import { PartitionLog } from '../src/storage/partition-log.js';
import { DEFAULT_LOG_CONFIG } from '../src/storage/log-config.js';
import { DEFAULT_STORAGE_LIMITS, StorageResources } from '../src/storage/storage-resources.js';

// ---- options ---------------------------------------------------------------------------------

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Runs per row: short write runs are the noisiest (page allocation, other processes) and cheap. */
const RUNS_OPTION = option('runs');
const APPEND_RUNS = Math.max(3, Number(RUNS_OPTION ?? 7));
const DURABLE_RUNS = Math.max(3, Number(RUNS_OPTION ?? 5));
const READ_RUNS = Math.max(3, Number(RUNS_OPTION ?? 3));
/** --only append,durable,read: run only some of the three parts. */
const ONLY = new Set((option('only') ?? 'append,durable,read').split(','));
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const RECORD_VALUE_BYTES = 1024;
const BATCH_TARGETS = [16 * KiB, 1 * MiB];
const NO_FSYNC_BYTES = 256 * MiB;
const NO_FSYNC_WARMUP_BYTES = 32 * MiB;
const NO_FSYNC_WRITERS = [1, 64];
const DURABLE_WRITERS = [1, 8, 64];
const DURABLE_RUN_SECONDS = 0.75;
const DURABLE_BYTES_MAX = 512 * MiB;
const READ_MAX_BYTES = [1 * MiB, 4 * MiB, 16 * MiB];
const LOG_BYTES_WANTED = Number(option('log-gib') ?? 4) * GiB;
const BULK_WRITERS = 16;

const TARGET_APPEND_VS_RAW = 0.8;
const TARGET_GROUP_COMMIT_VS_APPEND = 0.5;
const TARGET_READ_BYTES_PER_SEC = 1.5e9;

// ---- helpers -----------------------------------------------------------------------------------

function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function sizeLabel(bytes: number): string {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB} GiB`;
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB} KiB`;
  return `${bytes.toLocaleString('en-US')} B`;
}

/** Bytes in MiB, for sizes that are not round. */
function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(bytes < 10 * MiB ? 1 : 0)} MiB`;
}

function rate(bytesPerSec: number): string {
  const gb = bytesPerSec / 1e9;
  if (gb >= 1) return `${gb.toFixed(2)} GB/s`;
  const mb = bytesPerSec / 1e6;
  return `${mb >= 100 ? Math.round(mb) : mb.toFixed(1)} MB/s`;
}

function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}

let sink = 0;

// ---- batches and the buffer pool -------------------------------------------------------------

/** A magic-2 batch of as many records with 1 KiB values (8-byte keys) as fit in `targetBytes`. */
function buildBatch(targetBytes: number): { buf: Buffer; records: number } {
  const baseTimestamp = BigInt(Date.now()); // segment.ms rolls by record timestamps: use current ones
  for (let n = Math.floor(targetBytes / RECORD_VALUE_BYTES); n > 0; n--) {
    const records: RecordInput[] = [];
    for (let i = 0; i < n; i++) {
      const key = Buffer.alloc(8);
      key.writeBigUInt64BE(BigInt(i));
      const value = Buffer.alloc(RECORD_VALUE_BYTES);
      for (let j = 0; j < value.length; j++) value[j] = (i * 31 + j * 7) & 0xff;
      records.push({ key, value, timestamp: baseTimestamp + BigInt(i) });
    }
    const buf = buildUncompressedRecordBatch({ records, baseTimestamp, producerId: -1n, producerEpoch: -1, baseSequence: -1 });
    if (buf.length <= targetBytes) {
      if (new RecordBatchView(buf).validate(1 << 30) !== null) throw new Error('benchmark batch does not validate');
      return { buf, records: n };
    }
  }
  throw new Error(`no batch fits in ${targetBytes} bytes`);
}

/** Copies of one batch, handed out in turn; a copy is never handed out again while in flight. */
class BatchPool {
  readonly bufs: Buffer[] = [];
  private readonly busy: Uint8Array;
  private next = 0;

  constructor(
    template: Buffer,
    count: number,
    readonly recordsPerBatch: number,
  ) {
    for (let i = 0; i < count; i++) {
      const b = Buffer.allocUnsafeSlow(template.length);
      template.copy(b);
      this.bufs.push(b);
    }
    this.busy = new Uint8Array(count);
  }

  get batchBytes(): number {
    return this.bufs[0]!.length;
  }

  take(): number {
    const slot = this.next;
    this.next = (this.next + 1) % this.bufs.length;
    if (this.busy[slot] !== 0) throw new Error('buffer pool too small: a batch in flight would be reused');
    this.busy[slot] = 1;
    return slot;
  }

  release(slot: number): void {
    this.busy[slot] = 0;
  }
}

// ---- file system with counters (engine runs) ---------------------------------------------------

const counters = { writev: 0, datasync: 0 };

/** nodeFileSystem, counting writev and datasync calls on the files it opens. */
const countingFileSystem: FileSystem = {
  ...nodeFileSystem,
  async open(path, create) {
    const f = await nodeFileSystem.open(path, create);
    const writev = f.writev.bind(f);
    const datasync = f.datasync.bind(f);
    f.writev = (buffers, position) => {
      counters.writev++;
      return writev(buffers, position);
    };
    if (f.writevSync !== undefined) {
      const writevSync = f.writevSync.bind(f);
      f.writevSync = (buffers, position) => {
        counters.writev++;
        writevSync(buffers, position);
      };
    }
    f.datasync = () => {
      counters.datasync++;
      return datasync();
    };
    return f;
  },
};

// ---- results -----------------------------------------------------------------------------------

interface RunSample {
  seconds: number;
  /** Seconds until everything was also fdatasync'ed (no-fsync rows), else = seconds. */
  secondsWithFlush: number;
  bytes: number;
  cpuSeconds: number;
  writev?: number;
  datasync?: number;
}

interface Row {
  group: string;
  name: string;
  kind: 'raw' | 'engine';
  bytesPerRun: number;
  samples: RunSample[];
  /** Name of the row this one is compared with in the "× baseline" column. */
  baseline?: string;
  note?: string;
  batchBytes?: number;
}

const rows: Row[] = [];

function bytesPerSec(row: Row): number {
  return median(row.samples.map((s) => s.bytes / s.seconds));
}

function bytesPerSecWithFlush(row: Row): number {
  return median(row.samples.map((s) => s.bytes / s.secondsWithFlush));
}

function find(name: string): Row {
  const r = rows.find((x) => x.name === name);
  if (r === undefined) throw new Error(`no row ${name}`);
  return r;
}

/** Median over rounds of row / baseline, each round's two runs having been made side by side. */
function pairedRatio(row: Row, base: Row, baseWithFlush = false): number {
  const n = Math.min(row.samples.length, base.samples.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = row.samples[i]!;
    const b = base.samples[i]!;
    ratios.push(a.bytes / a.seconds / (b.bytes / (baseWithFlush ? b.secondsWithFlush : b.seconds)));
  }
  return median(ratios);
}

function has(...names: string[]): boolean {
  return names.every((n) => rows.some((x) => x.name === n && x.samples.length > 0));
}

// ---- directories -------------------------------------------------------------------------------

const baseParent = option('dir') ?? tmpdir();
/** The first directory that mkdir created (removed at the end), when --dir did not exist. */
const createdParent = await fsp.mkdir(baseParent, { recursive: true });
const baseDir = await fsp.mkdtemp(join(baseParent, 'ferry-bench-storage-'));
let runCounter = 0;
function freshPath(label: string): string {
  return join(baseDir, `${label}-${runCounter++}`);
}

let cleanedUp = false;
function cleanupSync(): void {
  if (cleanedUp) return;
  cleanedUp = true;
  fs.rmSync(createdParent ?? baseDir, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    cleanupSync();
    process.exit(130);
  });
}

// ---- page warm-up (see the header) -------------------------------------------------------------

const scratchChunk = Buffer.alloc(MiB, 0x5a);

/** Writes and deletes a scratch file of `bytes` (plus a margin), so the next run gets recently freed pages. */
function warmPages(bytes: number): void {
  const path = freshPath('scratch');
  const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
  try {
    const total = bytes + 64 * MiB;
    for (let position = 0; position < total; position += scratchChunk.length) writeAllSync(fd, scratchChunk, position);
  } finally {
    fs.closeSync(fd);
    fs.rmSync(path, { force: true });
  }
}

// ---- raw baselines ---------------------------------------------------------------------------

function writeAllSync(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) {
    const n = fs.writeSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) throw new Error('write made no progress');
    done += n;
  }
}

/** fs.writeSync of one batch per call at increasing positions; fdatasync every `syncEvery` writes (0 = only at the end). */
function rawWriteSync(pool: BatchPool, count: number, syncEvery: number): RunSample {
  const path = freshPath('raw');
  const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
  try {
    const cpu0 = process.cpuUsage();
    const t0 = now();
    let position = 0;
    for (let i = 0; i < count; i++) {
      const buf = pool.bufs[i % pool.bufs.length]!;
      writeAllSync(fd, buf, position);
      position += buf.length;
      if (syncEvery > 0 && ((i + 1) % syncEvery === 0 || i === count - 1)) fs.fdatasyncSync(fd);
    }
    const t1 = now();
    if (syncEvery === 0) fs.fdatasyncSync(fd);
    const t2 = now();
    const cpu = process.cpuUsage(cpu0);
    return { seconds: t1 - t0, secondsWithFlush: t2 - t0, bytes: position, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  } finally {
    fs.closeSync(fd);
    fs.rmSync(path, { force: true });
  }
}

/** FileHandle.writev of `gather` batches per call, awaited one after another; fdatasync at the end. */
async function rawWritevAsync(pool: BatchPool, count: number, gather: number): Promise<RunSample> {
  const path = freshPath('raw');
  const fh = await fsp.open(path, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
  try {
    const cpu0 = process.cpuUsage();
    const t0 = now();
    let position = 0;
    for (let i = 0; i < count; ) {
      const buffers: Buffer[] = [];
      let bytes = 0;
      for (; buffers.length < gather && i < count; i++) {
        const b = pool.bufs[i % pool.bufs.length]!;
        buffers.push(b);
        bytes += b.length;
      }
      const { bytesWritten } = await fh.writev(buffers, position);
      if (bytesWritten !== bytes) throw new Error('short writev in a baseline');
      position += bytes;
    }
    const t1 = now();
    await fh.datasync();
    const t2 = now();
    const cpu = process.cpuUsage(cpu0);
    return { seconds: t1 - t0, secondsWithFlush: t2 - t0, bytes: position, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  } finally {
    await fh.close();
    await fsp.rm(path, { force: true });
  }
}

// ---- engine appends ------------------------------------------------------------------------------

async function engineAppend(pool: BatchPool, count: number, writers: number, durable: boolean): Promise<RunSample> {
  const dir = freshPath('log');
  const log = await PartitionLog.open(dir, {}, { fs: countingFileSystem, resources: new StorageResources(), log: (m) => progress(`  storage: ${m}`) });
  try {
    let issued = 0;
    const writer = async (): Promise<void> => {
      while (issued < count) {
        issued++;
        const slot = pool.take();
        await log.append(pool.bufs[slot]!, { durable });
        pool.release(slot);
      }
    };
    const w0 = counters.writev;
    const d0 = counters.datasync;
    const cpu0 = process.cpuUsage();
    const t0 = now();
    await Promise.all(Array.from({ length: writers }, writer));
    const t1 = now();
    const writev = counters.writev - w0;
    const datasync = counters.datasync - d0;
    await log.flush();
    const t2 = now();
    const cpu = process.cpuUsage(cpu0);
    if (log.logEndOffset !== count * pool.recordsPerBatch) throw new Error(`log end ${log.logEndOffset}, expected ${count * pool.recordsPerBatch}`);
    return {
      seconds: t1 - t0,
      secondsWithFlush: durable ? t1 - t0 : t2 - t0,
      bytes: count * pool.batchBytes,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      writev,
      datasync,
    };
  } finally {
    await log.delete();
  }
}

// ---- runner --------------------------------------------------------------------------------

interface RowSpec {
  row: Row;
  run: () => Promise<RunSample> | RunSample;
  /** Whether to run warmPages() before each run (write rows); default true. */
  warm?: boolean;
}

/** Runs every row `runs` times, interleaved run by run with a rotating order. */
async function runGroup(specs: RowSpec[], runs: number): Promise<void> {
  for (let r = 0; r < runs; r++) {
    for (let k = 0; k < specs.length; k++) {
      const spec = specs[(k + r) % specs.length]!;
      if (spec.warm !== false) warmPages(spec.row.bytesPerRun);
      const sample = await spec.run();
      spec.row.samples.push(sample);
      progress(`  [${r + 1}/${runs}] ${spec.row.name}: ${rate(sample.bytes / sample.seconds)}`);
    }
  }
}

function addRow(row: Omit<Row, 'samples'>): Row {
  const r: Row = { ...row, samples: [] };
  rows.push(r);
  return r;
}

/** Number of batches for a run of about DURABLE_RUN_SECONDS, from a probe run (also the warm-up). */
async function calibrateCount(batchBytes: number, minCount: number, run: (count: number) => Promise<RunSample> | RunSample): Promise<number> {
  const probeCount = Math.max(minCount * 4, Math.ceil((4 * MiB) / batchBytes));
  warmPages(probeCount * batchBytes);
  const s = await run(probeCount);
  const perSec = probeCount / s.seconds;
  const count = Math.round(perSec * DURABLE_RUN_SECONDS);
  return Math.max(minCount * 4, Math.min(count, Math.floor(DURABLE_BYTES_MAX / batchBytes)));
}

// ---- machine and disk ------------------------------------------------------------------------

const loadBefore = loadavg();
const statfs = await fsp.statfs(baseDir);
const freeBytes = statfs.bavail * statfs.bsize;
let logBytes = LOG_BYTES_WANTED;
let logScaledNote = '';
if (freeBytes < 3 * logBytes) {
  logBytes = Math.max(256 * MiB, Math.floor(freeBytes / 3 / (256 * MiB)) * 256 * MiB);
  logScaledNote = `Only ${sizeLabel(Math.floor(freeBytes / MiB) * MiB)} free in ${baseParent}: the catch-up log is scaled down from ${sizeLabel(LOG_BYTES_WANTED)} to ${sizeLabel(logBytes)}.`;
  progress(logScaledNote);
}
let fsType = 'unknown';
try {
  fsType = execFileSync('findmnt', ['-n', '-o', 'FSTYPE,SOURCE', '--target', baseDir], { encoding: 'utf8' }).trim();
} catch {
  // findmnt is optional
}

/** Bytes of `files` resident in the page cache (fincore), or null when fincore is unavailable. */
function residentBytes(files: string[]): number | null {
  try {
    const out = execFileSync('fincore', ['--bytes', '--noheadings', '--raw', '--output', 'RES', ...files], { encoding: 'utf8' });
    return out
      .trim()
      .split('\n')
      .reduce((sum, line) => sum + Number(line.trim()), 0);
  } catch {
    return null;
  }
}

progress(`Data directory: ${baseDir} (${fsType}), ${sizeLabel(Math.floor(freeBytes / MiB) * MiB)} free; ${APPEND_RUNS}/${DURABLE_RUNS}/${READ_RUNS} runs per row (append/durable/read).`);

const batches = new Map<number, { buf: Buffer; records: number }>();
for (const target of BATCH_TARGETS) batches.set(target, buildBatch(target));

const pageCache: { when: string; residentBytes: number | null; fileBytes: number }[] = [];
let bulkLoad: { seconds: number; bytes: number; segments: number } | null = null;

try {
  // ---- 1. appends without fsync ------------------------------------------------------------------
  for (const target of ONLY.has('append') ? BATCH_TARGETS : []) {
    const { buf, records } = batches.get(target)!;
    const maxInFlight = Math.max(...NO_FSYNC_WRITERS, ...DURABLE_WRITERS);
    const poolCount = Math.max(Math.ceil((DEFAULT_STORAGE_LIMITS.tailCacheBytesPerLogMax * 3) / buf.length), maxInFlight * 2 + 16);
    const pool = new BatchPool(buf, poolCount, records);
    const label = sizeLabel(target);
    const group = `append, no fsync, ${label} batches`;
    const count = Math.round(NO_FSYNC_BYTES / buf.length);
    const warmCount = Math.round(NO_FSYNC_WARMUP_BYTES / buf.length);
    progress(`${group}: ${count} × ${buf.length} B batches (${records} records) per run, pool of ${poolCount}`);
    const baselineName = `raw fs.writeSync, 1 batch/call (${label})`;
    const specs: RowSpec[] = [];
    const raw = addRow({ group, name: baselineName, kind: 'raw', bytesPerRun: count * buf.length, batchBytes: buf.length, note: 'baseline: pwrite per batch, no fsync' });
    specs.push({ row: raw, run: () => rawWriteSync(pool, count, 0) });
    for (const gather of [1, 64]) {
      const row = addRow({
        group,
        name: `raw FileHandle.writev, ${gather} batch${gather > 1 ? 'es' : ''}/call (${label})`,
        kind: 'raw',
        bytesPerRun: count * buf.length,
        batchBytes: buf.length,
        baseline: baselineName,
        note: 'async (libuv thread pool), awaited in turn',
      });
      specs.push({ row, run: () => rawWritevAsync(pool, count, gather) });
    }
    for (const writers of NO_FSYNC_WRITERS) {
      const row = addRow({
        group,
        name: `PartitionLog.append, ${writers} writer${writers > 1 ? 's' : ''} (${label})`,
        kind: 'engine',
        bytesPerRun: count * buf.length,
        batchBytes: buf.length,
        baseline: baselineName,
        note: 'no durable; final flush() only in the "incl. fdatasync" column',
      });
      specs.push({ row, run: () => engineAppend(pool, count, writers, false) });
    }
    // Warm-up (JIT, allocator, file system) with a smaller byte count, not recorded.
    warmPages(NO_FSYNC_BYTES);
    rawWriteSync(pool, warmCount, 0);
    await rawWritevAsync(pool, warmCount, 64);
    for (const writers of NO_FSYNC_WRITERS) await engineAppend(pool, warmCount, writers, false);
    await runGroup(specs, APPEND_RUNS);
  }

  // ---- 2. group commit ----------------------------------------------------------------------------
  for (const target of ONLY.has('durable') ? BATCH_TARGETS : []) {
    const { buf, records } = batches.get(target)!;
    const poolCount = Math.max(Math.ceil((DEFAULT_STORAGE_LIMITS.tailCacheBytesPerLogMax * 3) / buf.length), 64 * 2 + 16);
    const pool = new BatchPool(buf, poolCount, records);
    const label = sizeLabel(target);
    const group = `durable appends (fdatasync), ${label} batches`;
    const specs: RowSpec[] = [];
    for (const every of DURABLE_WRITERS) {
      const count = await calibrateCount(buf.length, every, (n) => rawWriteSync(pool, n, every));
      const row = addRow({
        group,
        name: `raw fs.writeSync + fdatasync every ${every} write${every > 1 ? 's' : ''} (${label})`,
        kind: 'raw',
        bytesPerRun: count * buf.length,
        batchBytes: buf.length,
        note: every === 1 ? 'baseline for 1 writer' : `baseline for ${every} writers`,
      });
      specs.push({ row, run: () => rawWriteSync(pool, count, every) });
    }
    for (const writers of DURABLE_WRITERS) {
      const count = await calibrateCount(buf.length, writers, (n) => engineAppend(pool, n, writers, true));
      const row = addRow({
        group,
        name: `PartitionLog.append durable, ${writers} writer${writers > 1 ? 's' : ''} (${label})`,
        kind: 'engine',
        bytesPerRun: count * buf.length,
        batchBytes: buf.length,
        baseline: `raw fs.writeSync + fdatasync every ${writers} write${writers > 1 ? 's' : ''} (${label})`,
        note: 'group commit; timed until the last append resolved',
      });
      specs.push({ row, run: () => engineAppend(pool, count, writers, true) });
      if (writers === 64) {
        // The same appends without fsync, in the same rounds: the reference of the group-commit target.
        const reference = addRow({
          group,
          name: `PartitionLog.append not durable, 64 writers (${label})`,
          kind: 'engine',
          bytesPerRun: count * buf.length,
          batchBytes: buf.length,
          note: 'reference for the group-commit target: same bytes, no fsync (final flush() only in "incl. fdatasync")',
        });
        specs.push({ row: reference, run: () => engineAppend(pool, count, 64, false) });
      }
    }
    progress(`${group}: ${specs.map((s) => `${s.row.name.split(' (')[0]}: ${s.row.bytesPerRun / buf.length} batches`).join('; ')}`);
    await runGroup(specs, DURABLE_RUNS);
  }

  // ---- 3. catch-up reads ----------------------------------------------------------------------------
  if (ONLY.has('read')) {
    const { buf, records } = batches.get(1 * MiB)!;
    const pool = new BatchPool(buf, Math.max(Math.ceil((DEFAULT_STORAGE_LIMITS.tailCacheBytesPerLogMax * 3) / buf.length), BULK_WRITERS * 2 + 16), records);
    const count = Math.round(logBytes / buf.length);
    const dir = freshPath('catchup');
    progress(`catch-up log: writing ${count} × ${buf.length} B batches (${sizeLabel(logBytes)}) with ${BULK_WRITERS} writers, then close and reopen`);
    {
      const log = await PartitionLog.open(dir, {}, { resources: new StorageResources(), log: (m) => progress(`  storage: ${m}`) });
      let issued = 0;
      const t0 = now();
      await Promise.all(
        Array.from({ length: BULK_WRITERS }, async () => {
          while (issued < count) {
            issued++;
            const slot = pool.take();
            await log.append(pool.bufs[slot]!, {});
            pool.release(slot);
          }
        }),
      );
      await log.close();
      bulkLoad = { seconds: now() - t0, bytes: count * buf.length, segments: log.segmentCount };
      progress(`  written and closed in ${bulkLoad.seconds.toFixed(1)} s (${rate(bulkLoad.bytes / bulkLoad.seconds)}, ${bulkLoad.segments} segments, incl. roll and close fdatasyncs)`);
    }
    const segmentFiles = (await fsp.readdir(dir)).filter((n) => n.endsWith('.log')).sort().map((n) => join(dir, n));
    let fileBytes = 0;
    for (const f of segmentFiles) fileBytes += (await fsp.stat(f)).size;
    pageCache.push({ when: 'after writing, before reading', residentBytes: residentBytes(segmentFiles), fileBytes });

    const log = await PartitionLog.open(dir, {}, { resources: new StorageResources(), log: (m) => progress(`  storage: ${m}`) });
    try {
      if (log.logEndOffset !== count * records) throw new Error(`reopened log ends at ${log.logEndOffset}, expected ${count * records}`);
      const engineRead = async (maxBytes: number): Promise<RunSample> => {
        let offset = log.logStartOffset;
        const end = log.logEndOffset;
        let bytes = 0;
        let acc = 0;
        const cpu0 = process.cpuUsage();
        const t0 = now();
        while (offset < end) {
          const r = await log.read(offset, maxBytes);
          if (r.bytes === 0) throw new Error(`empty read at offset ${offset}`);
          bytes += r.bytes;
          const last = r.chunks[r.chunks.length - 1]!;
          acc = (acc + last[last.length - 1]!) | 0;
          offset = r.nextOffset;
        }
        const t1 = now();
        const cpu = process.cpuUsage(cpu0);
        sink ^= acc;
        if (bytes !== fileBytes) throw new Error(`read ${bytes} bytes, the log holds ${fileBytes}`);
        return { seconds: t1 - t0, secondsWithFlush: t1 - t0, bytes, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
      };
      const rawRead = async (chunk: number, fresh: boolean): Promise<RunSample> => {
        let bytes = 0;
        let acc = 0;
        const reused = Buffer.allocUnsafe(chunk);
        const cpu0 = process.cpuUsage();
        const t0 = now();
        for (const path of segmentFiles) {
          const fh = await fsp.open(path, 'r');
          try {
            const size = (await fh.stat()).size;
            let position = 0;
            while (position < size) {
              const target = fresh ? Buffer.allocUnsafe(Math.min(chunk, size - position)) : reused;
              const { bytesRead } = await fh.read(target, 0, Math.min(chunk, size - position), position);
              if (bytesRead === 0) throw new Error('unexpected end of file');
              acc = (acc + target[bytesRead - 1]!) | 0;
              position += bytesRead;
            }
            bytes += size;
          } finally {
            await fh.close();
          }
        }
        const t1 = now();
        const cpu = process.cpuUsage(cpu0);
        sink ^= acc;
        return { seconds: t1 - t0, secondsWithFlush: t1 - t0, bytes, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
      };
      for (const maxBytes of READ_MAX_BYTES) {
        const label = sizeLabel(maxBytes);
        const group = `catch-up read of a ${mib(fileBytes)} log, maxBytes ${label}`;
        const baselineName = `raw FileHandle.read ${label} into a reused buffer`;
        const specs: RowSpec[] = [
          {
            row: addRow({ group, name: baselineName, kind: 'raw', bytesPerRun: fileBytes, note: 'baseline: sequential preads of the segment files' }),
            run: () => rawRead(maxBytes, false),
            warm: false,
          },
          {
            row: addRow({ group, name: `raw FileHandle.read ${label} into a fresh buffer`, kind: 'raw', bytesPerRun: fileBytes, baseline: baselineName, note: 'Buffer.allocUnsafe per read, as the engine does' }),
            run: () => rawRead(maxBytes, true),
            warm: false,
          },
          {
            row: addRow({ group, name: `PartitionLog.read maxBytes ${label}`, kind: 'engine', bytesPerRun: fileBytes, baseline: baselineName, note: 'from offset 0 to the end; cold tail cache' }),
            run: () => engineRead(maxBytes),
            warm: false,
          },
        ];
        await runGroup(specs, READ_RUNS);
      }
      pageCache.push({ when: 'after reading', residentBytes: residentBytes(segmentFiles), fileBytes });
    } finally {
      await log.delete();
    }
  }
} finally {
  cleanupSync();
}

// ---- report --------------------------------------------------------------------------------

const cpu = cpus();
const machine = {
  node: process.version,
  v8: process.versions.v8,
  platform: `${platform()} ${arch()}`,
  cpu: cpu[0]?.model ?? 'unknown',
  cpus: cpu.length,
  memoryGiB: Math.round(totalmem() / GiB),
  fileSystem: fsType,
  freeBytesAtStart: freeBytes,
  crc32cImplementation,
  loadAverageBefore: loadBefore.map((x) => Math.round(x * 100) / 100),
  loadAverageAfter: loadavg().map((x) => Math.round(x * 100) / 100),
};

function cpuPercent(row: Row): string {
  return `${Math.round(median(row.samples.map((s) => (100 * s.cpuSeconds) / s.seconds)))}%`;
}

function callsNote(row: Row): string {
  const s = row.samples;
  if (s.length === 0 || s[0]!.writev === undefined) return '';
  const batchesPerRun = row.bytesPerRun / row.batchBytes!;
  const writev = median(s.map((x) => x.writev!));
  const datasync = median(s.map((x) => x.datasync!));
  const parts = [`${(batchesPerRun / writev).toFixed(1)} batches/writev`];
  if (datasync > 0) parts.push(`${(batchesPerRun / datasync).toFixed(1)} batches/fdatasync`);
  return parts.join(', ');
}

const lines: string[] = [];
lines.push(`Node ${machine.node} (V8 ${machine.v8}), ${machine.platform}, ${machine.cpu} × ${machine.cpus}, ${machine.memoryGiB} GiB; file system ${fsType}; CRC-32C: ${crc32cImplementation}`);
lines.push(`Load average (1 min) before/after: ${machine.loadAverageBefore[0]} / ${machine.loadAverageAfter[0]}.`);
if (Math.max(loadBefore[0]!, loadavg()[0]!) > cpu.length / 2) {
  lines.push(`**Warning:** other processes were busy on these ${cpu.length} CPUs (load average above ${cpu.length / 2}); write figures in particular swing with them (see runs min–max).`);
}
for (const target of BATCH_TARGETS) {
  const b = batches.get(target)!;
  lines.push(`${sizeLabel(target)} batch: ${b.records} records × (${RECORD_VALUE_BYTES} B value + 8 B key) = ${b.buf.length.toLocaleString('en-US')} B.`);
}
lines.push(
  `Median of ${APPEND_RUNS} (appends without fsync), ${DURABLE_RUNS} (durable appends) and ${READ_RUNS} (reads) runs; "× baseline" = median of the per-round ratios to the baseline row run beside it; MB = 10^6 B, GB = 10^9 B. No-fsync rows: time until the last write/append returned (page cache); "incl. fdatasync" adds the final flush. ` +
    `Durable rows: time until the last append resolved. CPU = process CPU time (all threads) / wall time.`,
);
if (logScaledNote !== '') lines.push(logScaledNote);
if (bulkLoad !== null) {
  lines.push(
    `Catch-up log: written with ${BULK_WRITERS} writers of 1 MiB appends in ${bulkLoad.seconds.toFixed(1)} s (${rate(bulkLoad.bytes / bulkLoad.seconds)} incl. segment-roll and close fdatasyncs), ${bulkLoad.segments} segments of ≤ ${sizeLabel(DEFAULT_LOG_CONFIG.segmentBytes)}, closed and reopened (cold tail cache).`,
  );
}
for (const p of pageCache) {
  lines.push(
    `Page cache ${p.when}: ${p.residentBytes === null ? 'unknown (fincore unavailable)' : `${((100 * p.residentBytes) / p.fileBytes).toFixed(1)}% of ${mib(p.fileBytes)} resident`} (fincore).`,
  );
}
lines.push('');
lines.push('| benchmark | bytes/run | throughput (median) | runs min–max | incl. fdatasync | × baseline | CPU | note |');
lines.push('|---|---:|---:|---:|---:|---:|---:|---|');
let lastGroup = '';
for (const r of rows) {
  if (r.group !== lastGroup) {
    lines.push(`| **${r.group}** | | | | | | | |`);
    lastGroup = r.group;
  }
  const perRun = r.samples.map((s) => s.bytes / s.seconds);
  const base = r.baseline === undefined ? undefined : find(r.baseline);
  const ratio = base === undefined ? '—' : `${pairedRatio(r, base).toFixed(2)}×`;
  const withFlush = r.samples.some((s) => s.secondsWithFlush !== s.seconds) ? rate(bytesPerSecWithFlush(r)) : '—';
  const note = [r.note ?? '', callsNote(r)].filter((x) => x !== '').join('; ');
  lines.push(
    `| ${r.name} | ${mib(r.bytesPerRun)} | ${rate(bytesPerSec(r))} | ${rate(Math.min(...perRun))}–${rate(Math.max(...perRun))} | ${withFlush} | ${ratio} | ${cpuPercent(r)} | ${note} |`,
  );
}

// ---- targets ----------------------------------------------------------------------------------

interface TargetResult {
  target: string;
  measured: string;
  value: number;
  required: number;
  pass: boolean;
}
const targets: TargetResult[] = [];
for (const target of BATCH_TARGETS) {
  const label = sizeLabel(target);
  if (!has(`raw fs.writeSync, 1 batch/call (${label})`)) continue;
  const raw = find(`raw fs.writeSync, 1 batch/call (${label})`);
  for (const writers of NO_FSYNC_WRITERS) {
    const eng = find(`PartitionLog.append, ${writers} writer${writers > 1 ? 's' : ''} (${label})`);
    const value = pairedRatio(eng, raw);
    targets.push({
      target: `append without fsync ≥ ${TARGET_APPEND_VS_RAW * 100}% of raw sequential write (${label}, ${writers} writer${writers > 1 ? 's' : ''}, vs fs.writeSync)`,
      measured: `${rate(bytesPerSec(eng))} vs ${rate(bytesPerSec(raw))}: ${(100 * value).toFixed(0)}%`,
      value,
      required: TARGET_APPEND_VS_RAW,
      pass: value >= TARGET_APPEND_VS_RAW,
    });
  }
}
for (const target of BATCH_TARGETS) {
  const label = sizeLabel(target);
  if (!has(`PartitionLog.append durable, 64 writers (${label})`, `PartitionLog.append not durable, 64 writers (${label})`)) continue;
  const gc = find(`PartitionLog.append durable, 64 writers (${label})`);
  const nf = find(`PartitionLog.append not durable, 64 writers (${label})`);
  const value = pairedRatio(gc, nf);
  targets.push({
    target: `group commit, 64 writers ≥ ${TARGET_GROUP_COMMIT_VS_APPEND * 100}% of append without fsync (${label}; both at 64 writers, same rounds)`,
    measured: `${rate(bytesPerSec(gc))} vs ${rate(bytesPerSec(nf))}: ${(100 * value).toFixed(0)}% (vs no fsync incl. its final fdatasync: ${(100 * pairedRatio(gc, nf, true)).toFixed(0)}%)`,
    value,
    required: TARGET_GROUP_COMMIT_VS_APPEND,
    pass: value >= TARGET_GROUP_COMMIT_VS_APPEND,
  });
}
for (const maxBytes of READ_MAX_BYTES) {
  if (!has(`PartitionLog.read maxBytes ${sizeLabel(maxBytes)}`)) continue;
  const r = find(`PartitionLog.read maxBytes ${sizeLabel(maxBytes)}`);
  const value = bytesPerSec(r);
  targets.push({
    target: `catch-up read ≥ ${TARGET_READ_BYTES_PER_SEC / 1e9} GB/s from page cache (maxBytes ${sizeLabel(maxBytes)})`,
    measured: rate(value),
    value,
    required: TARGET_READ_BYTES_PER_SEC,
    pass: value >= TARGET_READ_BYTES_PER_SEC,
  });
}
lines.push('');
lines.push('| target | measured | result |');
lines.push('|---|---|---|');
for (const t of targets) lines.push(`| ${t.target} | ${t.measured} | ${t.pass ? 'PASS' : '**FAIL**'} |`);

console.log(lines.join('\n'));
console.log('');
console.log(
  JSON.stringify(
    {
      machine,
      runs: { append: APPEND_RUNS, durable: DURABLE_RUNS, read: READ_RUNS },
      logBytes,
      logScaledDown: logScaledNote !== '',
      bulkLoad,
      pageCache,
      results: rows.map((r) => ({
        group: r.group,
        name: r.name,
        bytesPerRun: r.bytesPerRun,
        mbPerSec: Math.round(bytesPerSec(r) / 1e4) / 100,
        mbPerSecWithFlush: Math.round(bytesPerSecWithFlush(r) / 1e4) / 100,
        runsMbPerSec: r.samples.map((s) => Math.round(s.bytes / s.seconds / 1e4) / 100),
        baseline: r.baseline ?? null,
        ratioToBaseline: r.baseline === undefined ? null : Math.round(pairedRatio(r, find(r.baseline)) * 1000) / 1000,
        cpuPercent: Math.round(median(r.samples.map((s) => (100 * s.cpuSeconds) / s.seconds))),
        writevCalls: r.samples[0]?.writev === undefined ? null : r.samples.map((s) => s.writev),
        datasyncCalls: r.samples[0]?.datasync === undefined ? null : r.samples.map((s) => s.datasync),
      })),
      targets: targets.map((t) => ({ target: t.target, measured: t.measured, value: Math.round(t.value * 1000) / 1000, required: t.required, pass: t.pass })),
      checksum: sink,
    },
    null,
    2,
  ),
);

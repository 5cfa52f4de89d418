/**
 * Model-based tests of PartitionLog on the in-memory file system, with a manual clock.
 *
 * fast-check generates a scenario (log configs, storage limits, a list of steps); the steps
 * are replayed against one or two PartitionLogs sharing a MemoryFileSystem and a
 * StorageResources, and against a model (log-model.ts) of what each log must hold. Steps:
 * groups of concurrent appends / reads / flushes / retention runs (started without awaiting,
 * with microtask gaps between some, possibly with an injected I/O fault or a power loss in
 * the middle), reads at random offsets, full scans, offsetForTimestamp, clock advances,
 * retention, deleteRecordsBefore, truncateTo, flush, tick, clean close + reopen, and power
 * loss (torn writes) + recovery, possibly with another power loss during recovery.
 *
 * Each run is deterministic: the scenario fixes every input, and power losses draw from a
 * generator seeded by the scenario. On failure fast-check prints the seed and path; replay
 * with FERRY_MODEL_SEED=<seed> FERRY_MODEL_PATH=<path> and --test-name-pattern=<that test>
 * (FERRY_MODEL_TRACE=1 prints the steps and engine messages of the counterexample).
 * FERRY_MODEL_RUNS=<n> runs each property n times (default 40-200), FERRY_MODEL_STEPS=<n>
 * makes scenarios up to n steps long, FERRY_MODEL_STATS=1 prints how often each path was taken.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import { RecordBatchView } from '../../src/protocol/record-batch.js';
import { ManualClock } from '../../src/storage/clock.js';
import { type LogConfig, logConfig } from '../../src/storage/log-config.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { LogOfflineError, StorageError } from '../../src/storage/storage-errors.js';
import { StorageResources, type StorageLimits } from '../../src/storage/storage-resources.js';
import {
  type BatchSpec,
  LogModel,
  type ModelBatch,
  Process,
  type RecordSpec,
  UNASSIGNED,
  buildBatch,
  checkReadResult,
  pick,
  settle,
  ticks,
} from './log-model.js';
import { type FsOperation, MemoryFileSystem, seededRng } from './memory-file-system.js';

// ---- scenarios -----------------------------------------------------------------------------------

type GroupItem =
  | { t: 'append'; batch: BatchSpec; durable: boolean }
  | { t: 'read'; at: number; maxBytes: number }
  | { t: 'flush' }
  | { t: 'yield'; ticks: number }
  | { t: 'retention' }
  | { t: 'timestamp'; delta: number };

interface Fault {
  op: FsOperation;
  /** Where among the group's items the fault is armed (fraction). */
  at: number;
  discardUnsynced: boolean;
  /** How the log is brought back if it went offline. */
  recovery: 'crash' | 'restart';
}

type Step =
  | { t: 'group'; log: number; items: GroupItem[]; fault: Fault | null; crash: { ticks: number; openTicks: number | null } | null }
  | { t: 'read'; log: number; where: 'in' | 'below' | 'above'; at: number; maxBytes: number; end: number | null }
  | { t: 'scan'; log: number; maxBytes: number }
  | { t: 'timestamp'; log: number; delta: number }
  | { t: 'advance'; ms: number }
  | { t: 'retention'; log: number }
  | { t: 'deleteRecords'; log: number; above: boolean; at: number }
  | { t: 'truncate'; log: number; at: number }
  | { t: 'flush'; log: number }
  | { t: 'tick'; log: number }
  | { t: 'reopen'; log: number }
  | { t: 'crash'; openTicks: number | null };

interface Scenario {
  seed: number;
  configs: Array<Partial<LogConfig>>;
  limits: Partial<StorageLimits>;
  steps: Step[];
}

const RUNS = Number(process.env.FERRY_MODEL_RUNS ?? 0) || 0;
/** FERRY_MODEL_STEPS=<n>: longer (or shorter) scenarios than the default 30-40 steps. */
const STEPS = Number(process.env.FERRY_MODEL_STEPS ?? 0) || 0;
/** With FERRY_MODEL_STATS set, how often each path was taken is printed (to keep the generators honest). */
const STATS = process.env.FERRY_MODEL_STATS !== undefined;
const stats = new Map<string, number>();
const count = (name: string, n = 1): void => void (STATS && stats.set(name, (stats.get(name) ?? 0) + n));
const WEEK_MS = 7 * 24 * 60 * 60 * 1000;

/** Sizes: small ones make rolls and index lookups frequent; large ones pass the 64 KiB read window. */
interface Sizes {
  valueMax: number;
  segmentBytes: [number, number];
  indexIntervalBytes: [number, number];
  retentionBytes: [number, number];
}
const SMALL: Sizes = { valueMax: 400, segmentBytes: [300, 3000], indexIntervalBytes: [0, 500], retentionBytes: [500, 6000] };
const LARGE: Sizes = { valueMax: 40_000, segmentBytes: [20_000, 300_000], indexIntervalBytes: [0, 100_000], retentionBytes: [50_000, 600_000] };

function batchArb(sizes: Sizes): fc.Arbitrary<BatchSpec> {
  const record: fc.Arbitrary<RecordSpec> = fc.record({
    key: fc.option(fc.integer({ min: 0, max: 24 }), { nil: null, freq: 3 }),
    value: fc.option(fc.integer({ min: 0, max: sizes.valueMax }), { nil: null, freq: 6 }),
    tsDelta: fc.integer({ min: -300, max: 300 }),
    noTimestamp: fc.integer({ min: 0, max: 24 }).map((x) => x === 0),
    header: fc.integer({ min: 0, max: 4 }).map((x) => x === 0),
  });
  return fc.record({
    records: fc.array(record, { minLength: 1, maxLength: 5 }),
    tsBase: fc.integer({ min: -6000, max: 1500 }),
    gzip: fc.integer({ min: 0, max: 9 }).map((x) => x === 0),
    fill: fc.integer({ min: 0, max: 255 }),
  });
}

function configArb(sizes: Sizes): fc.Arbitrary<Partial<LogConfig>> {
  return fc.record({
    segmentBytes: fc.integer({ min: sizes.segmentBytes[0], max: sizes.segmentBytes[1] }),
    indexIntervalBytes: fc.integer({ min: sizes.indexIntervalBytes[0], max: sizes.indexIntervalBytes[1] }),
    retentionMs: fc.oneof(fc.constant(-1), fc.integer({ min: 1000, max: 8000 })),
    retentionBytes: fc.oneof(fc.constant(-1), fc.integer({ min: sizes.retentionBytes[0], max: sizes.retentionBytes[1] })),
    segmentMs: fc.oneof({ weight: 5, arbitrary: fc.constant(WEEK_MS) }, { weight: 1, arbitrary: fc.integer({ min: 500, max: 5000 }) }),
    segmentIndexBytes: fc.oneof({ weight: 6, arbitrary: fc.constant(10 * 1024 * 1024) }, { weight: 1, arbitrary: fc.integer({ min: 16, max: 64 }) }),
    flushMessages: fc.oneof({ weight: 5, arbitrary: fc.constant(Infinity) }, { weight: 1, arbitrary: fc.integer({ min: 2, max: 8 }) }),
    flushMs: fc.oneof({ weight: 4, arbitrary: fc.constant(Infinity) }, { weight: 1, arbitrary: fc.constant(0) }),
  });
}

const tinyLimitsArb: fc.Arbitrary<Partial<StorageLimits>> = fc.record({
  openSegmentFilesMax: fc.integer({ min: 1, max: 3 }),
  indexBytesMax: fc.integer({ min: 0, max: 4000 }),
  tailCacheBytesMax: fc.integer({ min: 0, max: 4000 }),
  tailCacheBytesPerLogMax: fc.integer({ min: 0, max: 3000 }),
});

const FAULT_OPS: FsOperation[] = ['datasync', 'writev', 'datasync', 'writev', 'syncDir', 'open', 'truncate'];

interface Weights {
  /** Step weight of a group (against ~19 for the other steps together). */
  group: number;
  /** Percent of groups with an injected fault. */
  faultPercent: number;
  /** Percent of groups cut by a power loss. */
  crashPercent: number;
  /** Step weight of a power loss between steps. */
  crash: number;
}

/** `arb` in `percent` % of the cases, else null. */
const sometimes = <T>(percent: number, arb: fc.Arbitrary<T>): fc.Arbitrary<T | null> =>
  fc.oneof({ weight: 100 - percent, arbitrary: fc.constant(null) }, { weight: percent, arbitrary: arb });

function scenarioArb(logs: 1 | 2, limits: fc.Arbitrary<Partial<StorageLimits>>, w: Weights, maxSteps: number, sizes: Sizes = SMALL): fc.Arbitrary<Scenario> {
  const logArb = fc.integer({ min: 0, max: logs - 1 });
  const fraction = fc.noBias(fc.integer({ min: 0, max: 9999 })).map((n) => n / 10000);
  const maxBytes = fc.oneof(fc.integer({ min: 1, max: 200 }), fc.noBias(fc.integer({ min: 1, max: sizes.valueMax * 12 })));
  const item: fc.Arbitrary<GroupItem> = fc.oneof(
    { weight: 8, arbitrary: fc.record({ t: fc.constant('append' as const), batch: batchArb(sizes), durable: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('read' as const), at: fraction, maxBytes }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('flush' as const) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('yield' as const), ticks: fc.integer({ min: 1, max: 40 }) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('retention' as const) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('timestamp' as const), delta: fc.integer({ min: -9000, max: 2000 }) }) },
  );
  const fault: fc.Arbitrary<Fault> = fc
    .record({
      op: fc.constantFrom(...FAULT_OPS),
      at: fraction,
      discardUnsynced: fc.boolean(),
      recovery: fc.constantFrom('crash' as const, 'restart' as const),
    })
    // After a datasync that lost its data (Linux writeback error), only a crash is sound.
    .map((f) => (f.discardUnsynced ? { ...f, recovery: 'crash' as const } : f));
  const openTicks = sometimes(30, fc.integer({ min: 0, max: 120 }));
  const group = fc.record({
    t: fc.constant('group' as const),
    log: logArb,
    items: fc.array(item, { minLength: 1, maxLength: 8, size: 'max' }),
    fault: sometimes(w.faultPercent, fault),
    crash: sometimes(w.crashPercent, fc.record({ ticks: fc.integer({ min: 0, max: 150 }), openTicks })),
  });
  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: w.group, arbitrary: group },
    {
      weight: 3,
      arbitrary: fc.record({
        t: fc.constant('read' as const),
        log: logArb,
        where: fc.constantFrom('in' as const, 'in' as const, 'in' as const, 'below' as const, 'above' as const),
        at: fraction,
        maxBytes,
        end: fc.option(fraction, { nil: null, freq: 3 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('scan' as const), log: logArb, maxBytes }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('timestamp' as const), log: logArb, delta: fc.integer({ min: -9000, max: 2000 }) }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 4000 }) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('retention' as const), log: logArb }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('deleteRecords' as const), log: logArb, above: fc.integer({ min: 0, max: 5 }).map((x) => x === 0), at: fraction }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('truncate' as const), log: logArb, at: fraction }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('flush' as const), log: logArb }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('tick' as const), log: logArb }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('reopen' as const), log: logArb }) },
    { weight: w.crash, arbitrary: fc.record({ t: fc.constant('crash' as const), openTicks }) },
  );
  return fc.record({
    seed: fc.integer({ min: 1, max: 0x7fffffff }),
    configs: fc.array(configArb(sizes), { minLength: logs, maxLength: logs }),
    limits,
    steps: fc.array(step, { minLength: 1, maxLength: STEPS > 0 ? STEPS : maxSteps, size: 'max' }),
  });
}

// ---- the harness -----------------------------------------------------------------------------------

interface Segmentish {
  baseOffset: number;
  file: unknown;
  index: unknown;
  size: number;
}
interface LogInternals {
  segments: Segmentish[];
  tail: { bytes: number };
}
interface ResourceInternals {
  openFiles: Map<Segmentish, true>;
  loadedIndexes: Map<Segmentish, number>;
}
const internals = (log: PartitionLog): LogInternals => log as unknown as LogInternals;

interface LogUnderTest {
  index: number;
  dir: string;
  config: Partial<LogConfig>;
  full: LogConfig;
  log: PartitionLog;
  model: LogModel;
  /** Segment bases when last checked (what a recovery may keep). */
  bases: number[];
  /** Whether a premature roll is possible by design (segment.ms, segment.index.bytes). */
  rollsByTimeOrIndex: boolean;
  /**
   * Set when power is lost during (or the log goes offline after) a concurrent retention run:
   * its deletions may or may not be durable, so the log start after recovery is only bounded
   * by the start before it and the start at the crash.
   */
  retentionInFlight: { logStart: number; startAtCrash: number } | null;
}

type Outcome<T> = { state: 'pending' } | { state: 'resolved'; value: T } | { state: 'rejected'; error: unknown };

function track<T>(p: Promise<T>, proc: Process, onResolved?: (v: T) => void): { outcome: Outcome<T> } {
  const holder: { outcome: Outcome<T> } = { outcome: { state: 'pending' } };
  p.then(
    (value) => {
      if (!proc.alive) return;
      holder.outcome = { state: 'resolved', value };
      onResolved?.(value);
    },
    (error: unknown) => {
      if (!proc.alive) return;
      holder.outcome = { state: 'rejected', error };
    },
  );
  return holder;
}

function assertOffline(e: unknown, what: string): void {
  assert.ok(e instanceof LogOfflineError, `${what}: expected LogOfflineError, got ${String(e)}`);
  assert.equal(e.errorCode, ErrorCode.KAFKA_STORAGE_ERROR, what);
}

async function expectOutOfRange(p: Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof StorageError && !(e instanceof LogOfflineError), `${what}: expected StorageError, got ${String(e)}`);
    assert.equal(e.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE, what);
    return true;
  });
}

class Harness {
  readonly fs: MemoryFileSystem;
  readonly clock = new ManualClock(1_700_000_000_000);
  proc: Process;
  resources: StorageResources;
  readonly logs: LogUnderTest[] = [];
  readonly messages: string[] = [];
  private readonly crashRng: () => number;
  private readonly rng: () => number;
  /** Failures seen in promise handlers, thrown at the next check. */
  private readonly failures: unknown[] = [];

  constructor(readonly scenario: Scenario) {
    this.fs = new MemoryFileSystem({ seed: scenario.seed });
    this.crashRng = seededRng(scenario.seed ^ 0x5bd1e995);
    this.rng = seededRng(scenario.seed ^ 0x1b873593);
    this.proc = new Process(this.fs);
    this.resources = new StorageResources(scenario.limits);
  }

  private openOptions() {
    const log = (m: string): void => {
      this.messages.push(m);
      count(`engine: ${m.replace(/.*(goes offline: [a-z ]+|recovery truncates|rebuilding the indexes|checkpoint file is damaged).*/, '$1')}`);
    };
    return { fs: this.proc.fs, clock: this.clock, resources: this.resources, log };
  }

  async start(): Promise<void> {
    // The data directory exists and is durable (the LogManager's job); partitions are made by open.
    await this.fs.mkdir('/data');
    await this.fs.syncDir('/');
    for (let i = 0; i < this.scenario.configs.length; i++) {
      const config = this.scenario.configs[i]!;
      const dir = `/data/t-${i}`;
      const log = await PartitionLog.open(dir, config, this.openOptions());
      // As LogManager.getOrCreate does: the new partition directory is made durable.
      await this.fs.syncDir('/data');
      const full = logConfig(config);
      this.logs.push({
        index: i,
        dir,
        config,
        full,
        log,
        model: new LogModel(0),
        bases: log.segmentBaseOffsets,
        rollsByTimeOrIndex: full.segmentMs < WEEK_MS || full.segmentIndexBytes < 1024,
        retentionInFlight: null,
      });
    }
    await this.checkAll();
  }

  fail(e: unknown): void {
    this.failures.push(e);
  }

  private rethrow(): void {
    if (this.failures.length > 0) throw this.failures[0];
  }

  // ---- invariants ----

  async checkAll(): Promise<void> {
    await settle();
    this.rethrow();
    for (const lut of this.logs) this.checkLog(lut);
    this.checkResources();
  }

  checkLog(lut: LogUnderTest): void {
    const { log, model: m, full: cfg } = lut;
    const bases = log.segmentBaseOffsets;
    const what = `log ${lut.index} (segments ${bases}, model [${m.firstOffset}, ${m.end}) start ${m.logStart})`;
    assert.ok(!log.isOffline, `${what} is offline: ${this.messages.join(' | ')}`);
    assert.equal(log.logEndOffset, m.end, `${what}: log end`);
    assert.equal(log.logStartOffset, m.logStart, `${what}: log start`);
    assert.ok(bases.length >= 1);
    for (let i = 1; i < bases.length; i++) assert.ok(bases[i - 1]! < bases[i]!, `${what}: segment bases increase: ${bases}`);
    assert.equal(bases[0], m.firstOffset, `${what}: the first segment starts at the model's first batch (${bases})`);
    assert.ok(bases[0]! <= m.logStart && m.logStart <= m.end, `${what}: ${bases[0]} <= logStart ${m.logStart} <= end ${m.end}`);
    let total = 0;
    const facts = bases.map((b, i) => m.segmentFacts(b, bases[i + 1] ?? m.end));
    for (let i = 0; i < bases.length; i++) {
      const f = facts[i]!;
      const isLast = i === bases.length - 1;
      if (!isLast) {
        assert.ok(f.batches > 0, `${what}: sealed segment ${bases[i]} is empty`);
        const nb = bases[i + 1]!;
        const boundary = (nb === m.end && i + 1 === bases.length - 1) || (m.indexOf(nb) >= 0 && m.batches[m.indexOf(nb)]!.base === nb);
        assert.ok(boundary, `${what}: base ${nb} not a batch boundary`);
      }
      assert.ok(f.size <= cfg.segmentBytes || f.batches === 1, `${what}: segment ${bases[i]} holds ${f.size} bytes in ${f.batches} batches > segment.bytes ${cfg.segmentBytes}`);
      if (!isLast && !lut.rollsByTimeOrIndex && !m.shortBoundaries.has(bases[i + 1]!)) {
        const next = facts[i + 1]!;
        if (next.batches > 0) {
          assert.ok(f.size + next.firstSize > cfg.segmentBytes, `${what}: segment ${bases[i]} rolled early: ${f.size} + ${next.firstSize} <= ${cfg.segmentBytes} (${bases})`);
        }
      }
      total += f.size;
      if (f.size > 65536) count('checks: segments over 64 KiB');
    }
    assert.equal(log.sizeBytes, total, `${what}: sizeBytes`);
    const maxTimestamp = (log as { maxTimestamp?: number }).maxTimestamp;
    if (maxTimestamp !== undefined) assert.equal(maxTimestamp, Math.max(-1, ...facts.map((f) => f.maxTimestamp)), `${what}: maxTimestamp`);
    assert.equal(log.segmentCount, bases.length);
    const d = log.durableOffset;
    assert.ok(d <= m.end, `${what}: durableOffset ${d} beyond the end ${m.end}`);
    if (cfg.flushMessages !== Infinity) {
      let unflushed = 0;
      for (const b of m.batches) if (b.base >= d) unflushed += b.last - b.base + 1;
      assert.ok(unflushed < cfg.flushMessages, `${what}: ${unflushed} records unflushed, flush.messages ${cfg.flushMessages}`);
    }
    // Files: exactly one .log per segment, indexes only of segments, no leftovers.
    const names = this.fs.listFiles(lut.dir).map((p) => p.slice(lut.dir.length + 1));
    const logs = names.filter((n) => n.endsWith('.log')).map((n) => Number(n.slice(0, 20)));
    assert.deepEqual(logs, bases, `${what}: segment files ${names}`);
    for (const n of names) {
      if (n.endsWith('.index') || n.endsWith('.timeindex')) assert.ok(bases.includes(Number(n.slice(0, 20))), `${what}: orphan index file ${n}`);
      else if (!n.endsWith('.log')) assert.ok(n === 'partition.checkpoint', `${what}: unexpected file ${n}`);
    }
    lut.bases = bases;
  }

  checkResources(): void {
    const r = this.resources;
    if (STATS) {
      count('checks');
      count('checks: sealed files open at the limit', r.openFileCount === r.limits.openSegmentFilesMax ? 1 : 0);
      count('checks: segments (sum)', this.logs.reduce((n, l) => n + l.log.segmentCount, 0));
    }
    const limits = r.limits;
    const ri = r as unknown as ResourceInternals;
    assert.ok(r.openFileCount <= limits.openSegmentFilesMax, `open sealed files ${r.openFileCount} > ${limits.openSegmentFilesMax}`);
    assert.ok(r.loadedIndexBytes <= limits.indexBytesMax || ri.loadedIndexes.size <= 1, `loaded index bytes ${r.loadedIndexBytes} > ${limits.indexBytesMax} in ${ri.loadedIndexes.size} indexes`);
    assert.ok(r.tailCacheBytes <= limits.tailCacheBytesMax, `tail cache ${r.tailCacheBytes} > ${limits.tailCacheBytesMax}`);
    let tail = 0;
    let handles = 0;
    for (const lut of this.logs) {
      const li = internals(lut.log);
      tail += li.tail.bytes;
      assert.ok(li.tail.bytes <= limits.tailCacheBytesPerLogMax, `log ${lut.index}: tail cache ${li.tail.bytes} > ${limits.tailCacheBytesPerLogMax}`);
      const active = li.segments[li.segments.length - 1]!;
      assert.ok(!ri.openFiles.has(active), `log ${lut.index}: the active segment ${active.baseOffset} is in the open-files LRU`);
      assert.ok(!ri.loadedIndexes.has(active), `log ${lut.index}: the active segment ${active.baseOffset} is in the index LRU`);
      assert.ok(active.file !== null && active.index !== null, `log ${lut.index}: active segment without file or index`);
      for (const s of li.segments) {
        if (s.file !== null) handles++;
        if (s !== active && s.file !== null) assert.ok(ri.openFiles.has(s), `log ${lut.index}: segment ${s.baseOffset} open outside the LRU`);
        if (s !== active && s.index !== null) assert.ok(ri.loadedIndexes.has(s), `log ${lut.index}: index of ${s.baseOffset} loaded outside the LRU`);
      }
    }
    assert.equal(r.tailCacheBytes, tail, 'tail cache accounting');
    assert.equal(this.fs.openHandleCount, handles, 'open file handles = files held by segments (no leaked handles)');
  }

  // ---- crash and recovery ----

  /** Power loss: the engine's durability claims are noted, then the process dies. */
  powerLoss(): void {
    if (this.proc.alive) {
      for (const lut of this.logs) {
        lut.bases = lut.log.segmentBaseOffsets;
        const d = lut.log.durableOffset;
        assert.ok(d <= lut.model.end, `log ${lut.index}: durableOffset ${d} beyond assigned end ${lut.model.end}`);
        lut.model.durable = Math.max(lut.model.durable, d);
      }
    }
    this.proc.kill();
    const torn = this.fs.crash({ rng: this.crashRng, tornWrites: true });
    count('power loss');
    count('files with torn unsynced data kept', torn.length);
  }

  /** Starts a new process and opens every log, possibly losing power once more during that. */
  async restartAll(openTicks: number | null): Promise<void> {
    for (;;) {
      this.proc = new Process(this.fs);
      this.resources = new StorageResources(this.scenario.limits);
      const opening = this.logs.map((lut) => PartitionLog.open(lut.dir, lut.config, this.openOptions()));
      if (openTicks !== null) {
        let done = 0;
        for (const p of opening) p.then(() => done++, () => done++);
        await ticks(openTicks);
        openTicks = null;
        if (done < opening.length) {
          this.proc.kill();
          this.fs.crash({ rng: this.crashRng, tornWrites: true });
          count('power loss during recovery');
          continue;
        }
      }
      const logs = await Promise.all(opening);
      for (let i = 0; i < logs.length; i++) this.logs[i]!.log = logs[i]!;
      for (let i = 0; i < logs.length; i++) await this.adopt(this.logs[i]!, logs[i]!, 'crash', false);
      await this.checkAll();
      return;
    }
  }

  /**
   * Checks a log just opened against the model: after a clean close it is exactly the same;
   * otherwise it is a prefix of the model at least as long as what was promised.
   */
  async adopt(lut: LogUnderTest, log: PartitionLog, how: 'clean' | 'crash' | 'restart', checkAll = true): Promise<void> {
    const m = lut.model;
    const what = `log ${lut.index} after ${how} reopen`;
    assert.ok(!log.isOffline, `${what}: offline: ${this.messages.join(' | ')}`);
    const e = log.logEndOffset;
    const bases = log.segmentBaseOffsets;
    if (how === 'clean') {
      assert.equal(e, m.end, `${what}: end`);
      assert.equal(log.logStartOffset, m.logStart, `${what}: log start`);
      assert.deepEqual(bases, lut.bases, `${what}: segments`);
    } else {
      assert.ok(e >= m.durable, `${what}: recovered end ${e} < ${m.durable}, which was promised durable`);
      if (how === 'restart') assert.ok(e >= m.written, `${what}: recovered end ${e} < ${m.written}, which was written`);
      assert.ok(e <= m.end, `${what}: recovered end ${e} > assigned end ${m.end}`);
      m.truncate(e);
      const inFlight = lut.retentionInFlight;
      lut.retentionInFlight = null;
      // Segment deletions are durable with the next checkpoint; when that did not change (the
      // start had already moved past them), deleted segments below the start may come back.
      const first = m.firstOffset;
      if (bases[0]! < first) {
        assert.ok(m.restoreFrom(bases[0]!), `${what}: segment ${bases[0]} below the first ${first} was never in the log`);
        for (const b of bases) if (b <= first) m.shortBoundaries.add(b);
        if (inFlight === null) assert.ok(first <= log.logStartOffset, `${what}: deleted segments below ${first} came back above the log start ${log.logStartOffset}`);
      }
      const below = bases.filter((b) => b < e && b >= first);
      if (inFlight === null) {
        for (const b of bases) assert.ok(lut.bases.includes(b) || b === e || b < first, `${what}: unexpected segment ${b} (before: ${lut.bases})`);
        assert.deepEqual(below, lut.bases.filter((b) => b < e), `${what}: segments below the end ${e} (before: ${lut.bases})`);
        assert.equal(log.logStartOffset, Math.min(m.logStart, e), `${what}: log start`);
      } else {
        // The deletions of an interrupted retention run may or may not have become durable:
        // segments it deleted (even ones rolled meanwhile) may come back.
        for (const b of bases) {
          const i = m.indexOf(b);
          assert.ok(b === e || (b >= m.firstOffset && i >= 0 && m.batches[i]!.base === b), `${what}: unexpected segment ${b}`);
          m.shortBoundaries.add(b);
        }
        for (const b of lut.bases) if (b < e) assert.ok(below.includes(b), `${what}: segment ${b} lost (${bases})`);
        const start = log.logStartOffset;
        const lo = Math.min(inFlight.logStart, e);
        const hi = Math.min(Math.max(m.logStart, inFlight.startAtCrash), e);
        assert.ok(start >= lo && start <= hi, `${what}: log start ${start} not in [${lo}, ${hi}]`);
        m.dropBelow(bases[0]!);
      }
      m.logStart = log.logStartOffset;
      // The active segment's first batch may differ from the one its roll was decided on.
      m.shortBoundaries.add(bases[bases.length - 1]!);
    }
    assert.equal(log.durableOffset, e, `${what}: everything recovered is durable`);
    m.durable = e;
    m.written = e;
    lut.log = log;
    await this.scan(lut, 1 + Math.floor(this.rng() * 4000));
    if (checkAll) await this.checkAll();
  }

  // ---- reads ----

  async scan(lut: LogUnderTest, maxBytes: number): Promise<void> {
    const { log, model: m } = lut;
    let offset = m.logStart;
    for (let n = 0; offset < m.end; n++) {
      assert.ok(n <= m.batches.length + 1, 'scan makes progress');
      const r = await log.read(offset, maxBytes);
      checkReadResult(m, offset, maxBytes, m.end, r, `log ${lut.index}: scan at ${offset}`);
      offset = r.nextOffset;
    }
    const r = await log.read(m.end, maxBytes);
    checkReadResult(m, m.end, maxBytes, m.end, r, `log ${lut.index}: read at the end`);
  }

  // ---- steps ----

  async run(step: Step): Promise<void> {
    const lut = 'log' in step ? this.logs[step.log % this.logs.length]! : this.logs[0]!;
    const { model: m } = lut;
    switch (step.t) {
      case 'group':
        await this.group(lut, step);
        return;
      case 'read': {
        const log = lut.log;
        let offset: number;
        if (step.where === 'in') offset = pick(step.at, m.logStart, m.end);
        else if (step.where === 'below') offset = m.logStart - 1 - pick(step.at, 0, 3);
        else offset = m.end + 1 + pick(step.at, 0, 3);
        const endOffset = step.end === null ? Infinity : pick(step.end, m.logStart, m.end + 2);
        const what = `log ${lut.index}: read(${offset}, ${step.maxBytes}, ${endOffset}) in [${m.logStart}, ${m.end}]`;
        if (step.where !== 'in') {
          await expectOutOfRange(log.read(offset, step.maxBytes, endOffset), what);
        } else {
          const r = await log.read(offset, step.maxBytes, endOffset);
          checkReadResult(m, offset, step.maxBytes, Math.min(endOffset, m.end), r, what);
          count(r.bytes === 0 ? 'read: empty' : r.chunks.length > 1 || new RecordBatchView(r.chunks[0]!, 0).sizeBytes < r.bytes ? 'read: several batches' : 'read: one batch');
        }
        break;
      }
      case 'scan':
        await this.scan(lut, step.maxBytes);
        break;
      case 'timestamp': {
        const t = this.clock.nowMs() + step.delta;
        const r = await lut.log.offsetForTimestamp(t);
        assert.deepEqual(r, m.offsetForTimestamp(t), `log ${lut.index}: offsetForTimestamp(now${step.delta >= 0 ? '+' : ''}${step.delta})`);
        count(r === null ? 'offsetForTimestamp: null' : 'offsetForTimestamp: found');
        break;
      }
      case 'advance':
        this.clock.advance(step.ms);
        break;
      case 'retention': {
        const expected = predictRetention(m, lut.bases, lut.full, this.clock.nowMs(), m.logStart);
        const deleted = await lut.log.applyRetention();
        count(expected === null ? 'retention: shape checked' : 'retention: predicted');
        count('retention: segments deleted', deleted);
        this.adoptRetention(lut, expected, deleted);
        break;
      }
      case 'deleteRecords': {
        const log = lut.log;
        if (step.above) {
          const offset = m.end + 1 + pick(step.at, 0, 3);
          await expectOutOfRange(log.deleteRecordsBefore(offset), `log ${lut.index}: deleteRecordsBefore(${offset}) past the end ${m.end}`);
          break;
        }
        const offset = pick(step.at, m.firstOffset, m.end);
        const start = Math.max(m.logStart, offset);
        const expected = offset > m.logStart ? predictRetention(m, lut.bases, lut.full, this.clock.nowMs(), start) : undefined;
        const result = await log.deleteRecordsBefore(offset);
        assert.equal(result, log.logStartOffset, 'deleteRecordsBefore returns the log start');
        assert.ok(result >= start, `log ${lut.index}: deleteRecordsBefore(${offset}) left the start at ${result} < ${start}`);
        if (expected === undefined) {
          assert.equal(result, m.logStart, 'deleteRecordsBefore below the start changes nothing');
        } else {
          m.logStart = start;
          this.adoptRetention(lut, expected, null);
        }
        break;
      }
      case 'truncate': {
        const offset = pick(step.at, m.firstOffset - 2, m.end + 1);
        const bases = lut.bases;
        if (offset < m.end) {
          const keep = bases.filter((b, i) => b < offset || i === 0);
          const activeBase = keep[keep.length - 1]!;
          let end = activeBase;
          for (const b of m.batches) if (b.last < offset) end = Math.max(end, b.last + 1);
          await lut.log.truncateTo(offset);
          m.truncate(end);
          m.logStart = Math.min(m.logStart, end);
          m.shortBoundaries.add(activeBase);
          assert.deepEqual(lut.log.segmentBaseOffsets, keep, `log ${lut.index}: segments after truncateTo(${offset})`);
          assert.ok(lut.log.durableOffset <= end);
        } else {
          await lut.log.truncateTo(offset);
        }
        break;
      }
      case 'flush': {
        await lut.log.flush();
        m.durable = m.end;
        assert.equal(lut.log.durableOffset, m.end, `log ${lut.index}: durableOffset after flush`);
        break;
      }
      case 'tick': {
        await lut.log.tick();
        await settle();
        if (lut.full.flushMs === 0) assert.equal(lut.log.durableOffset, m.end, `log ${lut.index}: flush.ms 0 then tick() syncs everything`);
        break;
      }
      case 'reopen': {
        await lut.log.close();
        assert.equal(internals(lut.log).tail.bytes, 0, 'close empties the tail cache');
        const log = await PartitionLog.open(lut.dir, lut.config, this.openOptions());
        await this.adopt(lut, log, 'clean');
        break;
      }
      case 'crash':
        this.powerLoss();
        await this.restartAll(step.openTicks);
        break;
    }
    await this.checkAll();
  }

  private adoptRetention(lut: LogUnderTest, expected: RetentionOutcome | null, deleted: number | null): void {
    const { log, model: m } = lut;
    const before = lut.bases;
    const after = log.segmentBaseOffsets;
    const what = `log ${lut.index}: retention (${JSON.stringify({ retentionMs: lut.full.retentionMs, retentionBytes: lut.full.retentionBytes })}) on ${before}`;
    if (expected !== null) {
      assert.deepEqual(after, expected.bases, `${what}: segments`);
      assert.equal(log.logStartOffset, expected.logStart, `${what}: log start`);
      if (deleted !== null) assert.equal(deleted, expected.deleted, `${what}: deleted count`);
    } else {
      // Some segment's age depends on its creation time, or appends ran concurrently: check
      // the shape only. Old segments may only go from the front; new ones come after them.
      const last = before[before.length - 1]!;
      const kept = after.filter((b) => b <= last);
      const added = after.filter((b) => b > last);
      assert.deepEqual(kept, before.slice(before.length - kept.length), `${what}: only the oldest segments go (${after})`);
      if (deleted !== null) {
        // Standalone: the only new segment is the roll of an expired active segment.
        assert.ok(added.length === 0 || (added.length === 1 && added[0] === m.end), `${what}: unexpected new segments (${after})`);
        assert.equal(deleted, before.length - kept.length, `${what}: deleted count`);
      }
      if (kept.length === 0) assert.ok(added.length > 0, `${what}: the active segment stays (${after})`);
      assert.equal(log.logStartOffset, Math.max(m.logStart, after[0]!), `${what}: log start`);
      for (const b of added) m.shortBoundaries.add(b);
    }
    if (after[after.length - 1] === m.end && !before.includes(m.end)) m.shortBoundaries.add(m.end);
    m.logStart = log.logStartOffset;
    m.dropBelow(after[0]!);
  }

  /** Concurrent appends, reads, flushes and retention, with an optional fault or power loss. */
  private async group(lut: LogUnderTest, step: Extract<Step, { t: 'group' }>): Promise<void> {
    const { model: m } = lut;
    const log = lut.log;
    const proc = this.proc;
    const items = step.items;
    const built = await Promise.all(items.map((i) => (i.t === 'append' ? buildBatch(i.batch, this.clock.nowMs()) : null)));
    const appends: Array<{ batch: ModelBatch; durable: boolean; h: { outcome: Outcome<unknown> } }> = [];
    const others: Array<{ what: string; kind: 'read' | 'flush' | 'retention' | 'timestamp'; h: { outcome: Outcome<unknown> }; offset?: number }> = [];
    const refused: Array<{ outcome: Outcome<unknown> }> = [];
    /** Calls that may wait on the thread pool (gzip inflation in offsetForTimestamp), not only on microtasks. */
    const slow: Array<Promise<unknown>> = [];
    const faultAt = step.fault === null ? -1 : pick(step.fault.at, 0, items.length);
    let faulted = false;
    let retention = false;
    const startBefore = m.logStart;
    for (let k = 0; k <= items.length; k++) {
      if (k === faultAt && step.fault !== null) {
        this.fs.failNext(step.fault.op, 1, { discardUnsynced: step.fault.discardUnsynced });
        count(`fault armed: ${step.fault.op}`);
        faulted = true;
      }
      if (k === items.length) break;
      const item = items[k]!;
      switch (item.t) {
        case 'append': {
          const b = built[k]!;
          const offline = log.isOffline;
          const p = log.append(b.buf, { durable: item.durable });
          const base = b.buf.readBigInt64BE(0);
          if (offline) {
            assert.equal(base, UNASSIGNED, 'an offline log assigns no offset');
            refused.push(track(p, proc));
            break;
          }
          assert.equal(Number(base), m.end, 'append assigns the next offset');
          const batch: ModelBatch = {
            base: m.end,
            last: m.end + b.timestamps.length - 1,
            bytes: Buffer.from(b.buf),
            timestamps: b.timestamps,
            maxTimestamp: b.maxTimestamp,
          };
          m.add(batch);
          const durable = item.durable;
          const now = this.clock.nowMs();
          const h = track(p, proc, (r) => {
            try {
              assert.equal(r.baseOffset, batch.base);
              assert.equal(r.lastOffset, batch.last);
              assert.equal(r.logAppendTimeMs, now);
            } catch (e) {
              this.fail(e);
            }
            m.written = Math.max(m.written, batch.last + 1);
            if (durable) m.durable = Math.max(m.durable, batch.last + 1);
          });
          appends.push({ batch, durable, h });
          break;
        }
        case 'read': {
          const lo = log.logStartOffset;
          const end = log.logEndOffset;
          const offset = pick(item.at, lo, end);
          const offline = log.isOffline;
          const what = `log ${lut.index}: concurrent read(${offset}, ${item.maxBytes}) with end ${end}`;
          let p: Promise<unknown>;
          try {
            p = log.read(offset, item.maxBytes);
          } catch (e) {
            p = Promise.reject(e);
          }
          const h = track(p, proc, (r) => {
            try {
              assert.ok(!offline, `${what}: read succeeded on an offline log`);
              checkReadResult(m, offset, item.maxBytes, end, r as Awaited<ReturnType<PartitionLog['read']>>, what);
            } catch (e) {
              this.fail(e);
            }
          });
          others.push({ what, kind: 'read', h, offset });
          break;
        }
        case 'flush': {
          const end = m.end;
          const h = track(log.flush(), proc, () => {
            m.durable = Math.max(m.durable, end);
          });
          others.push({ what: `log ${lut.index}: flush with end ${end}`, kind: 'flush', h });
          break;
        }
        case 'yield':
          await ticks(item.ticks);
          break;
        case 'timestamp': {
          // Concurrent appends may or may not be seen, and retention may delete records
          // meanwhile: the answer is a record ≥ T with none ≥ T between the start when the
          // answer came and it; or null when no record ≥ T is at or after that start.
          const t = this.clock.nowMs() + item.delta;
          const startAtCall = log.logStartOffset;
          const endAtCall = log.logEndOffset;
          const what = `log ${lut.index}: concurrent offsetForTimestamp(now${item.delta >= 0 ? '+' : ''}${item.delta}) with start ${startAtCall}, end ${endAtCall}`;
          const p = log.offsetForTimestamp(t);
          slow.push(p);
          const h = track(p, proc, (r) => {
            try {
              const startNow = log.logStartOffset;
              const firstFrom = (from: number, below: number): number | null => {
                for (const b of m.batches) {
                  if (b.last < from || b.maxTimestamp < t) continue;
                  for (let k = 0; k < b.timestamps.length; k++) if (b.base + k >= from && b.base + k < below && b.timestamps[k]! >= t) return b.base + k;
                }
                return null;
              };
              if (r === null) {
                assert.equal(firstFrom(startNow, endAtCall), null, `${what}: null, but a record >= T exists`);
              } else {
                const i = m.indexOf(r.offset);
                assert.ok(i >= 0 && r.offset >= startAtCall, `${what}: offset ${r.offset}`);
                const b = m.batches[i]!;
                assert.equal(r.timestamp, b.timestamps[r.offset - b.base], `${what}: timestamp of ${r.offset}`);
                assert.ok(r.timestamp >= t, `${what}: timestamp below T`);
                const first = firstFrom(startNow, r.offset);
                assert.equal(first, null, `${what}: returned ${r.offset} but ${first} (>= start ${startNow}) comes first`);
              }
            } catch (e) {
              this.fail(e);
            }
          });
          others.push({ what, kind: 'timestamp', h });
          break;
        }
        case 'retention': {
          retention = true;
          let p: Promise<unknown>;
          try {
            p = log.applyRetention();
          } catch (e) {
            p = Promise.reject(e);
          }
          others.push({ what: `log ${lut.index}: concurrent retention`, kind: 'retention', h: track(p, proc) });
          break;
        }
      }
    }

    if (step.crash !== null) {
      await ticks(step.crash.ticks);
      this.rethrow();
      count('group: power loss in flight');
      count('group: appends acknowledged before the power loss', appends.filter((a) => a.h.outcome.state === 'resolved').length);
      count('group: appends in flight at the power loss', appends.filter((a) => a.h.outcome.state === 'pending').length);
      if (retention) {
        // Pending: its effects may be half durable. Done: its start moved before the crash.
        const pending = others.some((o) => o.kind === 'retention' && o.h.outcome.state !== 'resolved');
        lut.retentionInFlight = { logStart: pending ? startBefore : log.logStartOffset, startAtCrash: log.logStartOffset };
      }
      for (const a of appends) {
        if (a.h.outcome.state === 'rejected') assertOffline(a.h.outcome.error, 'append rejected before the crash');
      }
      this.powerLoss();
      await this.restartAll(step.crash.openTicks);
      return;
    }

    await settle();
    if (slow.length > 0) {
      const limit = new Promise<void>((resolve) => setTimeout(resolve, 10_000).unref());
      await Promise.race([Promise.allSettled(slow), limit]);
      await settle();
    }
    this.rethrow();
    count('group');
    count('group: appends', appends.length);
    count('group: durable appends acknowledged', appends.filter((a) => a.durable && a.h.outcome.state === 'resolved').length);
    count('group: appends rejected', appends.filter((a) => a.h.outcome.state === 'rejected').length);
    count('group: concurrent reads ok', others.filter((o) => o.kind === 'read' && o.h.outcome.state === 'resolved').length);
    for (const a of appends) assert.notEqual(a.h.outcome.state, 'pending', `log ${lut.index}: append of ${a.batch.base} never settled (${this.messages.join(' | ')})`);
    for (const o of others) assert.notEqual(o.h.outcome.state, 'pending', `${o.what} never settled`);
    for (const r of refused) {
      assert.equal(r.outcome.state, 'rejected');
      if (r.outcome.state === 'rejected') assertOffline(r.outcome.error, 'append to an offline log');
    }
    const offline = log.isOffline;
    for (const a of appends) {
      if (a.h.outcome.state !== 'rejected') continue;
      assertOffline(a.h.outcome.error, `append of ${a.batch.base}`);
      assert.ok(offline, 'a rejected append means the log is offline');
    }
    for (const o of others) {
      if (o.h.outcome.state !== 'rejected') continue;
      const e = o.h.outcome.error;
      if ((o.kind === 'read' || o.kind === 'timestamp') && faulted && !(e instanceof StorageError)) continue; // an I/O error of the read itself
      if (o.kind === 'read' && retention && e instanceof StorageError && e.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE && !(e instanceof LogOfflineError)) {
        // Its segment was deleted by the retention run meanwhile.
        assert.ok(o.offset! < log.logStartOffset, `${o.what}: out of range, but the start is ${log.logStartOffset}`);
        count('group: concurrent read overtaken by retention');
        continue;
      }
      assertOffline(e, o.what);
    }
    if (!faulted) assert.ok(!offline, `log ${lut.index} went offline without a fault: ${this.messages.join(' | ')}`);

    if (offline) {
      count(`group: offline, recovery by ${step.fault!.recovery}`);
      // Offline: everything is refused, without assigning offsets.
      const b = await buildBatch({ records: [{ key: null, value: 1, tsDelta: 0, noTimestamp: false, header: false }], tsBase: 0, gzip: false, fill: 1 }, this.clock.nowMs());
      await assert.rejects(log.append(b.buf, { durable: true }), (e: unknown) => (assertOffline(e, 'append when offline'), true));
      assert.equal(b.buf.readBigInt64BE(0), UNASSIGNED);
      await assert.rejects(log.read(m.logStart, 1000), (e: unknown) => (assertOffline(e, 'read when offline'), true));
      await assert.rejects(log.flush(), (e: unknown) => (assertOffline(e, 'flush when offline'), true));
      await assert.rejects(log.applyRetention(), (e: unknown) => (assertOffline(e, 'retention when offline'), true));
      // Deletions by a retention run of a log that went offline may not be durable.
      if (retention) lut.retentionInFlight = { logStart: startBefore, startAtCrash: log.logStartOffset };
      if (step.fault!.recovery === 'crash') {
        this.powerLoss();
        await this.restartAll(null);
      } else {
        lut.bases = log.segmentBaseOffsets;
        await log.close();
        this.fs.clearFaults();
        const reopened = await PartitionLog.open(lut.dir, lut.config, this.openOptions());
        await this.adopt(lut, reopened, 'restart');
      }
      return;
    }
    this.fs.clearFaults();
    m.written = m.end;
    if (retention) {
      assert.ok(log.logStartOffset >= startBefore, 'concurrent retention does not move the start back');
      this.adoptRetention(lut, null, null);
    }
    await this.checkAll();
  }
}

interface RetentionOutcome {
  bases: number[];
  logStart: number;
  deleted: number;
}

/** What applyRetention does, or null when it depends on a segment's creation time. */
function predictRetention(m: LogModel, bases: number[], cfg: LogConfig, now: number, logStart: number): RetentionOutcome | null {
  const segs = bases.map((base, i) => {
    const f = m.segmentFacts(base, bases[i + 1] ?? m.end);
    return { base, next: bases[i + 1] ?? m.end, size: f.size, maxTimestamp: f.maxTimestamp, empty: f.batches === 0 };
  });
  let unknown = false;
  const expired = (s: (typeof segs)[number]): boolean => {
    if (cfg.retentionMs < 0) return false;
    if (s.maxTimestamp < 0) {
      unknown = true;
      return false;
    }
    return now - s.maxTimestamp > cfg.retentionMs;
  };
  const active = segs[segs.length - 1]!;
  if (!active.empty && expired(active) && segs.every((s) => s === active || expired(s))) {
    segs.push({ base: m.end, next: m.end, size: 0, maxTimestamp: -1, empty: true });
  }
  let total = 0;
  for (const s of segs) total += s.size;
  let deleted = 0;
  while (segs.length > 1) {
    const oldest = segs[0]!;
    const bySize = cfg.retentionBytes >= 0 && total - oldest.size >= cfg.retentionBytes;
    const byStart = oldest.next <= logStart;
    if (!(expired(oldest) || bySize || byStart)) break;
    total -= oldest.size;
    segs.shift();
    logStart = Math.max(logStart, segs[0]!.base);
    deleted++;
  }
  if (unknown) return null;
  return { bases: segs.map((s) => s.base), logStart, deleted };
}

const TRACE = process.env.FERRY_MODEL_TRACE !== undefined;
/** With FERRY_MODEL_TRACE set: the trace of the last failing run (the shrunk counterexample), printed at the end. */
let lastFailureTrace: string[] = [];

async function runScenario(scenario: Scenario): Promise<void> {
  const h = new Harness(scenario);
  const trace: string[] = [];
  try {
    await runSteps(h, scenario, trace);
  } catch (e) {
    if (TRACE) {
      trace.push('---- engine messages:', ...h.messages.map((m) => `  ${m}`));
      for (const lut of h.logs) trace.push(`  log ${lut.index}: files ${h.fs.listFiles(lut.dir).map((f) => f.slice(lut.dir.length + 1)).join(' ')}`);
      trace.push(`---- ${String((e as Error).stack ?? e)}`);
      lastFailureTrace = trace;
    }
    throw e;
  }
}

async function runSteps(h: Harness, scenario: Scenario, trace: string[]): Promise<void> {
  await h.start();
  for (const step of scenario.steps) {
    if (TRACE) trace.push(`step ${JSON.stringify(step)}`);
    await h.run(step);
    if (TRACE) for (const lut of h.logs) trace.push(`  log ${lut.index}: segments ${lut.log.segmentBaseOffsets} [${lut.log.logStartOffset}, ${lut.log.logEndOffset}) durable ${lut.log.durableOffset}`);
  }
  // The end: a clean close must leave everything readable again.
  for (const lut of h.logs) {
    await lut.log.close();
    const log = await PartitionLog.open(lut.dir, lut.config, { fs: h.proc.fs, clock: h.clock, resources: h.resources, log: () => undefined });
    await h.adopt(lut, log, 'clean');
  }
}

async function check(arb: fc.Arbitrary<Scenario>, p: fc.Parameters<[Scenario]>): Promise<void> {
  stats.clear();
  try {
    await fc.assert(fc.asyncProperty(arb, runScenario), p);
  } catch (e) {
    if (TRACE) console.log(lastFailureTrace.join('\n'));
    throw e;
  }
  if (STATS) console.log([...stats].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}: ${v}`).join('\n'));
}

function params(defaultRuns: number): fc.Parameters<[Scenario]> {
  const p: fc.Parameters<[Scenario]> = { numRuns: RUNS > 0 ? RUNS : defaultRuns, includeErrorInReport: true };
  if (process.env.FERRY_MODEL_SEED !== undefined) {
    p.seed = Number(process.env.FERRY_MODEL_SEED);
    if (process.env.FERRY_MODEL_PATH !== undefined) p.path = process.env.FERRY_MODEL_PATH;
  }
  return p;
}

const defaultLimitsArb = fc.constant<Partial<StorageLimits>>({});
const normal: Weights = { group: 12, faultPercent: 6, crashPercent: 8, crash: 2 };

test('PartitionLog matches its model: one log, default resources', async () => {
  await check(scenarioArb(1, defaultLimitsArb, normal, 40), params(200));
});

test('PartitionLog matches its model: tiny shared StorageResources (LRU eviction, lazy reopen, index reloads)', async () => {
  await check(scenarioArb(1, tinyLimitsArb, normal, 40), params(100));
  await check(scenarioArb(2, tinyLimitsArb, normal, 40), params(100));
});

test('PartitionLog matches its model: large batches and segments (reads past the 64 KiB window)', async () => {
  await check(scenarioArb(1, fc.oneof(defaultLimitsArb, tinyLimitsArb), normal, 30, LARGE), params(40));
});

test('PartitionLog matches its model: I/O faults and power losses', async () => {
  const faulty: Weights = { group: 12, faultPercent: 35, crashPercent: 20, crash: 3 };
  await check(scenarioArb(1, fc.oneof(defaultLimitsArb, tinyLimitsArb), faulty, 30), params(160));
});

// ---- regressions: the bugs the model found, as plain scenarios -----------------------------------

async function openOne(config: Partial<LogConfig>, limits: Partial<StorageLimits> = {}) {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/data');
  await fs.syncDir('/');
  const clock = new ManualClock(1_700_000_000_000);
  const proc = new Process(fs);
  const resources = new StorageResources(limits);
  const messages: string[] = [];
  const open = (p: Process = proc, r: StorageResources = resources) =>
    PartitionLog.open('/data/t-0', config, { fs: p.fs, clock, resources: r, log: (m) => void messages.push(m) });
  const log = await open();
  await fs.syncDir('/data');
  return { fs, clock, proc, resources, messages, log, open };
}

function oneBatch(clock: ManualClock, valueBytes: number, ageMs = 0): Promise<Buffer> {
  const spec: BatchSpec = { records: [{ key: null, value: valueBytes, tsDelta: 0, noTimestamp: false, header: false }], tsBase: -ageMs, gzip: false, fill: valueBytes };
  return buildBatch(spec, clock.nowMs()).then((b) => b.buf);
}

test('regression: a failed group-commit fsync rejects the appends waiting for it (they never settled)', async () => {
  const { fs, clock, log } = await openOne({});
  fs.failNext('datasync');
  const h = track(log.append(await oneBatch(clock, 10), { durable: true }), { alive: true } as Process);
  const f = track(log.flush(), { alive: true } as Process);
  await settle();
  for (const x of [h, f]) {
    assert.equal(x.outcome.state, 'rejected');
    if (x.outcome.state === 'rejected') assertOffline(x.outcome.error, 'waiting for the failed fsync');
  }
  assert.equal(log.durableOffset, 0);
  await log.close();
});

test('regression: retention racing with the log going offline rejects instead of hanging (and close works)', async () => {
  const { fs, clock, log } = await openOne({ retentionMs: 1000 });
  await log.append(await oneBatch(clock, 10, 5000));
  fs.failNext('writev');
  const a = track(log.append(await oneBatch(clock, 10)), { alive: true } as Process);
  const r = track(log.applyRetention(), { alive: true } as Process);
  await settle();
  assert.equal(a.outcome.state, 'rejected');
  assert.equal(r.outcome.state, 'rejected', 'applyRetention settles');
  if (r.outcome.state === 'rejected') assertOffline(r.outcome.error, 'retention of a log gone offline');
  await log.close();
});

test('regression: after an fsync error that dropped the data, a later "successful" fsync makes no durability claim', async () => {
  // The group commit's fdatasync fails (and, as Linux may, drops the dirty pages); the roll's
  // fdatasync of the same file, issued meanwhile, then succeeds without writing anything.
  const { fs, clock, log, proc, open } = await openOne({ segmentBytes: 300 });
  fs.failNext('datasync', 1, { discardUnsynced: true });
  const a = track(log.append(await oneBatch(clock, 100), { durable: true }), proc);
  const b = track(log.append(await oneBatch(clock, 200)), proc);
  await settle();
  assert.equal(a.outcome.state, 'rejected');
  assert.equal(b.outcome.state, 'rejected');
  assert.equal(log.durableOffset, 0, 'nothing was made durable');
  proc.kill();
  fs.crash({ rng: seededRng(7) });
  const again = await open(new Process(fs), new StorageResources());
  assert.ok(!again.isOffline);
  assert.equal(again.logEndOffset, 0);
  await again.close();
});

test('regression: a roll counts the old segment durable only once its directory entry is', async () => {
  // Segment 1 is made by a roll; the group commit's directory fsync that would have made its
  // name durable fails; the next roll must not then report segment 1's data as durable.
  const { fs, clock, log, proc, open } = await openOne({ segmentBytes: 300 });
  await log.append(await oneBatch(clock, 20));
  await log.flush();
  fs.failNext('syncDir');
  const a = track(log.append(await oneBatch(clock, 200), { durable: true }), proc);
  const b = track(log.append(await oneBatch(clock, 20)), proc);
  await settle();
  assert.equal(a.outcome.state, 'rejected');
  assert.equal(b.outcome.state, 'rejected');
  const claimed = log.durableOffset;
  proc.kill();
  fs.crash({ rng: seededRng(3), tornWrites: false });
  const again = await open(new Process(fs), new StorageResources());
  assert.ok(again.logEndOffset >= claimed, `durableOffset claimed ${claimed}, ${again.logEndOffset} survived`);
  await again.close();
});

test('regression: concurrent reads of a closed sealed segment open it once, and the open-files limit holds after', async () => {
  const { fs, clock, log: first, open } = await openOne({ segmentBytes: 300, indexIntervalBytes: 0 });
  for (let i = 0; i < 6; i++) await first.append(await oneBatch(clock, 200));
  await first.close();
  // Reopened: no sealed file is open. Read two sealed segments twice each, all at once.
  const resources = new StorageResources({ openSegmentFilesMax: 1, tailCacheBytesMax: 0 });
  const log = await open(new Process(fs), resources);
  const bases = log.segmentBaseOffsets;
  assert.ok(bases.length >= 4);
  const reads = [bases[0]!, bases[0]!, bases[1]!, bases[1]!].map((o) => log.read(o, 1));
  for (const r of await Promise.all(reads)) assert.equal(r.chunks.length, 1);
  await settle();
  assert.ok(resources.openFileCount <= 1, `open sealed files ${resources.openFileCount}`);
  assert.equal(fs.openHandleCount, 1 + resources.openFileCount, 'no leaked handles');
  await log.close();
  assert.equal(fs.openHandleCount, 0);
});

test('regression: a read overtaken by retention is OFFSET_OUT_OF_RANGE and leaves no index files behind', async () => {
  const { fs, clock, log } = await openOne({ segmentBytes: 300, retentionBytes: 1 }, { indexBytesMax: 0, tailCacheBytesMax: 0 });
  for (let i = 0; i < 4; i++) await log.append(await oneBatch(clock, 200));
  await log.close();
  // Reopened cleanly: sealed segments have no index loaded. Drop segment 0's index files so the
  // read rebuilds them, and let retention delete the segment meanwhile.
  fs.truncateFile('/data/t-0/00000000000000000000.index', 3);
  const reopened = await PartitionLog.open('/data/t-0', { segmentBytes: 300, retentionBytes: 1 }, { fs, clock, resources: new StorageResources({ indexBytesMax: 0, tailCacheBytesMax: 0 }), log: () => undefined });
  const read = reopened.read(0, 1000);
  const retention = reopened.applyRetention();
  await assert.rejects(read, (e: unknown) => e instanceof StorageError && !(e instanceof LogOfflineError) && e.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE);
  assert.ok((await retention) >= 1);
  await settle();
  const names = fs.listFiles('/data/t-0').map((p) => p.slice('/data/t-0/'.length));
  for (const n of names) if (!n.endsWith('.log') && n !== 'partition.checkpoint') assert.ok(reopened.segmentBaseOffsets.includes(Number(n.slice(0, 20))), `orphan ${n}`);
  await reopened.close();
});

test('regression: a roll that fails after creating the new segment file closes its handle', async () => {
  const { fs, clock, log } = await openOne({ segmentBytes: 300 });
  await log.append(await oneBatch(clock, 200));
  fs.failNext('truncate', 1, { path: '/data/t-0/00000000000000000001.log' });
  await assert.rejects(log.append(await oneBatch(clock, 200)), (e: unknown) => (assertOffline(e, 'append after a failed roll'), true));
  await log.close();
  await settle();
  assert.equal(fs.openHandleCount, 0);
});

test('regression: offsetForTimestamp racing retention neither skips a segment nor fails on the deleted one', async () => {
  const { clock, log } = await openOne({ segmentBytes: 150 }, { tailCacheBytesMax: 0 });
  const now = clock.nowMs();
  const batchAt = (timestamps: number[]): Promise<Buffer> =>
    buildBatch({ records: timestamps.map((t) => ({ key: null, value: 100, tsDelta: t - now, noTimestamp: false, header: false })), tsBase: 0, gzip: false, fill: 1 }, now).then((b) => b.buf);
  await log.append(await batchAt([now, now - 10_000])); // segment 0: offsets 0 (new), 1 (old)
  await log.append(await batchAt([now])); // segment 2
  await log.append(await batchAt([now])); // segment 3
  assert.deepEqual(log.segmentBaseOffsets, [0, 2, 3]);
  await log.deleteRecordsBefore(1); // offset 0 is gone, so segment 0 has nothing ≥ now
  log.config = { ...log.config, retentionBytes: 300 }; // the next run deletes segment 0
  const found = log.offsetForTimestamp(now);
  const deleted = log.applyRetention();
  assert.deepEqual(await found, { offset: 2, timestamp: now });
  assert.equal(await deleted, 1);
  await log.close();
});

test('regression: after a clean restart, segment.ms still counts from the first batch of the active segment', async () => {
  const { clock, log: first, open, fs } = await openOne({ segmentMs: 1000, indexIntervalBytes: 0 });
  await first.append(await oneBatch(clock, 10));
  await first.append(await oneBatch(clock, 10)); // a second index entry: the clean load scans only from it
  clock.advance(900);
  await first.close();
  const log = await open(new Process(fs), new StorageResources());
  clock.advance(200); // the first batch is now 1100 ms old, the process only 200 ms
  await log.append(await oneBatch(clock, 10));
  assert.deepEqual(log.segmentBaseOffsets, [0, 2], 'rolled by segment.ms');
  await log.close();
});

/**
 * Shared pieces of the real-client compatibility suite (`npm run test:compat`): a Ferry broker
 * run as a real process (bin/ferry.js), child processes with hard time limits, a few raw
 * protocol requests that look at what the broker stored (independent of the client under
 * test), deterministic test data and the byte-for-byte check of a produce/consume round trip.
 *
 * Nothing here waits without a time limit: every child process and every request has one, and
 * a child that outlives it is killed (by its own handle, never by name).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApiCodec } from '../../../src/protocol/api-codec.js';
import { encodeRequestFrame, readResponse, readResponseCorrelationId } from '../../../src/protocol/frame.js';
import { ApiVersionsApi, FetchApi, ListOffsetsApi } from '../../../src/protocol/messages/index.js';
import { type RecordBatchView, splitRecordBatches } from '../../../src/protocol/record-batch.js';

// ---- paths and messages ----------------------------------------------------------------------

function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bin', 'ferry.js'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (package.json and bin/ferry.js) above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export const REPO_ROOT = findRepoRoot();
/** The Python drivers stay in the source tree (tsc does not copy them to dist/). */
export const PY_DIR = join(REPO_ROOT, 'test', 'compat', 'clients', 'py');
/** Debian's interpreter: the Debian packages python3-kafka and python3-confluent-kafka install there. */
export const SYSTEM_PYTHON = '/usr/bin/python3';
export const INSTALL_HINT = 'install the test clients with scripts/install-test-clients.sh (apt: kcat python3-kafka python3-confluent-kafka)';

/** The suite's broker settings: a small max.message.bytes keeps the size test fast. */
export const MAX_MESSAGE_BYTES = 100_000;
/**
 * max.message.bytes limits a whole record batch, as in Kafka, so the producers are set to
 * keep their batches below it (librdkafka batch.size, kafkajs sends of at most this many
 * bytes; kafka-python's default batch_size is 16 KiB). A single larger message still goes
 * alone in its own batch.
 */
export const PRODUCER_BATCH_BYTES = 65_536;
export const PARTITIONS = 3;

/** An error the client under test reported (an exception, a delivery error, an exit status). */
export class ClientError extends Error {
  constructor(
    message: string,
    readonly info: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

// ---- child processes -------------------------------------------------------------------------

const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  // Last resort if a test process dies with children still running: kill exactly those.
  for (const c of liveChildren) c.kill('SIGKILL');
});

export function track(child: ChildProcess): ChildProcess {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  return child;
}

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  timedOut: boolean;
}

/**
 * Runs a command to completion with `input` on stdin, killing it (SIGKILL) after timeoutMs.
 * A missing executable rejects with an error that says how to install the test clients.
 */
export function runProcess(
  command: string,
  args: readonly string[],
  options: { input?: Buffer | string; timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = track(spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env }));
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    child.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(e.code === 'ENOENT' ? new Error(`${command} is not installed: ${INSTALL_HINT}`) : e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8'), timedOut });
    });
    child.stdin!.on('error', () => undefined); // the child may exit before reading all input
    child.stdin!.end(options.input ?? '');
  });
}

/** A log with repeated lines folded ("line (×N)"), then cut to its last `max` characters. */
export function foldLog(text: string, max = 4000): string {
  const out: string[] = [];
  let last = '';
  let n = 0;
  const flush = (): void => {
    if (n > 0) out.push(n > 1 ? `${last} (×${n})` : last);
  };
  for (const line of text.split('\n')) {
    if (line === last) n++;
    else {
      flush();
      last = line;
      n = 1;
    }
  }
  flush();
  return tail(out.join('\n'), max);
}

/** The last `max` characters of a log, for failure messages. */
export function tail(text: string, max = 4000): string {
  return text.length <= max ? text : `…${text.slice(text.length - max)}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with `p`, or rejects after `ms` with `what` in the message. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]);
}

// ---- the broker process ----------------------------------------------------------------------

export class FerryProcess {
  private stderrText = '';
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    private readonly child: ChildProcess,
    readonly dataDir: string,
    readonly host: string,
    readonly port: number,
  ) {
    child.stderr!.on('data', (d: Buffer) => {
      this.stderrText = tail(this.stderrText + d.toString('utf8'), 64_000);
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  /**
   * Starts `node bin/ferry.js start --port 0` on a fresh data directory with `settings` as
   * --name=value options, and resolves once it prints "ferry listening on HOST:PORT".
   */
  static async start(
    settings: Record<string, string | number> = {},
    timeoutMs = 20_000,
    /** Restart on the data directory and port of a broker that was killed (see kill()). */
    reuse?: { dataDir: string; port: number },
  ): Promise<FerryProcess> {
    const dataDir = reuse?.dataDir ?? mkdtempSync(join(tmpdir(), 'ferry-compat-'));
    const args = [join(REPO_ROOT, 'bin', 'ferry.js'), 'start', '--port', String(reuse?.port ?? 0), '--data-dir', dataDir];
    for (const [name, value] of Object.entries(settings)) args.push(`--${name}=${value}`);
    const child = track(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO_ROOT }));
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const listening = new Promise<{ host: string; port: number }>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        stdout += d.toString('utf8');
        const m = /ferry listening on (\S+):(\d+)/.exec(stdout);
        if (m !== null) resolve({ host: m[1]!, port: Number(m[2]) });
      });
      child.once('exit', (code, signal) => reject(new Error(`ferry exited (code ${code}, signal ${signal}) before listening:\n${tail(stdout + stderr)}`)));
      child.once('error', reject);
    });
    let address: { host: string; port: number };
    try {
      address = await withTimeout(listening, timeoutMs, 'ferry start');
    } catch (e) {
      child.kill('SIGKILL');
      if (reuse === undefined) rmSync(dataDir, { recursive: true, force: true });
      throw e;
    }
    const ferry = new FerryProcess(child, dataDir, address.host, address.port);
    ferry.stderrText = stderr;
    return ferry;
  }

  get bootstrap(): string {
    return `${this.host}:${this.port}`;
  }

  /** What the broker wrote to stderr (its operator log), for failure messages. */
  get log(): string {
    return this.stderrText;
  }

  get isRunning(): boolean {
    return this.exitInfo === null;
  }

  /** Throws if the broker process has exited. */
  assertRunning(): void {
    if (this.exitInfo !== null) {
      throw new Error(`the broker exited (code ${this.exitInfo.code}, signal ${this.exitInfo.signal}):\n${tail(this.stderrText)}`);
    }
  }

  /**
   * SIGKILL (a crash): waits for the exit and keeps the data directory, for a restart with
   * FerryProcess.start(settings, timeout, { dataDir, port }).
   */
  async kill(timeoutMs = 10_000): Promise<void> {
    if (this.exitInfo !== null) return;
    this.child.kill('SIGKILL');
    await withTimeout(this.exited, timeoutMs, 'ferry kill (SIGKILL)');
  }

  /**
   * SIGTERM, then waits up to timeoutMs for the exit (SIGKILL after that, and an error), removes
   * the data directory and returns the exit status.
   */
  async stop(timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    try {
      if (this.exitInfo !== null) return this.exitInfo;
      this.child.kill('SIGTERM');
      try {
        return await withTimeout(this.exited, timeoutMs, 'ferry stop (SIGTERM)');
      } catch (e) {
        this.child.kill('SIGKILL');
        await withTimeout(this.exited, 5_000, 'ferry stop (SIGKILL)').catch(() => undefined);
        throw new Error(`${(e as Error).message}; killed. Broker log:\n${tail(this.stderrText)}`);
      }
    } finally {
      rmSync(this.dataDir, { recursive: true, force: true });
    }
  }
}

// ---- raw requests (what the broker really stored, independent of the client under test) -----

/** Sends one request on a fresh connection and decodes the answer (time limit timeoutMs). */
export async function rawRequest<Req, Res>(port: number, api: ApiCodec<Req, Res>, version: number, body: Req, timeoutMs = 10_000): Promise<Res> {
  const socket = connect(port, '127.0.0.1');
  try {
    const frame = await withTimeout(
      new Promise<Buffer>((resolve, reject) => {
        let buf = Buffer.alloc(0);
        socket.on('data', (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          if (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) resolve(buf.subarray(4, 4 + buf.readInt32BE(0)));
        });
        socket.once('error', reject);
        socket.once('close', () => reject(new Error(`${api.name}: connection closed before the response`)));
        socket.once('connect', () => {
          for (const chunk of encodeRequestFrame(api as ApiCodec<Req, unknown>, version, 1, 'ferry-compat-raw', body)) socket.write(chunk);
        });
      }),
      timeoutMs,
      `raw ${api.name} v${version}`,
    );
    if (readResponseCorrelationId(frame) !== 1) throw new Error(`${api.name}: wrong correlation id`);
    return readResponse(api as ApiCodec<unknown, Res>, version, frame);
  } finally {
    socket.destroy();
  }
}

/** The API keys the broker serves (ApiVersions v0), with their version ranges. */
export async function servedApis(port: number): Promise<Map<number, { min: number; max: number }>> {
  const r = await rawRequest(port, ApiVersionsApi, 0, {});
  if (r.errorCode !== 0) throw new Error(`ApiVersions v0 answered error ${r.errorCode}`);
  return new Map(r.apiKeys.map((k) => [k.apiKey, { min: k.minVersion, max: k.maxVersion }]));
}

export const API_CREATE_TOPICS = 19;

/** The log end offset (high watermark) of each partition, by raw ListOffsets v1 (latest). */
export async function rawEndOffsets(port: number, topic: string, partitions: number): Promise<number[]> {
  const r = await rawRequest(port, ListOffsetsApi, 1, {
    replicaId: -1,
    topics: [{ name: topic, partitions: Array.from({ length: partitions }, (_, p) => ({ partitionIndex: p, timestamp: -1n })) }],
  });
  const out: number[] = [];
  for (let p = 0; p < partitions; p++) {
    const e = r.topics[0]?.partitions.find((x) => x.partitionIndex === p);
    if (e === undefined || e.errorCode !== 0 || e.offset === undefined) throw new Error(`raw ListOffsets of ${topic}[${p}]: error ${e?.errorCode}`);
    out.push(Number(e.offset));
  }
  return out;
}

export interface StoredBatch {
  baseOffset: number;
  lastOffset: number;
  records: number;
  /** Compression codec from the attributes: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd. */
  codec: number;
  magic: number;
  sizeBytes: number;
}

export const CODEC_IDS = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export type CodecName = keyof typeof CODEC_IDS;

/**
 * Hands every record batch stored in a partition, in order, to `visit`: raw Fetch v4 requests
 * from offset 0 up to the high watermark.
 */
export async function forEachStoredBatch(port: number, topic: string, partition: number, visit: (batch: RecordBatchView) => void | Promise<void>): Promise<void> {
  let offset = 0n;
  for (let round = 0; round < 10_000; round++) {
    const r = await rawRequest(port, FetchApi, 4, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 8 << 20,
      isolationLevel: 0,
      topics: [{ topic, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 8 << 20 }] }],
    });
    const p = r.responses[0]?.partitions[0];
    if (p === undefined) throw new Error(`raw fetch of ${topic}[${partition}]: no partition in the response`);
    if (p.errorCode !== 0) throw new Error(`raw fetch of ${topic}[${partition}] at ${offset}: error ${p.errorCode}`);
    if (offset >= p.highWatermark) return;
    const records = p.records ?? Buffer.alloc(0);
    const { batches } = splitRecordBatches(records);
    if (batches.length === 0) throw new Error(`raw fetch of ${topic}[${partition}] at ${offset}: no complete batch below the high watermark ${p.highWatermark}`);
    for (const b of batches) {
      const last = b.baseOffset + BigInt(b.lastOffsetDelta);
      if (last < offset) continue;
      await visit(b);
      offset = last + 1n;
    }
  }
  throw new Error(`raw fetch of ${topic}[${partition}]: too many rounds`);
}

/** Every record batch stored in a partition, read with raw Fetch v4 requests from offset 0. */
export async function storedBatches(port: number, topic: string, partition: number): Promise<StoredBatch[]> {
  const out: StoredBatch[] = [];
  await forEachStoredBatch(port, topic, partition, (b) => {
    const last = b.baseOffset + BigInt(b.lastOffsetDelta);
    out.push({ baseOffset: Number(b.baseOffset), lastOffset: Number(last), records: b.recordCount, codec: b.compression, magic: b.magic, sizeBytes: b.sizeBytes });
  });
  return out;
}

// ---- deterministic test data -----------------------------------------------------------------

/** mulberry32: tiny, fast and deterministic for a seed. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** 0 ≤ n < max */
  int(max: number): number {
    return this.next() % max;
  }
  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.next() & 0xff;
    return b;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

export type Header = [string, Buffer | null];

export interface TestMessage {
  key: Buffer | null;
  value: Buffer | null;
  headers: Header[];
  /** Explicit CreateTime (ms), when the client under test can set one. */
  timestamp?: number;
  /** Explicit partition; else the client's partitioner chooses. */
  partition?: number;
}

export interface MessageOptions {
  /** Every key starts with `${prefix}${index}:` so a consumed record names its message. */
  prefix: string;
  count: number;
  seed: number;
  /** Whether a value may be empty but not null (kcat -Z cannot send one). */
  emptyValues: boolean;
  /** Per-message random headers, or these same headers on every message (kcat -H). */
  headers: 'varied' | Header[];
  /** Whether header values may be null. */
  nullHeaderValues: boolean;
  /** Only compressible values (text), for the compression tests; else half are random bytes. */
  compressible?: boolean;
}

const WORDS = ['ferry', 'kafka', 'stream', 'offset', 'partition', 'batch', 'record', 'héllo', 'ключ', '日本', '\u0000', '\n', '\r\n', ',', '=', ':'];
const HEADER_KEYS = ['trace-id', 'content-type', 'x', 'ünïcødé-ключ', 'retry', ''];

/** Value bytes: random bytes, or compressible text (always when `compressible`). */
function valueBytes(rng: Rng, size: number, compressible: boolean): Buffer {
  if (!compressible && rng.chance(0.5)) return rng.bytes(size);
  const parts: Buffer[] = [];
  let n = 0;
  while (n < size) {
    const w = Buffer.from(rng.pick(WORDS) + (rng.chance(0.2) ? String(rng.int(1000)) : ''), 'utf8');
    parts.push(w);
    n += w.length;
  }
  return Buffer.concat(parts).subarray(0, size);
}

function valueSize(rng: Rng): number {
  const r = rng.int(100);
  if (r < 80) return rng.int(200);
  if (r < 98) return 200 + rng.int(1800);
  return 2000 + rng.int(14_000);
}

/**
 * `count` messages with unique binary keys, values of 0 B to 16 KiB (every 7th null), and
 * headers, deterministic for a seed.
 */
export function makeMessages(o: MessageOptions): TestMessage[] {
  const rng = new Rng(o.seed);
  const out: TestMessage[] = [];
  for (let i = 0; i < o.count; i++) {
    const key = Buffer.concat([Buffer.from(`${o.prefix}${i}:`), rng.bytes(rng.int(24))]);
    const value = i % 7 === 3 ? null : valueBytes(rng, o.emptyValues ? valueSize(rng) : 1 + valueSize(rng), o.compressible === true);
    let headers: Header[];
    if (o.headers === 'varied') {
      headers = [];
      const n = rng.int(4);
      for (let h = 0; h < n; h++) {
        const hv = o.nullHeaderValues && rng.chance(0.15) ? null : rng.bytes(rng.int(33));
        headers.push([rng.pick(HEADER_KEYS), hv]);
      }
    } else headers = o.headers.map(([k, v]) => [k, v]);
    out.push({ key, value, headers });
  }
  return out;
}

// ---- the round-trip check --------------------------------------------------------------------

export interface ConsumedRecord {
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Header[];
  timestamp: number;
}

export interface DeliveryReport {
  partition: number;
  offset: number;
}

export interface VerifyOptions {
  prefix: string;
  partitions: number;
  /** First offset expected in each partition (default 0). */
  startOffsets?: number[];
  /** Where the producer said each message went (index = message index), when it says. */
  reports?: Array<DeliveryReport | null>;
  /** CreateTime bounds for messages without an explicit timestamp. */
  timeRange?: [number, number];
  /** Headers as the client represents them (kafkajs merges duplicate keys into arrays). */
  normalizeHeaders?: (h: Header[]) => unknown;
  /** Only messages from..to-1 of `expected` are expected (a read that starts in the middle). */
  subset?: { from: number; to: number };
}

function describeBytes(b: Buffer | null): string {
  if (b === null) return 'null';
  const hex = b.subarray(0, 24).toString('hex');
  return `${b.length} bytes (${hex}${b.length > 24 ? '…' : ''})`;
}

function sameBytes(a: Buffer | null, b: Buffer | null): boolean {
  if (a === null || b === null) return a === b;
  return a.equals(b);
}

function headersEqual(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b)) return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return false;
  return ka.every((k) => headersEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function showHeaders(h: Header[]): string {
  return JSON.stringify(h.map(([k, v]) => [k, v === null ? null : v.toString('hex')]));
}

/**
 * Checks a consumed copy of `expected` byte for byte: every message exactly once, key, value
 * (null and empty told apart), headers and explicit timestamps equal; per partition, offsets
 * contiguous from the start offset and messages in production order; delivery reports (if
 * any) equal to where the messages were found. Throws an Error listing the first problems.
 * Returns the number of messages per partition.
 */
export function verifyRoundTrip(expected: readonly TestMessage[], consumed: readonly ConsumedRecord[], o: VerifyOptions): number[] {
  const problems: string[] = [];
  const problem = (s: string): void => {
    if (problems.length < 20) problems.push(s);
    else if (problems.length === 20) problems.push('… (more problems not shown)');
  };
  const norm = o.normalizeHeaders ?? ((h: Header[]) => h);
  const seen = new Map<number, ConsumedRecord>();
  const byPartition: ConsumedRecord[][] = Array.from({ length: o.partitions }, () => []);
  const prefix = Buffer.from(o.prefix);
  for (const r of consumed) {
    const where = `partition ${r.partition} offset ${r.offset}`;
    if (!Number.isInteger(r.partition) || r.partition < 0 || r.partition >= o.partitions) {
      problem(`${where}: no such partition`);
      continue;
    }
    byPartition[r.partition]!.push(r);
    if (r.key === null || !r.key.subarray(0, prefix.length).equals(prefix)) {
      problem(`${where}: key ${describeBytes(r.key)} is not one of the produced keys`);
      continue;
    }
    const colon = r.key.indexOf(0x3a, prefix.length);
    const index = Number(r.key.subarray(prefix.length, colon).toString('latin1'));
    const m = expected[index];
    if (colon < 0 || !Number.isInteger(index) || m === undefined || (o.subset !== undefined && (index < o.subset.from || index >= o.subset.to))) {
      problem(`${where}: key ${describeBytes(r.key)} is not one of the produced keys`);
      continue;
    }
    const first = seen.get(index);
    if (first !== undefined) {
      problem(`message #${index} consumed twice: partition ${first.partition} offset ${first.offset} and ${where}`);
      continue;
    }
    seen.set(index, r);
    if (!sameBytes(m.key, r.key)) problem(`message #${index} (${where}): key ${describeBytes(r.key)}, expected ${describeBytes(m.key)}`);
    if (!sameBytes(m.value, r.value)) problem(`message #${index} (${where}): value ${describeBytes(r.value)}, expected ${describeBytes(m.value)}`);
    if (!headersEqual(norm(r.headers), norm(m.headers))) {
      problem(`message #${index} (${where}): headers ${showHeaders(r.headers)}, expected ${showHeaders(m.headers)}`);
    }
    if (m.timestamp !== undefined) {
      if (r.timestamp !== m.timestamp) problem(`message #${index} (${where}): timestamp ${r.timestamp}, expected ${m.timestamp}`);
    } else if (o.timeRange !== undefined && (r.timestamp < o.timeRange[0] || r.timestamp > o.timeRange[1])) {
      problem(`message #${index} (${where}): timestamp ${r.timestamp} outside the time of production [${o.timeRange[0]}, ${o.timeRange[1]}]`);
    }
    if (m.partition !== undefined && m.partition !== r.partition) problem(`message #${index} was produced to partition ${m.partition} but found in ${r.partition}`);
    const report = o.reports?.[index];
    if (report != null && (report.partition !== r.partition || report.offset !== r.offset)) {
      problem(`message #${index}: the producer reported partition ${report.partition} offset ${report.offset}, found at ${where}`);
    }
  }
  const from = o.subset?.from ?? 0;
  const to = o.subset?.to ?? expected.length;
  const missing = to - from - seen.size;
  if (missing > 0) {
    let firstMissing = from;
    while (seen.has(firstMissing)) firstMissing++;
    problem(`${missing} of ${to - from} messages were not consumed (first: #${firstMissing})`);
  }
  const counts: number[] = [];
  for (let p = 0; p < o.partitions; p++) {
    const rs = byPartition[p]!.slice().sort((a, b) => a.offset - b.offset);
    counts.push(rs.length);
    const start = o.startOffsets?.[p] ?? 0;
    let lastIndex = -1;
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i]!;
      if (r.offset !== start + i) {
        problem(`partition ${p}: offsets are not contiguous from ${start}: position ${i} has offset ${r.offset}`);
        break;
      }
      const colon = r.key?.indexOf(0x3a, prefix.length) ?? -1;
      const index = r.key === null ? -1 : Number(r.key.subarray(prefix.length, colon).toString('latin1'));
      if (index <= lastIndex) {
        problem(`partition ${p}: message #${index} at offset ${r.offset} comes after #${lastIndex}: production order lost`);
        break;
      }
      lastIndex = index;
    }
  }
  if (problems.length > 0) throw new Error(`round trip of ${to - from} messages failed:\n  ${problems.join('\n  ')}`);
  return counts;
}

/**
 * Size of a record batch (magic 2, uncompressed) holding one record with this key, a value of
 * valueBytes and no headers, as every client here writes it (timestamp and offset deltas 0).
 * Used to produce a batch of exactly max.message.bytes, and one byte more.
 */
export function singleRecordBatchBytes(keyBytes: number, valueBytes: number): number {
  const varintSize = (n: number): number => {
    let z = n >= 0 ? n * 2 : -n * 2 - 1;
    let size = 1;
    while (z >= 0x80) {
      z = Math.floor(z / 128);
      size++;
    }
    return size;
  };
  // attributes, timestampDelta 0, offsetDelta 0, key length + key, value length + value, 0 headers
  const body = 1 + 1 + 1 + varintSize(keyBytes) + keyBytes + varintSize(valueBytes) + valueBytes + 1;
  return 61 + varintSize(body) + body;
}

/** The value size whose single-record batch (key of keyBytes) is exactly `batchBytes` long. */
export function valueBytesForBatch(keyBytes: number, batchBytes: number): number {
  let v = batchBytes - 61 - 16 - keyBytes;
  while (singleRecordBatchBytes(keyBytes, v) < batchBytes) v++;
  while (singleRecordBatchBytes(keyBytes, v) > batchBytes) v--;
  if (singleRecordBatchBytes(keyBytes, v) !== batchBytes) throw new Error(`no value size gives a batch of exactly ${batchBytes} bytes`);
  return v;
}

/** Deterministic filler for the large messages, so that a single wrong byte is found. */
export function patternBytes(n: number, seed: number): Buffer {
  return new Rng(seed).bytes(n);
}

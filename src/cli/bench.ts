/**
 * `ferry bench produce|consume|e2e`: load generators for a broker, built on the client.
 *
 * - produce: sends --records records as fast as the producer takes them (or at --rate),
 *   latency = from the send call to its acknowledgement, as Kafka's producer-perf-test does.
 * - consume: reads --records records from the start of the topic (producing them first when
 *   the topic holds fewer), latency = how long the application waited for each batch.
 * - e2e: produces and consumes at once, latency = from the send call to the record's arrival
 *   at the consumer, measured with a clock stamp in the first 8 bytes of each value.
 *
 * Throughput counts record values, MB = 10^6 bytes, like Kafka's tools. While it runs, a
 * progress line goes to stderr when stderr is a terminal (or with --progress).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Admin } from '../client/admin.js';
import { Consumer } from '../client/consumer.js';
import { Producer } from '../client/producer.js';
import { type Args, BOOTSTRAP_OPTION, type CommandSpec, JSON_OPTION, type Subcommand, dispatch } from './args.js';
import { CliError, type Compression, clientOptions, ensureReachable, parseAcks, parseCompression, writeOut } from './common.js';
import { formatCount, formatNumber } from './table.js';

const COMMON_OPTIONS: CommandSpec['options'] = {
  ...BOOTSTRAP_OPTION,
  ...JSON_OPTION,
  topic: { kind: 'string', arg: 'TOPIC', help: 'the topic to use (default ferry-bench; created when missing)' },
  partitions: { kind: 'string', arg: 'N', help: 'partitions of the topic when the bench creates it (default 3)' },
  records: { kind: 'string', arg: 'N', help: 'records to send or read (default 1000000)' },
  'record-size': { kind: 'string', arg: 'B', help: 'bytes of each record value (default 1024)' },
  acks: { kind: 'string', arg: '0|1|all', help: 'acknowledgement the producer waits for (default all)' },
  compression: { kind: 'string', arg: 'CODEC', help: 'none (default), gzip, snappy, lz4 or zstd' },
  'linger-ms': { kind: 'string', arg: 'MS', help: 'how long a producer batch waits for more records (default 5)' },
  'batch-bytes': { kind: 'string', arg: 'B', help: 'producer batch size in bytes (default 262144)' },
  progress: { kind: 'flag', help: 'print the progress line even when stderr is not a terminal' },
};

const PRODUCE: CommandSpec = {
  command: 'ferry bench produce',
  usage: '[options]',
  summary: 'Measures producer throughput and send-to-acknowledgement latency.',
  positionals: { min: 0, max: 0 },
  options: { ...COMMON_OPTIONS, rate: { kind: 'string', arg: 'N', help: 'send at most N records per second (default: as fast as possible)' } },
};

const CONSUME: CommandSpec = {
  command: 'ferry bench consume',
  usage: '[options]',
  summary: 'Measures consumer throughput reading from the start of a topic (filled first when it holds fewer records).',
  positionals: { min: 0, max: 0 },
  options: COMMON_OPTIONS,
};

const E2E: CommandSpec = {
  command: 'ferry bench e2e',
  usage: '[options]',
  summary: 'Produces and consumes at once; measures end-to-end latency (send to arrival at the consumer).',
  positionals: { min: 0, max: 0 },
  options: { ...COMMON_OPTIONS, rate: { kind: 'string', arg: 'N', help: 'send at most N records per second (default: as fast as possible)' } },
};

const SUBCOMMANDS: Subcommand[] = [
  { name: 'produce', spec: PRODUCE, run: (args) => bench('produce', args) },
  { name: 'consume', spec: CONSUME, run: (args) => bench('consume', args) },
  { name: 'e2e', spec: E2E, run: (args) => bench('e2e', args) },
];

export function runBench(argv: string[]): Promise<number> {
  return dispatch('ferry bench', 'Benchmarks a broker through the client: throughput (msg/s, MB/s) and latency percentiles.', SUBCOMMANDS, argv);
}

type Mode = 'produce' | 'consume' | 'e2e';

interface Settings {
  mode: Mode;
  topic: string;
  partitions: number | undefined;
  records: number;
  recordSize: number;
  acks: 0 | 1 | 'all';
  compression: Compression;
  lingerMs: number;
  batchBytes: number;
  rate: number | undefined;
  progress: boolean;
}

export interface BenchResult {
  mode: Mode;
  topic: string;
  partitions: number;
  records: number;
  recordSize: number;
  acks: string;
  compression: Compression;
  lingerMs: number;
  batchBytes: number;
  seconds: number;
  msgPerSec: number;
  mbPerSec: number;
  /** What the latency figures measure. */
  latency: string;
  latencyMs: { p50: number; p99: number; p999: number; max: number };
}

const LATENCY_MEANING: Record<Mode, string> = {
  produce: 'send to acknowledgement',
  consume: 'wait for each fetched batch',
  e2e: 'send to arrival at the consumer',
};

async function bench(mode: Mode, args: Args): Promise<number> {
  const settings: Settings = {
    mode,
    topic: args.string('topic') ?? 'ferry-bench',
    partitions: args.int('partitions', { min: 1 }),
    records: args.int('records', { min: 1 }) ?? 1_000_000,
    recordSize: args.int('record-size', { min: 0, max: 64 * 1024 * 1024 }) ?? 1024,
    acks: parseAcks(args),
    compression: parseCompression(args),
    lingerMs: args.int('linger-ms', { min: 0 }) ?? 5,
    batchBytes: args.int('batch-bytes', { min: 1 }) ?? 256 * 1024,
    rate: mode === 'consume' ? undefined : args.int('rate', { min: 1 }),
    progress: args.flag('progress') || process.stderr.isTTY === true,
  };
  if (settings.topic === '') throw args.usageError('--topic must not be empty');
  if (mode === 'e2e' && settings.recordSize < 8) throw args.usageError('bench e2e needs --record-size of at least 8 (each value carries its send time)');
  const options = clientOptions(args);
  await ensureReachable(options);
  const partitions = await prepareTopic(options, settings);

  let measured: { seconds: number; latencies: Float64Array };
  if (mode === 'produce') measured = await runProducer(options, settings, 'produce');
  else if (mode === 'consume') measured = await runConsumer(options, settings);
  else measured = await runEndToEnd(options, settings);

  const { seconds, latencies } = measured;
  const result: BenchResult = {
    mode,
    topic: settings.topic,
    partitions,
    records: settings.records,
    recordSize: settings.recordSize,
    acks: String(settings.acks),
    compression: settings.compression,
    lingerMs: settings.lingerMs,
    batchBytes: settings.batchBytes,
    seconds: round(seconds, 4),
    msgPerSec: round(settings.records / seconds, 1),
    mbPerSec: round((settings.records * settings.recordSize) / seconds / 1e6, 3),
    latency: LATENCY_MEANING[mode],
    latencyMs: percentiles(latencies),
  };
  await writeOut(args.flag('json') ? `${JSON.stringify(result, null, 2)}\n` : report(result));
  return 0;
}

function round(n: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(n * f) / f;
}

function report(r: BenchResult): string {
  const l = r.latencyMs;
  const ms = (n: number): string => `${formatNumber(n)} ms`;
  return (
    `bench ${r.mode}: ${formatCount(r.records)} records of ${formatCount(r.recordSize)} B, topic ${r.topic} (${r.partitions} partition${r.partitions === 1 ? '' : 's'}), ` +
    `acks=${r.acks}, compression ${r.compression}, linger ${r.lingerMs} ms, batch ${formatCount(r.batchBytes)} B\n` +
    `throughput  ${formatCount(r.msgPerSec)} msg/s  ${formatNumber(r.mbPerSec)} MB/s  (${formatNumber(r.seconds)} s)\n` +
    `latency     p50 ${ms(l.p50)}  p99 ${ms(l.p99)}  p99.9 ${ms(l.p999)}  max ${ms(l.max)}  (${r.latency})\n`
  );
}

/** Sorted-sample percentiles (nearest rank), in milliseconds with microsecond precision. */
function percentiles(values: Float64Array): BenchResult['latencyMs'] {
  if (values.length === 0) return { p50: 0, p99: 0, p999: 0, max: 0 };
  const sorted = values.slice().sort();
  const at = (q: number): number => round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!, 3);
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), max: round(sorted[sorted.length - 1]!, 3) };
}

/** Creates the topic when it is missing; returns its partition count. */
async function prepareTopic(options: ReturnType<typeof clientOptions>, s: Settings): Promise<number> {
  const admin = new Admin(options);
  try {
    const existing = await admin.listTopics({ includeInternal: true });
    if (!existing.includes(s.topic)) {
      await admin.createTopics([{ name: s.topic, partitions: s.partitions ?? 3 }], { ifNotExists: true });
    }
    const [d] = await admin.describeTopics([s.topic]);
    const count = d!.partitions.length;
    if (s.partitions !== undefined && s.partitions !== count) {
      process.stderr.write(`note: topic ${s.topic} exists with ${count} partitions; --partitions applies only when the bench creates the topic\n`);
    }
    return count;
  } finally {
    await admin.close().catch(() => undefined);
  }
}

/** A progress line on stderr, rewritten in place on a terminal, one line per update otherwise. */
class Progress {
  private timer: NodeJS.Timeout | null = null;
  private lastCount = 0;
  private lastAt = performance.now();
  private readonly startedAt = performance.now();

  constructor(
    enabled: boolean,
    private readonly label: string,
    private readonly total: number,
    private readonly recordSize: number,
    private readonly count: () => number,
  ) {
    if (!enabled) return;
    this.timer = setInterval(() => this.print(), process.stderr.isTTY === true ? 250 : 1000);
    this.timer.unref();
  }

  private print(): void {
    const now = performance.now();
    const n = this.count();
    const rate = ((n - this.lastCount) / (now - this.lastAt)) * 1000;
    this.lastCount = n;
    this.lastAt = now;
    const line =
      `${this.label}: ${formatCount(n)}/${formatCount(this.total)} records (${Math.floor((n / this.total) * 100)}%), ` +
      `${formatCount(rate)} msg/s, ${formatNumber((rate * this.recordSize) / 1e6)} MB/s, ${formatNumber((now - this.startedAt) / 1000)} s`;
    process.stderr.write(process.stderr.isTTY === true ? `\r${line}\x1b[K` : `${line}\n`);
  }

  stop(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
    if (process.stderr.isTTY === true) process.stderr.write('\r\x1b[K');
  }
}

/** Values of the given size: random capital letters, compressible about as well as text, like Kafka's perf tool. */
function payload(size: number): Buffer {
  const buf = randomBytes(size);
  for (let i = 0; i < size; i++) buf[i] = 65 + (buf[i]! % 26);
  return buf;
}

/** Waits until record `i` may go out at `rate` per second. */
async function pace(i: number, rate: number, startedAt: number): Promise<void> {
  const due = startedAt + (i / rate) * 1000;
  const wait = due - performance.now();
  if (wait > 1) await new Promise((r) => setTimeout(r, wait));
}

function newProducer(options: ReturnType<typeof clientOptions>, s: Settings, acks: 0 | 1 | 'all' = s.acks): Producer {
  return new Producer({ ...options, acks, compression: s.compression, lingerMs: s.lingerMs, batchBytes: s.batchBytes });
}

/**
 * Sends `s.records` records; `stamp` makes each value carry its send time (e2e). Returns the
 * time from the first send to the last acknowledgement and each record's latency.
 */
async function runProducer(
  options: ReturnType<typeof clientOptions>,
  s: Settings,
  label: string,
  config: { records?: number; acks?: 0 | 1 | 'all'; stamp?: boolean; quietProgress?: boolean } = {},
): Promise<{ seconds: number; latencies: Float64Array }> {
  const records = config.records ?? s.records;
  const producer = newProducer(options, s, config.acks ?? s.acks);
  const value = payload(s.recordSize);
  const latencies = new Float64Array(records);
  let acked = 0;
  let lastAckAt = 0;
  let failure: unknown = null;
  const progress = new Progress(s.progress && config.quietProgress !== true, label, records, s.recordSize, () => acked);
  const startedAt = performance.now();
  try {
    for (let i = 0; i < records && failure === null; i++) {
      if (s.rate !== undefined) await pace(i, s.rate, startedAt);
      const sentAt = performance.now();
      let v = value;
      if (config.stamp === true) {
        v = Buffer.allocUnsafe(value.length);
        value.copy(v);
        v.writeDoubleLE(sentAt, 0);
      }
      const queued = await producer.queue({ topic: s.topic, value: v });
      queued.delivered.then(
        () => {
          lastAckAt = performance.now();
          latencies[i] = lastAckAt - sentAt;
          acked++;
        },
        (error: unknown) => {
          failure ??= error;
        },
      );
    }
    await producer.flush();
  } finally {
    progress.stop();
    await producer.close().catch(() => undefined);
  }
  if (failure !== null) throw failure;
  return { seconds: (lastAckAt - startedAt) / 1000, latencies };
}

async function runConsumer(options: ReturnType<typeof clientOptions>, s: Settings): Promise<{ seconds: number; latencies: Float64Array }> {
  const admin = new Admin(options);
  let offsets;
  try {
    offsets = await admin.topicOffsets(s.topic);
  } finally {
    await admin.close().catch(() => undefined);
  }
  const held = offsets.reduce((n, o) => n + Number(o.latest - o.earliest), 0);
  if (held < s.records) {
    const missing = s.records - held;
    if (s.progress) process.stderr.write(`filling topic ${s.topic} with ${formatCount(missing)} records first\n`);
    await runProducer(options, s, 'fill', { records: missing, acks: 1 });
  }
  const consumer = new Consumer({ ...options, fetchMaxWaitMs: 100 });
  consumer.assign(offsets.map((o) => ({ topic: s.topic, partition: o.partition, offset: 'earliest' as const })));
  const waits: number[] = [];
  let received = 0;
  const progress = new Progress(s.progress, 'consume', s.records, s.recordSize, () => received);
  const startedAt = performance.now();
  let endedAt = startedAt;
  try {
    let waitFrom = startedAt;
    while (received < s.records) {
      const batch = await consumer.nextBatch(s.records - received);
      if (batch === null) throw new CliError('the consumer closed before reading every record');
      endedAt = performance.now();
      waits.push(endedAt - waitFrom);
      received += batch.messages.length;
      waitFrom = performance.now();
    }
  } finally {
    progress.stop();
    await consumer.close().catch(() => undefined);
  }
  return { seconds: (endedAt - startedAt) / 1000, latencies: Float64Array.from(waits) };
}

async function runEndToEnd(options: ReturnType<typeof clientOptions>, s: Settings): Promise<{ seconds: number; latencies: Float64Array }> {
  // The consumer starts at today's end of each partition, so it sees exactly this run's records.
  const admin = new Admin(options);
  let ends;
  try {
    ends = await admin.listOffsets(s.topic, 'latest');
  } finally {
    await admin.close().catch(() => undefined);
  }
  const consumer = new Consumer({ ...options, fetchMaxWaitMs: 100 });
  consumer.assign(ends.map((e) => ({ topic: s.topic, partition: e.partition, offset: e.offset })));
  const latencies = new Float64Array(s.records);
  let received = 0;
  let lastAt = 0;
  const reading = (async () => {
    while (received < s.records) {
      const batch = await consumer.nextBatch();
      if (batch === null) return;
      const now = performance.now();
      for (const m of batch.messages) {
        if (received >= s.records) break;
        if (m.value === null || m.value.length < 8) throw new CliError(`a record at ${m.topic}-${m.partition} offset ${m.offset} was not sent by this bench`);
        latencies[received++] = now - m.value.readDoubleLE(0);
      }
      lastAt = now;
    }
  })();
  const startedAt = performance.now();
  const progress = new Progress(s.progress, 'e2e', s.records, s.recordSize, () => received);
  try {
    await Promise.all([runProducer(options, s, 'e2e', { stamp: true, quietProgress: true }), reading]);
  } finally {
    progress.stop();
    await consumer.close().catch(() => undefined);
  }
  return { seconds: (lastAt - startedAt) / 1000, latencies };
}

// Client benchmark: `ferry bench produce` (Ferry's TypeScript producer) beside librdkafka on
// the same broker in the same run. Run with `npm run bench:client` (options after `--`:
// --runs <n> (default 3), --records <n> per run (default 300000), --partitions <n> (default 3),
// --acks 1,all, --batch-bytes <n> (default 1000000), --dir <path> for the broker's data
// (default os.tmpdir())). Takes about two minutes with the defaults.
//
// What it measures: producing --records records of 1 KiB (values of random capital letters,
// no keys, no compression) into a new topic of --partitions partitions on one Ferry broker
// process, with the same producer settings on every client: linger 5 ms, batches of up to
// --batch-bytes, the given acks. MB = 10^6 bytes of record values, as Kafka's tools count.
// - Ferry: `ferry bench produce --json`; its own timer (first send to last acknowledgement).
// - kcat -P (librdkafka) reading the same records as lines from a file on stdin; its time is
//   the process's wall time minus the fixed cost of a kcat -P run with empty input (start-up,
//   connection, metadata, exit), measured beside it. kcat is the baseline the target is judged
//   against: Ferry's producer should reach >= 70% of its throughput.
// - rdkafka_performance (librdkafka's own load generator), when `npm run bench:broker` has
//   built it into dist/bench/broker/tools/: its own timer, like Ferry's. A second baseline.
// Every run's record count is checked against the topic's end offsets. The clients take turns
// in a rotating order within each round, so that drift on a shared machine affects them alike;
// the figures are medians over --runs rounds. Every process started here is stopped by its id,
// and the data directory is removed.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

const RUNS = Math.max(3, Number(option('runs', '3')));
const RECORDS = Math.max(1000, Number(option('records', '300000')));
const PARTITIONS = Math.max(1, Number(option('partitions', '3')));
const ACKS = option('acks', '1,all').split(',');
const BATCH_BYTES = Number(option('batch-bytes', '1000000'));
const RECORD_BYTES = 1024;
const LINGER_MS = 5;
const TARGET_RATIO = 0.7;
const RUN_TIMEOUT_MS = 300_000;

const here = dirname(fileURLToPath(import.meta.url)); // dist/bench
const projectRoot = join(here, '..', '..');
const rdkafkaPerformance = join(here, 'broker', 'tools', 'rdkafka_performance');

function say(message: string): void {
  process.stderr.write(`bench:client: ${message}\n`);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

// ---- processes ----------------------------------------------------------------------------------

const children = new Set<ChildProcess>();
const workDir = fs.mkdtempSync(join(option('dir', tmpdir()), 'ferry-bench-client-'));

function stop(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

function cleanUp(): void {
  for (const c of children) stop(c, 'SIGKILL');
  children.clear();
  fs.rmSync(workDir, { recursive: true, force: true });
}
process.on('exit', cleanUp);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    cleanUp();
    process.exit(130);
  });
}

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
  wallSeconds: number;
}

/** Runs a command in its own process group; `stdin` is a file to feed it, or nothing. */
function run(cmd: string, args: string[], stdin?: string): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const input = stdin === undefined ? 'ignore' : fs.openSync(stdin, 'r');
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: [input, 'pipe', 'pipe'], detached: true });
    if (typeof input === 'number') fs.closeSync(input);
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-8192)));
    const timer = setTimeout(() => stop(child, 'SIGKILL'), RUN_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr, wallSeconds: Number(process.hrtime.bigint() - started) / 1e9 });
    });
  });
}

/**
 * A private copy of bin/ferry.js, dist/src and package.json: others may rebuild dist/ while this
 * runs, and a half-written module would fail a run for reasons that have nothing to measure.
 */
function snapshot(): string {
  const into = join(workDir, 'snapshot');
  fs.mkdirSync(join(into, 'bin'), { recursive: true });
  fs.copyFileSync(join(projectRoot, 'bin', 'ferry.js'), join(into, 'bin', 'ferry.js'));
  fs.copyFileSync(join(projectRoot, 'package.json'), join(into, 'package.json'));
  fs.cpSync(join(projectRoot, 'dist', 'src'), join(into, 'dist', 'src'), { recursive: true, filter: (p) => !p.endsWith('.map') });
  fs.symlinkSync(join(projectRoot, 'node_modules'), join(into, 'node_modules'));
  return join(into, 'bin', 'ferry.js');
}

const ferryBin = snapshot();

function ferry(args: string[]): Promise<Finished> {
  return run(process.execPath, [ferryBin, ...args]);
}

async function ferryOk(args: string[]): Promise<string> {
  const r = await ferry(args);
  if (r.code !== 0) throw new Error(`ferry ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

function startBroker(): Promise<{ port: number; child: ChildProcess }> {
  const dataDir = join(workDir, 'data');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ferryBin, 'start', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    children.add(child);
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const m = /listening on [\d.]+:(\d+)/.exec(out);
      if (m !== null) resolve({ port: Number(m[1]), child });
    });
    child.stderr!.resume();
    child.on('close', (code) => reject(new Error(`the broker exited with ${code} before listening: ${out}`)));
  });
}

function which(name: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

// ---- the clients ----------------------------------------------------------------------------------

interface Sample {
  msgPerSec: number;
  mbPerSec: number;
  p50?: number;
  p99?: number;
}

let bootstrap = '';
let topicCounter = 0;

/** A fresh topic per run, so that no client appends to another's log. */
async function newTopic(): Promise<string> {
  const topic = `bench-client-${++topicCounter}`;
  await ferryOk(['topic', 'create', topic, '--partitions', String(PARTITIONS), '--bootstrap', bootstrap]);
  return topic;
}

/** Checks that the topic holds exactly the run's records, then deletes it to free the disk. */
async function verifyAndDrop(topic: string, client: string): Promise<void> {
  const d = JSON.parse(await ferryOk(['topic', 'describe', topic, '--json', '--bootstrap', bootstrap])) as { partitions: Array<{ endOffset: number }> };
  const total = d.partitions.reduce((n, p) => n + p.endOffset, 0);
  if (total !== RECORDS) throw new Error(`${client} left ${total} records in ${topic}, not ${RECORDS}`);
  await ferryOk(['topic', 'delete', topic, '--bootstrap', bootstrap]);
}

function toSample(records: number, seconds: number, extra: Partial<Sample> = {}): Sample {
  return { msgPerSec: records / seconds, mbPerSec: (records * RECORD_BYTES) / seconds / 1e6, ...extra };
}

async function ferrySample(acks: string): Promise<Sample> {
  const topic = await newTopic();
  const args = ['bench', 'produce', '--json', '--bootstrap', bootstrap, '--topic', topic, '--records', String(RECORDS), '--record-size', String(RECORD_BYTES)];
  args.push('--acks', acks, '--linger-ms', String(LINGER_MS), '--batch-bytes', String(BATCH_BYTES), '--compression', 'none');
  const r = JSON.parse(await ferryOk(args)) as { seconds: number; latencyMs: { p50: number; p99: number } };
  await verifyAndDrop(topic, 'ferry bench produce');
  return toSample(RECORDS, r.seconds, { p50: r.latencyMs.p50, p99: r.latencyMs.p99 });
}

/** librdkafka settings shared by kcat and rdkafka_performance: the same as Ferry's run. */
function librdkafkaConfig(acks: string): string[] {
  return [`acks=${acks === 'all' ? '-1' : acks}`, `linger.ms=${LINGER_MS}`, `batch.size=${BATCH_BYTES}`, 'compression.codec=none'].flatMap((kv) => ['-X', kv]);
}

let kcatPath = '';
let linesFile = '';
let kcatFixedSeconds = NaN;

async function kcatRun(topic: string, acks: string, input: string): Promise<Finished> {
  const r = await run(kcatPath, ['-P', '-b', bootstrap, '-t', topic, ...librdkafkaConfig(acks)], input);
  if (r.code !== 0) throw new Error(`kcat -P failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r;
}

async function kcatSample(acks: string): Promise<Sample> {
  const topic = await newTopic();
  const r = await kcatRun(topic, acks, linesFile);
  await verifyAndDrop(topic, 'kcat -P');
  return toSample(RECORDS, r.wallSeconds - kcatFixedSeconds);
}

async function rdkafkaPerformanceSample(acks: string): Promise<Sample> {
  const topic = await newTopic();
  const args = ['-P', '-t', topic, '-b', bootstrap, '-s', String(RECORD_BYTES), '-c', String(RECORDS), '-a', acks === 'all' ? '-1' : acks, '-q', ...librdkafkaConfig(acks)];
  const r = await run(rdkafkaPerformance, args);
  const m = /(\d+) messages produced \(\d+ bytes\), (\d+) delivered \(offset -?\d+, (\d+) failed\) in (\d+)ms/.exec(r.stdout);
  if (r.code !== 0 || m === null || Number(m[2]) !== RECORDS) throw new Error(`rdkafka_performance failed (exit ${r.code}): ${r.stdout.slice(-500)} ${r.stderr.slice(-500)}`);
  await verifyAndDrop(topic, 'rdkafka_performance');
  return toSample(RECORDS, Number(m[4]) / 1000);
}

/** The records as kcat reads them: one 1 KiB line each (random capital letters, as Ferry's bench sends). */
function writeLines(path: string): void {
  const fd = fs.openSync(path, 'w');
  const chunkLines = 1000;
  const chunk = Buffer.alloc(chunkLines * (RECORD_BYTES + 1));
  for (let written = 0; written < RECORDS; written += chunkLines) {
    const n = Math.min(chunkLines, RECORDS - written);
    for (let i = 0; i < n * (RECORD_BYTES + 1); i++) chunk[i] = i % (RECORD_BYTES + 1) === RECORD_BYTES ? 10 : 65 + Math.floor(Math.random() * 26);
    fs.writeSync(fd, chunk, 0, n * (RECORD_BYTES + 1));
  }
  fs.closeSync(fd);
}

// ---- the run ----------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const kcat = which('kcat') ?? which('kafkacat');
  if (kcat === null) {
    say('kcat is not installed (apt-get install kcat); it is the baseline of this benchmark');
    process.exit(2);
  }
  kcatPath = kcat;
  const haveRdkPerf = fs.existsSync(rdkafkaPerformance);
  const kcatVersion = /librdkafka (?:version )?(\S+)/.exec(execFileSync(kcat, ['-V'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
  say(`${cpus().length} CPUs; kcat with librdkafka ${kcatVersion}; rdkafka_performance ${haveRdkPerf ? 'found' : 'not built (run npm run bench:broker once to include it)'}`);
  linesFile = join(workDir, 'records.txt');
  writeLines(linesFile);
  const empty = join(workDir, 'empty.txt');
  fs.writeFileSync(empty, '');
  const broker = await startBroker();
  bootstrap = `127.0.0.1:${broker.port}`;
  say(`broker on ${bootstrap}; ${RUNS} rounds of ${RECORDS} records of ${RECORD_BYTES} B, ${PARTITIONS} partitions, acks ${ACKS.join(' and ')}`);

  // kcat's fixed cost: start-up, connection, metadata and exit with nothing to send.
  const fixed: number[] = [];
  const warmTopic = await newTopic();
  for (let i = 0; i < 3; i++) fixed.push((await kcatRun(warmTopic, '1', empty)).wallSeconds);
  kcatFixedSeconds = median(fixed);

  const clients: Array<[string, (acks: string) => Promise<Sample>]> = [
    ['ferry bench produce', ferrySample],
    ['kcat -P', kcatSample],
    ...(haveRdkPerf ? [['rdkafka_performance', rdkafkaPerformanceSample] as [string, (acks: string) => Promise<Sample>]] : []),
  ];
  const samples = new Map<string, Sample[]>();
  for (let round = 0; round < RUNS; round++) {
    for (const acks of ACKS) {
      for (let k = 0; k < clients.length; k++) {
        const [name, sample] = clients[(k + round) % clients.length]!;
        const s = await sample(acks);
        const key = `${name}|${acks}`;
        samples.set(key, [...(samples.get(key) ?? []), s]);
        say(`round ${round + 1} acks=${acks} ${name}: ${Math.round(s.msgPerSec)} msg/s, ${s.mbPerSec.toFixed(1)} MB/s`);
      }
    }
  }
  stop(broker.child, 'SIGTERM');

  const lines = [
    `Ferry's producer (ferry bench produce) beside librdkafka, ${RECORDS} records of ${RECORD_BYTES} B, ${PARTITIONS} partitions,`,
    `linger ${LINGER_MS} ms, batches of ${BATCH_BYTES} B, no compression; median of ${RUNS} runs; kcat fixed cost ${(kcatFixedSeconds * 1000).toFixed(0)} ms subtracted`,
    '',
    '| acks | Ferry | kcat -P | Ferry / kcat | rdkafka_performance | Ferry / rdkafka_performance | Ferry latency p50 / p99 |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  const result: Record<string, unknown> = {};
  for (const acks of ACKS) {
    const med = (name: string, field: keyof Sample): number => median((samples.get(`${name}|${acks}`) ?? []).map((s) => s[field] ?? NaN));
    const f = med('ferry bench produce', 'mbPerSec');
    const k = med('kcat -P', 'mbPerSec');
    const r = haveRdkPerf ? med('rdkafka_performance', 'mbPerSec') : NaN;
    const ratio = f / k;
    const cell = (mb: number, name: string): string => (Number.isNaN(mb) ? '—' : `${mb.toFixed(1)} MB/s (${Math.round(med(name, 'msgPerSec') / 1000)} k msg/s)`);
    lines.push(
      `| ${acks} | ${cell(f, 'ferry bench produce')} | ${cell(k, 'kcat -P')} | ${ratio.toFixed(2)}× ${ratio >= TARGET_RATIO ? '✓' : '✗'} | ${cell(r, 'rdkafka_performance')} | ${Number.isNaN(r) ? '—' : `${(f / r).toFixed(2)}×`} | ${med('ferry bench produce', 'p50').toFixed(0)} / ${med('ferry bench produce', 'p99').toFixed(0)} ms |`,
    );
    result[`acks=${acks}`] = { ferryMBps: f, kcatMBps: k, rdkafkaPerformanceMBps: r, ratioToKcat: ratio, ratioToRdkafkaPerformance: f / r };
  }
  lines.push('', `target: Ferry >= ${TARGET_RATIO}× kcat's throughput`);
  process.stdout.write(`${lines.join('\n')}\n\n${JSON.stringify(result)}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    say(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);

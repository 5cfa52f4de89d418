// Broker benchmark: Ferry as a whole process, driven over loopback TCP by librdkafka clients.
// Run with `npm run bench:broker` (options after `--`: --runs <n> (default 3), --fill-gib <n>
// for the catch-up topic (default 1.5), --partitions <n> (default 3), --seconds <n> per produce
// run (default 3), --only baseline,calibrate,produce,fetch, --record-sizes 1024,100 and
// --acks 1,all for the produce rows, --no-profile, --profile-all (also the met targets' scenarios),
// --dir <path> for the data directories
// (default os.tmpdir())). Takes about 6 minutes with the defaults.
//
// What it measures (MB = 10^6 B, GB = 10^9 B; "MB/s" counts record values, as Kafka's tools do):
// - Producer throughput for 100 B and 1 KiB records at acks=1 and acks=all, one topic of
//   --partitions partitions, from rdkafka_performance (librdkafka's own load generator, built
//   here from the librdkafka-dev examples with a small shim, bench/broker/librdkafka-shim/),
//   default partitioner, linger.ms=5, batch.size=1000000, no compression. Each row runs on its
//   own fresh broker; a warm-up run (which also sizes the measured runs to about --seconds)
//   goes first; then --runs rounds, each measuring 1 generator process and 2 in parallel (each
//   sending half) with cold pages, and 1 generator with warm pages (see below), on a new topic
//   per run. Rate = messages / the generator's own elapsed time (first produce call to last
//   delivery report; for 2 generators, the longer of the two).
// - Consumer catch-up: a topic pre-filled with --fill-gib GiB of 1 KiB records (one generator
//   per partition), the broker restarted (its tail cache is then cold: reads go to the segment
//   files, which are in the page cache), then kcat -C -e -o beginning -f '' > /dev/null reads
//   it all, as 1 kcat process for all partitions and as one kcat process per partition.
//   Time = wall time of the kcat process(es) minus the fixed cost of a kcat run that reads
//   nothing (-o end), measured beside it.
// - Page state: this kind of VM hands freed memory back to the host (virtio-balloon free page
//   reporting), and writing into such pages again is several times slower, which moves the
//   produce rate by ~2×. Each run is therefore preceded by a defined state (see preparePages):
//   "cold" (a pause; the targets are judged here) or "warm" (recently freed pages).
// - The broker's CPU: utime and stime of its process (all threads, incl. kernel time in its
//   system calls) from /proc/<pid>/stat over the run, as % of one core.
// - Baselines in the same run: loopback TCP between two Node processes (1 MiB writes),
//   sequential file writes of 1 MiB (page cache, cold and warm; and fdatasync after each, the
//   acks=all analogue), preads of 1 MiB from the page cache (the catch-up analogue).
// - That the load generators are not the limit: (1) the same generator against a null broker
//   (bench/broker/null-broker.ts: Ferry's server, connection and codec layers with Produce
//   acknowledged and dropped, and Fetch served from an in-memory copy of the same topic), (2)
//   their CPU use as % of one core, (3) 1 vs 2 generator (or 1 vs per-partition kcat) processes.
// - Targets (2-core machine): ≥ 300 MB/s producing 1 KiB records at acks=1, ≥ 150 MB/s at
//   acks=all, ≥ 1 GB/s catch-up fetch, judged on the single-client rows with cold pages. For
//   each miss the scenario is run once more with the broker under `node --cpu-prof`, and the
//   profile's top self-time functions are printed.
//
// Everything runs against 127.0.0.1 with bounded message counts and per-process time limits;
// every process started here is stopped by its id, and the data directories are removed.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { arch, cpus, loadavg, platform, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

// ---- options ---------------------------------------------------------------------------------

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const RUNS = Math.max(3, Number(option('runs') ?? 3));
const PARTITIONS = Math.max(1, Number(option('partitions') ?? 3));
const FILL_BYTES = Math.round(Number(option('fill-gib') ?? 1.5) * GiB);
const RUN_SECONDS = Math.max(1, Number(option('seconds') ?? 3));
const ONLY = new Set((option('only') ?? 'baseline,calibrate,produce,fetch').split(','));
const PROFILE = !process.argv.includes('--no-profile');
/** Profile every target's scenario, met or not (by default only the missed ones). */
const PROFILE_ALL = process.argv.includes('--profile-all');
const BASE_DIR = option('dir') ?? tmpdir();

const RECORD_SIZES = (option('record-sizes') ?? '1024,100').split(',').map(Number);
const ACKS: Array<{ label: string; value: number }> = [
  { label: 'acks=1', value: 1 },
  { label: 'acks=all', value: -1 },
].filter((a) => (option('acks') ?? '1,all').split(',').includes(a.value === 1 ? '1' : 'all'));
/** Bytes of the warm-up run that sizes the measured runs of a row. */
const PROBE_BYTES = 128 * MiB;
/** Bounds on the bytes of one measured produce run. */
const RUN_BYTES_MIN = 64 * MiB;
const RUN_BYTES_MAX = 3 * GiB;
const TCP_BYTES = 2 * GiB;
const TCP_CHUNK = 1 * MiB;
const DISK_BYTES = 1 * GiB;
const DISK_SYNC_BYTES = 256 * MiB;
const DISK_CHUNK = 1 * MiB;
/** Per-process time limits. */
const CLIENT_TIMEOUT_MS = 180_000;
const BROKER_START_TIMEOUT_MS = 60_000;

const TARGET_PRODUCE_ACKS1 = 300e6;
const TARGET_PRODUCE_ACKSALL = 150e6;
const TARGET_FETCH = 1e9;

/** librdkafka producer settings, passed explicitly (these are 2.0.2's defaults but linger.ms). */
const PRODUCER_CONF = [
  'linger.ms=5',
  'batch.size=1000000',
  'batch.num.messages=10000',
  'queue.buffering.max.messages=100000',
  'compression.codec=none',
  'message.timeout.ms=120000',
];

/**
 * kcat settings: librdkafka's defaults (fetch.message.max.bytes 1 MiB per partition, one fetch in
 * flight per connection) except the long-poll wait, so that the fetch at the end of the log, which
 * -e waits for, returns after 10 ms rather than 500 (it returns at once whenever there is data).
 */
const KCAT_CONF = ['fetch.wait.max.ms=10'];

// ---- helpers -----------------------------------------------------------------------------------

function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function rate(bytesPerSec: number): string {
  const gb = bytesPerSec / 1e9;
  if (gb >= 1) return `${gb.toFixed(2)} GB/s`;
  const mb = bytesPerSec / 1e6;
  return `${mb >= 100 ? Math.round(mb) : mb.toFixed(1)} MB/s`;
}

function count(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 1 : 2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)} k`;
  return String(Math.round(n));
}

function pct(x: number): string {
  return `${Math.round(100 * x)}%`;
}

function sizeLabel(bytes: number): string {
  if (bytes % GiB === 0) return `${bytes / GiB} GiB`;
  if (bytes >= 256 * MiB) return `${(bytes / GiB).toFixed(2)} GiB`;
  if (bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes % KiB === 0) return `${bytes / KiB} KiB`;
  return `${bytes} B`;
}

function progress(message: string): void {
  process.stderr.write(`bench:broker: ${message}\n`);
}

function fail(message: string): never {
  process.stderr.write(`\nbench:broker: ${message}\n`);
  process.exit(2);
}

function which(name: string): string | null {
  for (const d of (process.env.PATH ?? '').split(':')) {
    if (d === '') continue;
    const p = join(d, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

let CLK_TCK = 100;
try {
  CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // keep 100, Linux's USER_HZ
}

/** utime and stime of a process (all its threads), in seconds, from /proc/<pid>/stat. */
function processCpu(pid: number): { user: number; sys: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): utime is field 14, stime field 15.
  return { user: Number(rest[11]) / CLK_TCK, sys: Number(rest[12]) / CLK_TCK };
}

// ---- child processes ---------------------------------------------------------------------------

/** Every process started here, each leading its own process group, stopped by id at exit. */
const children = new Set<ChildProcess>();
let workDir: string | null = null;

function killChild(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      process.kill(child.pid, signal);
    } catch {
      // already gone
    }
  }
}

function cleanUp(): void {
  for (const c of children) killChild(c, 'SIGKILL');
  children.clear();
  if (workDir !== null) {
    fs.rmSync(workDir, { recursive: true, force: true });
    workDir = null;
  }
}
process.on('exit', cleanUp);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    progress(`${sig}: stopping the processes started and removing ${workDir ?? 'nothing'}`);
    cleanUp();
    process.exit(130);
  });
}

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  wallSeconds: number;
  timedOut: boolean;
}

/** Runs a command to completion (its own process group, killed after timeoutMs). */
function runCommand(cmd: string, args: string[], timeoutMs = CLIENT_TIMEOUT_MS, keepStdout = true): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const child = spawn(cmd, args, { stdio: ['ignore', keepStdout ? 'pipe' : 'ignore', 'pipe'], detached: true });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      if (stdout.length < 1 << 20) stdout += s;
    });
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      stderr = (stderr + s).slice(-(1 << 16));
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killChild(child, 'SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      children.delete(child);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, stdout, stderr, wallSeconds: now() - t0, timedOut });
    });
  });
}

/**
 * Runs a client under bash so that `times` reports the CPU it used (user + sys of the
 * waited-for child, all threads): returns that as cpuSeconds.
 */
async function runMeasured(cmd: string, args: string[], keepStdout = true): Promise<Finished & { cpuSeconds: number }> {
  const r = await runCommand('bash', ['-c', '"$0" "$@"; rc=$?; times >&2; exit $rc', cmd, ...args], CLIENT_TIMEOUT_MS, keepStdout);
  const lines = r.stderr.trimEnd().split('\n');
  const m = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/.exec(lines[lines.length - 1] ?? '');
  const cpuSeconds = m === null ? NaN : Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]);
  return { ...r, cpuSeconds };
}

interface BrokerProcess {
  kind: 'ferry' | 'null';
  pid: number;
  port: number;
  stop(): Promise<void>;
}

/** Starts Ferry (bin/ferry.js of the snapshot) or the null broker, and waits for its port. */
function startBroker(kind: 'ferry' | 'null', dataDir: string, extra: string[], nodeFlags: string[] = []): Promise<BrokerProcess> {
  const script = kind === 'ferry' ? [join(snapshot, 'bin', 'ferry.js'), 'start'] : [join(snapshot, 'dist', 'bench', 'broker', 'null-broker.js')];
  const args = [...nodeFlags, ...script, '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, ...extra];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.add(child);
    let out = '';
    let err = '';
    let started = false;
    const exited = new Promise<void>((r) => child.on('close', () => r()));
    const timer = setTimeout(() => {
      killChild(child, 'SIGKILL');
      reject(new Error(`${kind} broker did not start within ${BROKER_START_TIMEOUT_MS} ms:\n${out}${err}`));
    }, BROKER_START_TIMEOUT_MS);
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      err = (err + s).slice(-(1 << 16));
    });
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const m = /listening on [\d.]+:(\d+)/.exec(out);
      if (m !== null && !started) {
        started = true;
        clearTimeout(timer);
        resolve({
          kind,
          pid: child.pid!,
          port: Number(m[1]),
          async stop() {
            killChild(child, 'SIGTERM');
            const t = setTimeout(() => killChild(child, 'SIGKILL'), 60_000);
            await exited;
            clearTimeout(t);
            children.delete(child);
            if (child.exitCode !== 0) progress(`${kind} broker exited with ${child.exitCode ?? child.signalCode}: ${err.trim().split('\n').slice(-3).join(' | ')}`);
          },
        });
      }
    });
    child.on('close', (code) => {
      children.delete(child);
      if (!started) {
        clearTimeout(timer);
        reject(new Error(`${kind} broker exited with ${code} before listening:\n${out}${err}`));
      }
    });
  });
}

// ---- tools: kcat and rdkafka_performance ----------------------------------------------------

const here = dirname(fileURLToPath(import.meta.url)); // dist/bench
const projectRoot = join(here, '..', '..');
const shimDir = join(projectRoot, 'bench', 'broker', 'librdkafka-shim');
const toolDir = join(here, 'broker', 'tools');
const RDKPERF_SOURCES = [
  '/usr/share/doc/librdkafka-dev/examples/rdkafka_performance.c',
  '/usr/share/doc/librdkafka-dev/examples/rdkafka_performance.c.gz',
];

function missingTools(what: string[]): never {
  fail(
    `missing: ${what.join('; ')}.\n` +
      `This benchmark drives the broker with librdkafka's tools. On Debian/Ubuntu:\n` +
      `  apt-get install librdkafka-dev gcc kcat\n` +
      `(librdkafka-dev ships rdkafka_performance.c in /usr/share/doc/librdkafka-dev/examples, which this\n` +
      `script compiles with the shim in bench/broker/librdkafka-shim/ into dist/bench/broker/tools/).`,
  );
}

function prepareTools(): { kcat: string; rdkperf: string; rdkVersion: string; kcatVersion: string } {
  const missing: string[] = [];
  const kcat = which('kcat') ?? which('kafkacat');
  if (kcat === null) missing.push('kcat (package kcat)');
  if (which('bash') === null) missing.push('bash');
  const cc = which('gcc') ?? which('cc');
  const source = RDKPERF_SOURCES.find((p) => fs.existsSync(p));
  const header = ['/usr/include/librdkafka/rdkafka.h', '/usr/local/include/librdkafka/rdkafka.h'].find((p) => fs.existsSync(p));
  const binary = join(toolDir, 'rdkafka_performance');
  const haveBinary = fs.existsSync(binary);
  if (!haveBinary) {
    if (source === undefined) missing.push('rdkafka_performance.c (package librdkafka-dev)');
    if (header === undefined) missing.push('librdkafka/rdkafka.h (package librdkafka-dev)');
    if (cc === null) missing.push('a C compiler (package gcc)');
  }
  if (!fs.existsSync(join(shimDir, 'rd.h'))) missing.push(`the shim ${relative(process.cwd(), join(shimDir, 'rd.h'))}`);
  if (missing.length > 0) missingTools(missing);
  const shimStamp = Math.max(fs.statSync(join(shimDir, 'rd.h')).mtimeMs, fs.statSync(join(shimDir, 'rdtime.h')).mtimeMs);
  const stale = haveBinary && source !== undefined && Math.max(fs.statSync(source).mtimeMs, shimStamp) > fs.statSync(binary).mtimeMs;
  if (!haveBinary || stale) {
    if (source === undefined || header === undefined || cc === null) missingTools(['librdkafka-dev / gcc to rebuild rdkafka_performance']);
    progress(`building rdkafka_performance from ${source}`);
    // The example includes "../src/rd.h" next to itself: lay the shim out as src/ beside examples/.
    const build = join(toolDir, 'build');
    fs.rmSync(build, { recursive: true, force: true });
    fs.mkdirSync(join(build, 'examples'), { recursive: true });
    fs.mkdirSync(join(build, 'src'), { recursive: true });
    for (const f of ['rd.h', 'rdtime.h']) fs.copyFileSync(join(shimDir, f), join(build, 'src', f));
    const raw = fs.readFileSync(source);
    fs.writeFileSync(join(build, 'examples', 'rdkafka_performance.c'), source.endsWith('.gz') ? gunzipSync(raw) : raw);
    try {
      execFileSync(
        cc,
        ['-O2', '-w', '-I', join(build, 'src'), '-I', dirname(header), join(build, 'examples', 'rdkafka_performance.c'), '-o', binary, '-lrdkafka'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
    } catch (e) {
      const err = e as { stderr?: Buffer };
      fail(`building rdkafka_performance failed:\n${err.stderr?.toString() ?? String(e)}\nIs librdkafka-dev (headers and libsrdkafka.so) installed?`);
    }
    fs.rmSync(build, { recursive: true, force: true });
  }
  let rdkVersion = 'unknown';
  try {
    execFileSync(binary, ['-h'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const out = `${(e as { stdout?: string }).stdout ?? ''}${(e as { stderr?: string }).stderr ?? ''}`;
    rdkVersion = /librdkafka version (\S+)/.exec(out)?.[1] ?? 'unknown';
    if (rdkVersion === 'unknown') fail(`${binary} does not run:\n${out}\nRebuild it: rm ${binary}`);
  }
  let kcatVersion = 'unknown';
  try {
    kcatVersion = /Version (\d+\.\d+\.\d+)/.exec(execFileSync(kcat!, ['-V'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }))?.[1] ?? 'unknown';
  } catch {
    // unknown
  }
  return { kcat: kcat!, rdkperf: binary, rdkVersion, kcatVersion };
}

/**
 * A private copy of the build (bin/ferry.js, dist/src, dist/bench/broker, package.json and a
 * link to node_modules): others may rebuild dist/ while this runs for minutes.
 */
function makeSnapshot(into: string): void {
  const dist = join(projectRoot, 'dist');
  fs.mkdirSync(join(into, 'bin'), { recursive: true });
  fs.copyFileSync(join(projectRoot, 'bin', 'ferry.js'), join(into, 'bin', 'ferry.js'));
  fs.copyFileSync(join(projectRoot, 'package.json'), join(into, 'package.json'));
  const filter = (src: string): boolean => !src.endsWith('.map') && !src.includes(`${join('broker', 'tools')}`);
  fs.cpSync(join(dist, 'src'), join(into, 'dist', 'src'), { recursive: true, filter });
  fs.cpSync(join(dist, 'bench', 'broker'), join(into, 'dist', 'bench', 'broker'), { recursive: true, filter });
  fs.symlinkSync(join(projectRoot, 'node_modules'), join(into, 'node_modules'));
}

// ---- clients -----------------------------------------------------------------------------------

interface ProducerResult {
  messages: number;
  delivered: number;
  seconds: number;
  cpuSeconds: number;
}

async function produce(port: number, topic: string, size: number, messages: number, acks: number, partition?: number): Promise<ProducerResult> {
  const args = ['-P', '-t', topic, '-b', `127.0.0.1:${port}`, '-s', String(size), '-c', String(messages), '-a', String(acks), '-q'];
  if (partition !== undefined) args.push('-p', String(partition));
  for (const kv of PRODUCER_CONF) args.push('-X', kv);
  const r = await runMeasured(tools.rdkperf, args);
  const m = /(\d+) messages produced \((\d+) bytes\), (\d+) delivered \(offset -?\d+, (\d+) failed\) in (\d+)ms/.exec(r.stdout);
  if (r.timedOut || r.code !== 0 || m === null || Number(m[3]) !== messages) {
    throw new Error(
      `rdkafka_performance ${args.join(' ')} failed (exit ${r.code ?? r.signal}${r.timedOut ? ', timed out' : ''}):\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`,
    );
  }
  return { messages, delivered: Number(m[3]), seconds: Number(m[5]) / 1000, cpuSeconds: r.cpuSeconds };
}

async function consume(port: number, topic: string, from: 'beginning' | 'end', partition?: number): Promise<Finished & { cpuSeconds: number }> {
  const args = ['-C', '-b', `127.0.0.1:${port}`, '-t', topic, '-o', from, '-e', '-q', '-f', '', ...KCAT_CONF.flatMap((kv) => ['-X', kv])];
  if (partition !== undefined) args.push('-p', String(partition));
  const r = await runMeasured(tools.kcat, args, false);
  if (r.timedOut || r.code !== 0) throw new Error(`kcat ${args.join(' ')} failed (exit ${r.code ?? r.signal}${r.timedOut ? ', timed out' : ''}):\n${r.stderr.slice(-2000)}`);
  return r;
}

// ---- page state ----------------------------------------------------------------------------------

/**
 * On VMs with free page reporting (virtio-balloon, as here), memory freed more than ~2 s ago is
 * handed back to the host, and the first write into such a page costs a fault in the host: a
 * page-cache write then runs at ~0.4–1.5 GB/s instead of 2–6 GB/s. The broker writes new log
 * data into free memory, so its produce rate depends on this state; each run is preceded by one:
 * - cold: a pause of COLD_PAUSE_MS, so that pages freed by earlier runs are reported (what a
 *   broker writing new data into free memory sees on this machine; the targets are judged here);
 * - warm: writing and deleting an untimed scratch file of the run's size just before it (recently
 *   freed pages, as bench:storage does for every write run; what a machine without page
 *   reporting, or with a full page cache to reclaim from, would give).
 */
type PageState = 'cold' | 'warm';
const COLD_PAUSE_MS = 3000;
/** Before a profiled run, which may follow the release of much memory (the null broker's). */
const PROFILE_COLD_PAUSE_MS = 8000;

async function preparePages(state: PageState, bytes: number, pauseMs = COLD_PAUSE_MS): Promise<void> {
  if (state === 'cold') {
    await new Promise((r) => setTimeout(r, pauseMs));
    return;
  }
  const path = join(workDir!, 'page-warm-scratch.bin');
  const buf = Buffer.alloc(DISK_CHUNK, 0x33);
  const fd = fs.openSync(path, 'w');
  try {
    for (let at = 0; at < bytes; at += DISK_CHUNK) fs.writeSync(fd, buf, 0, DISK_CHUNK, at);
  } finally {
    fs.closeSync(fd);
    fs.rmSync(path, { force: true });
  }
}

// ---- samples and rows --------------------------------------------------------------------------

interface Sample {
  messages: number;
  /** Record value bytes. */
  bytes: number;
  seconds: number;
  brokerUserSeconds: number;
  brokerSysSeconds: number;
  /** The busiest client process's CPU as a share of one core. */
  clientCpuMaxShare: number;
  /** When the clients ran (CLOCK_MONOTONIC µs, the clock of V8's CPU profiles). */
  windowUs?: [number, number];
}

interface Row {
  group: string;
  name: string;
  clients: string;
  pages: PageState | '';
  samples: Sample[];
  note?: string;
}

const rows: Row[] = [];

function row(group: string, name: string, clients: string, pages: PageState | '', note?: string): Row {
  const r: Row = { group, name, clients, pages, samples: [], ...(note !== undefined ? { note } : {}) };
  rows.push(r);
  return r;
}

const bytesPerSec = (r: Row): number => median(r.samples.map((s) => s.bytes / s.seconds));
const msgsPerSec = (r: Row): number => median(r.samples.map((s) => s.messages / s.seconds));
const brokerShare = (r: Row): number => median(r.samples.map((s) => (s.brokerUserSeconds + s.brokerSysSeconds) / s.seconds));
const brokerUserShare = (r: Row): number => median(r.samples.map((s) => s.brokerUserSeconds / s.seconds));
const brokerSysShare = (r: Row): number => median(r.samples.map((s) => s.brokerSysSeconds / s.seconds));
const clientShare = (r: Row): number => median(r.samples.map((s) => s.clientCpuMaxShare));
const brokerCpuPerGB = (r: Row): number => median(r.samples.map((s) => (s.brokerUserSeconds + s.brokerSysSeconds) / (s.bytes / 1e9)));

async function producerSample(
  broker: BrokerProcess,
  topic: string,
  size: number,
  messages: number,
  acks: number,
  generators: number,
  pages: PageState,
  pauseMs = COLD_PAUSE_MS,
): Promise<Sample> {
  const each = Math.floor(messages / generators);
  await preparePages(pages, each * generators * size, pauseMs);
  const cpu0 = processCpu(broker.pid);
  const w0 = monotonicUs();
  const results = await Promise.all(Array.from({ length: generators }, () => produce(broker.port, topic, size, each, acks)));
  const w1 = monotonicUs();
  const cpu1 = processCpu(broker.pid);
  const seconds = Math.max(...results.map((r) => r.seconds));
  return {
    messages: each * generators,
    bytes: each * generators * size,
    seconds,
    brokerUserSeconds: cpu1.user - cpu0.user,
    brokerSysSeconds: cpu1.sys - cpu0.sys,
    clientCpuMaxShare: Math.max(...results.map((r) => r.cpuSeconds / r.seconds)),
    windowUs: [w0, w1],
  };
}

/** Messages for a run of about RUN_SECONDS at the probed rate, even (split over 2 generators). */
function runMessages(probe: ProducerResult, size: number): number {
  const perSec = probe.delivered / probe.seconds;
  const bytes = Math.min(RUN_BYTES_MAX, Math.max(RUN_BYTES_MIN, perSec * RUN_SECONDS * size));
  return 2 * Math.round(bytes / size / 2);
}

function newDataDir(name: string): string {
  const d = join(workDir!, name);
  fs.rmSync(d, { recursive: true, force: true });
  fs.mkdirSync(d, { recursive: true });
  return d;
}

/** Rotates the order of a round's measurements, so that drift affects them alike. */
function rotate<T>(items: T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

// ---- baselines ---------------------------------------------------------------------------------

async function tcpBaseline(): Promise<Sample> {
  const script = join(snapshot, 'dist', 'bench', 'broker', 'tcp-copy.js');
  const recv = spawn(process.execPath, [script, 'recv', String(TCP_BYTES)], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  children.add(recv);
  let out = '';
  const done = new Promise<void>((resolve) => recv.on('close', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    recv.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const m = /listening (\d+)/.exec(out);
      if (m !== null) resolve(Number(m[1]));
    });
    recv.on('close', () => reject(new Error(`tcp-copy recv exited: ${out}`)));
  });
  const send = runCommand(process.execPath, [script, 'send', String(port), String(TCP_BYTES), String(TCP_CHUNK)], 60_000);
  const timer = setTimeout(() => killChild(recv, 'SIGKILL'), 60_000);
  await done;
  clearTimeout(timer);
  children.delete(recv);
  await send;
  const line = out.split('\n').find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`tcp-copy produced no result: ${out}`);
  const r = JSON.parse(line) as { bytes: number; seconds: number; cpuSeconds: number };
  return { messages: r.bytes / TCP_CHUNK, bytes: r.bytes, seconds: r.seconds, brokerUserSeconds: r.cpuSeconds, brokerSysSeconds: 0, clientCpuMaxShare: 0 };
}

/**
 * Writes a file of totalBytes in DISK_CHUNK writes (fdatasync after each with syncEach) and
 * returns that rate; with readBack also the rate of reading it back (from the page cache).
 */
function diskBaseline(totalBytes: number, syncEach: boolean, readBack: boolean): { write: Sample; read: Sample | null } {
  const path = join(workDir!, 'disk-baseline.bin');
  const buf = Buffer.alloc(DISK_CHUNK, 0x5a);
  const sample = (seconds: number, cpu: NodeJS.CpuUsage): Sample => ({
    messages: totalBytes / DISK_CHUNK,
    bytes: totalBytes,
    seconds,
    brokerUserSeconds: cpu.user / 1e6,
    brokerSysSeconds: cpu.system / 1e6,
    clientCpuMaxShare: 0,
  });
  const fd = fs.openSync(path, 'w');
  const cpu0 = process.cpuUsage();
  const t0 = now();
  try {
    for (let at = 0; at < totalBytes; at += DISK_CHUNK) {
      fs.writeSync(fd, buf, 0, DISK_CHUNK, at);
      if (syncEach) fs.fdatasyncSync(fd);
    }
  } finally {
    fs.closeSync(fd);
  }
  const write = sample(now() - t0, process.cpuUsage(cpu0));
  let read: Sample | null = null;
  if (readBack) {
    const rfd = fs.openSync(path, 'r');
    const rcpu0 = process.cpuUsage();
    const r0 = now();
    try {
      for (let at = 0; at < totalBytes; at += DISK_CHUNK) fs.readSync(rfd, buf, 0, DISK_CHUNK, at);
    } finally {
      fs.closeSync(rfd);
    }
    read = sample(now() - r0, process.cpuUsage(rcpu0));
  }
  fs.rmSync(path, { force: true });
  return { write, read };
}

// ---- CPU profile summary -------------------------------------------------------------------------

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface ProfileSummary {
  /** Whether only the measured run's samples were counted. */
  windowed: boolean;
  totalSeconds: number;
  idleShare: number;
  gcShare: number;
  top: Array<{ name: string; where: string; share: number; busyShare: number }>;
  byFile: Array<{ file: string; share: number; busyShare: number }>;
}

/** Self time by function over the samples taken within windowUs (all samples if none are). */
function summarizeProfile(path: string, windowUs: [number, number] | undefined, topN = 15): ProfileSummary {
  const p = JSON.parse(fs.readFileSync(path, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number };
  let t = p.startTime;
  const times = p.timeDeltas.map((d) => (t += d));
  const inWindow = (i: number): boolean => windowUs === undefined || (times[i]! >= windowUs[0] && times[i]! <= windowUs[1]);
  const any = windowUs !== undefined && times.some((_, i) => inWindow(i));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, { name: string; where: string; micros: number }>();
  const byFile = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let gc = 0;
  for (let i = 0; i < p.samples.length; i++) {
    if (any && !inWindow(i)) continue;
    const n = byId.get(p.samples[i]!)!;
    const d = Math.max(0, p.timeDeltas[i] ?? 0);
    total += d;
    const cf = n.callFrame;
    const name = cf.functionName === '' ? '(anonymous)' : cf.functionName;
    if (name === '(idle)') idle += d;
    if (name === '(garbage collector)') gc += d;
    let where = '';
    let file = '(native: V8, system calls)';
    if (cf.url !== '') {
      const u = cf.url.replace(/^file:\/\//, '');
      const m = /\/dist\/(src\/.*)\.js$/.exec(u);
      file = m !== null ? `${m[1]}.ts` : u.startsWith('node:') ? 'node: internals' : u;
      where = `${m !== null ? `${m[1]}.js` : u}:${cf.lineNumber + 1}`;
    }
    const key = `${name}@${where}`;
    const e = self.get(key) ?? { name, where, micros: 0 };
    e.micros += d;
    self.set(key, e);
    if (name !== '(idle)') byFile.set(file, (byFile.get(file) ?? 0) + d);
  }
  const busy = Math.max(1, total - idle);
  return {
    windowed: any,
    totalSeconds: total / 1e6,
    idleShare: idle / Math.max(1, total),
    gcShare: gc / Math.max(1, total),
    top: [...self.values()]
      .filter((e) => e.name !== '(idle)')
      .sort((a, b) => b.micros - a.micros)
      .slice(0, topN)
      .map((e) => ({ name: e.name, where: e.where, share: e.micros / total, busyShare: e.micros / busy })),
    byFile: [...byFile]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([file, micros]) => ({ file, share: micros / total, busyShare: micros / busy })),
  };
}

// ---- main --------------------------------------------------------------------------------------

const tools = prepareTools();
workDir = fs.mkdtempSync(join(BASE_DIR, 'ferry-bench-broker-'));
const snapshot = join(workDir, 'ferry');
makeSnapshot(snapshot);
const started = now();
const loadBefore = loadavg();
progress(`work directory ${workDir}; rdkafka_performance (librdkafka ${tools.rdkVersion}), kcat ${tools.kcatVersion}`);

// Baselines.
const tcpRow = row('Baselines', `loopback TCP, Node → Node, ${sizeLabel(TCP_CHUNK)} writes`, '2 processes', '');
const diskCold = row('Baselines', `file write, ${sizeLabel(DISK_CHUNK)} writes (page cache)`, '1 process', 'cold');
const diskWarm = row('Baselines', `file write, ${sizeLabel(DISK_CHUNK)} writes (page cache)`, '1 process', 'warm');
const diskSync = row('Baselines', `file write, ${sizeLabel(DISK_CHUNK)} writes + fdatasync each`, '1 process', '');
const diskRead = row('Baselines', `file read, ${sizeLabel(DISK_CHUNK)} preads (page cache)`, '1 process', '');
if (ONLY.has('baseline')) {
  progress('baselines: loopback TCP, file writes and reads');
  for (let r = 0; r < RUNS; r++) {
    tcpRow.samples.push(await tcpBaseline());
    await preparePages('cold', DISK_BYTES);
    const cold = diskBaseline(DISK_BYTES, false, true);
    diskCold.samples.push(cold.write);
    diskRead.samples.push(cold.read!);
    diskSync.samples.push(diskBaseline(DISK_SYNC_BYTES, true, false).write);
    await preparePages('warm', DISK_BYTES);
    diskWarm.samples.push(diskBaseline(DISK_BYTES, false, false).write);
  }
}

// The generator against the null broker.
const nullRows = new Map<number, Row>();
if (ONLY.has('calibrate')) {
  const dir = newDataDir('null-produce');
  const nb = await startBroker('null', dir, [`--num.partitions=${PARTITIONS}`]);
  try {
    for (const size of RECORD_SIZES) {
      progress(`null broker: rdkafka_performance ${size} B records, acks=1`);
      const probe = await produce(nb.port, `probe-${size}`, size, Math.round(PROBE_BYTES / size), 1);
      const messages = runMessages(probe, size);
      const r = row('Generator vs null broker', `produce ${size} B, acks=1, null broker`, '1 rdkafka_performance', 'cold', 'Produce acknowledged and dropped');
      nullRows.set(size, r);
      for (let i = 0; i < RUNS; i++) r.samples.push(await producerSample(nb, `null-${size}-${i}`, size, messages, 1, 1, 'cold'));
    }
  } finally {
    await nb.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// Producer rows: one fresh broker per (size, acks).
interface ProduceRows {
  one: Row;
  two: Row;
  warm: Row;
  messages: number;
}
const produceRows = new Map<string, ProduceRows>();
if (ONLY.has('produce')) {
  for (const size of RECORD_SIZES) {
    for (const acks of ACKS) {
      const dir = newDataDir(`produce-${size}-${acks.value}`);
      const broker = await startBroker('ferry', dir, [`--num.partitions=${PARTITIONS}`]);
      try {
        progress(`produce ${size} B ${acks.label}: warm-up`);
        const probe = await produce(broker.port, 'warmup', size, Math.round(PROBE_BYTES / size), acks.value);
        const messages = runMessages(probe, size);
        const name = `produce ${size} B, ${acks.label}`;
        const rs: ProduceRows = {
          one: row('Produce', name, '1 rdkafka_performance', 'cold'),
          two: row('Produce', name, '2 rdkafka_performance', 'cold'),
          warm: row('Produce', name, '1 rdkafka_performance', 'warm'),
          messages,
        };
        produceRows.set(`${size}/${acks.value}`, rs);
        const plan: Array<[Row, number, PageState]> = [
          [rs.one, 1, 'cold'],
          [rs.two, 2, 'cold'],
          [rs.warm, 1, 'warm'],
        ];
        for (let i = 0; i < RUNS; i++) {
          progress(`produce ${size} B ${acks.label}: round ${i + 1}/${RUNS}, ${count(messages)} messages per run`);
          for (const [r, g, pages] of rotate(plan, i)) r.samples.push(await producerSample(broker, `t-${i}-${g}-${pages}`, size, messages, acks.value, g, pages));
        }
      } finally {
        await broker.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  }
}

// Catch-up fetch.
const FETCH_RECORD = 1024;
const fillPerPartition = Math.max(1, Math.round(FILL_BYTES / FETCH_RECORD / PARTITIONS));
const fillBytes = fillPerPartition * PARTITIONS * FETCH_RECORD;
let fetchDir: string | null = null;
let fill: { seconds: number; brokerCpuSeconds: number } | null = null;
const kcatFixed = { ferry: NaN, null: NaN };
let fetchRows: { one: Row; many: Row; warm: Row } | null = null;
let fetchNull: Row | null = null;

async function fetchSample(broker: BrokerProcess, processes: number, fixedSeconds: number, pages: PageState, pauseMs = COLD_PAUSE_MS): Promise<Sample> {
  await preparePages(pages, fillBytes, pauseMs);
  const cpu0 = processCpu(broker.pid);
  const w0 = monotonicUs();
  const t0 = now();
  const results = await Promise.all(
    processes === 1 ? [consume(broker.port, 'catchup', 'beginning')] : Array.from({ length: processes }, (_, p) => consume(broker.port, 'catchup', 'beginning', p)),
  );
  const wall = now() - t0;
  const w1 = monotonicUs();
  const cpu1 = processCpu(broker.pid);
  const seconds = Math.max(1e-3, wall - fixedSeconds);
  return {
    messages: fillPerPartition * PARTITIONS,
    bytes: fillBytes,
    seconds,
    brokerUserSeconds: cpu1.user - cpu0.user,
    brokerSysSeconds: cpu1.sys - cpu0.sys,
    clientCpuMaxShare: Math.max(...results.map((r) => r.cpuSeconds / seconds)),
    windowUs: [w0, w1],
  };
}

async function kcatFixedCost(broker: BrokerProcess): Promise<number> {
  const walls: number[] = [];
  for (let i = 0; i < 3; i++) walls.push((await consume(broker.port, 'catchup', 'end')).wallSeconds);
  return median(walls);
}

if (ONLY.has('fetch')) {
  fetchDir = newDataDir('catchup');
  progress(`catch-up: filling ${sizeLabel(fillBytes)} of 1 KiB records into ${PARTITIONS} partitions`);
  let broker = await startBroker('ferry', fetchDir, [`--num.partitions=${PARTITIONS}`]);
  try {
    const cpu0 = processCpu(broker.pid);
    const results = await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => produce(broker.port, 'catchup', FETCH_RECORD, fillPerPartition, 1, p)));
    const cpu1 = processCpu(broker.pid);
    fill = { seconds: Math.max(...results.map((r) => r.seconds)), brokerCpuSeconds: cpu1.user + cpu1.sys - cpu0.user - cpu0.sys };
  } finally {
    await broker.stop();
  }
  broker = await startBroker('ferry', fetchDir, []);
  try {
    kcatFixed.ferry = await kcatFixedCost(broker);
    const name = `fetch ${sizeLabel(fillBytes)} from offset 0`;
    const rs = {
      one: row('Catch-up fetch', name, '1 kcat', 'cold'),
      many: row('Catch-up fetch', name, `${PARTITIONS} kcat (1 per partition)`, 'cold'),
      warm: row('Catch-up fetch', name, '1 kcat', 'warm'),
    };
    fetchRows = rs;
    const plan: Array<[Row, number, PageState]> = [
      [rs.one, 1, 'cold'],
      [rs.many, PARTITIONS, 'cold'],
      [rs.warm, 1, 'warm'],
    ];
    for (let i = 0; i < RUNS; i++) {
      progress(`catch-up: round ${i + 1}/${RUNS}`);
      for (const [r, n, pages] of rotate(plan, i)) r.samples.push(await fetchSample(broker, n, kcatFixed.ferry, pages));
    }
  } finally {
    await broker.stop();
  }
  if (ONLY.has('calibrate')) {
    progress('catch-up: kcat against the null broker (topic served from memory)');
    const nb = await startBroker('null', fetchDir, ['--memory-topic', 'catchup']);
    try {
      kcatFixed.null = await kcatFixedCost(nb);
      fetchNull = row('Generator vs null broker', `fetch ${sizeLabel(fillBytes)} from offset 0, null broker`, '1 kcat', 'cold', 'Fetch served from memory');
      for (let i = 0; i < RUNS; i++) fetchNull.samples.push(await fetchSample(nb, 1, kcatFixed.null, 'cold'));
    } finally {
      await nb.stop();
    }
  }
}

// ---- targets -------------------------------------------------------------------------------------

interface ProfileResult {
  summary: ProfileSummary;
  rate: number;
  sample: Sample;
}

interface Target {
  name: string;
  required: number;
  value: number;
  pass: boolean;
  also: string;
  profile: () => Promise<ProfileResult>;
}

const targets: Target[] = [];

async function profiled(name: string, dataDir: string, extra: string[], run: (broker: BrokerProcess) => Promise<Sample>): Promise<ProfileResult> {
  const profDir = join(workDir!, `cpuprof-${name}`);
  fs.mkdirSync(profDir, { recursive: true });
  const broker = await startBroker('ferry', dataDir, extra, ['--cpu-prof', '--cpu-prof-dir', profDir]);
  let sample: Sample;
  try {
    sample = await run(broker);
  } finally {
    await broker.stop();
  }
  const file = fs.readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error('the broker wrote no CPU profile');
  return { summary: summarizeProfile(join(profDir, file), sample.windowUs), rate: sample.bytes / sample.seconds, sample };
}

for (const [acks, required] of [
  [1, TARGET_PRODUCE_ACKS1],
  [-1, TARGET_PRODUCE_ACKSALL],
] as const) {
  const rs = produceRows.get(`1024/${acks}`);
  if (rs === undefined) continue;
  const value = bytesPerSec(rs.one);
  targets.push({
    name: `produce 1 KiB records, ${acks === 1 ? 'acks=1' : 'acks=all'}, 1 generator ≥ ${rate(required)}`,
    required,
    value,
    pass: value >= required,
    also: `2 generators: ${rate(bytesPerSec(rs.two))}; warm pages: ${rate(bytesPerSec(rs.warm))} (${bytesPerSec(rs.warm) >= required ? 'would pass' : 'would fail'})`,
    profile: async () => {
      const dir = newDataDir(`profile-produce-${acks}`);
      try {
        return await profiled(`produce-${acks}`, dir, [`--num.partitions=${PARTITIONS}`], async (broker) => {
          await produce(broker.port, 'warmup', 1024, Math.round(PROBE_BYTES / 1024), acks);
          return producerSample(broker, 'profiled', 1024, rs.messages, acks, 1, 'cold', PROFILE_COLD_PAUSE_MS);
        });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  });
}
if (fetchRows !== null && fetchDir !== null) {
  const rs = fetchRows;
  const dir = fetchDir;
  const value = bytesPerSec(rs.one);
  targets.push({
    name: `catch-up fetch, 1 consumer ≥ ${rate(TARGET_FETCH)}`,
    required: TARGET_FETCH,
    value,
    pass: value >= TARGET_FETCH,
    also: `${PARTITIONS} consumers: ${rate(bytesPerSec(rs.many))}; warm pages: ${rate(bytesPerSec(rs.warm))} (${bytesPerSec(rs.warm) >= TARGET_FETCH ? 'would pass' : 'would fail'})`,
    profile: () => profiled('fetch', dir, [], (broker) => fetchSample(broker, 1, kcatFixed.ferry, 'cold', PROFILE_COLD_PAUSE_MS)),
  });
}

const profiles: Array<{ target: string } & ProfileResult> = [];
if (PROFILE) {
  for (const t of targets.filter((x) => !x.pass || PROFILE_ALL)) {
    progress(`profiling the broker for the ${t.pass ? 'met' : 'missed'} target: ${t.name}`);
    profiles.push({ target: t.name, ...(await t.profile()) });
  }
}
if (fetchDir !== null) fs.rmSync(fetchDir, { recursive: true, force: true });

// ---- report ------------------------------------------------------------------------------------

const cpu = cpus();
const lines: string[] = [];
const loadAfter = loadavg();
lines.push(`Node ${process.version}, ${platform()} ${arch()}, ${cpu[0]?.model ?? 'unknown CPU'} × ${cpu.length}, ${Math.round(totalmem() / GiB)} GiB.`);
lines.push(`Clients: rdkafka_performance and kcat ${tools.kcatVersion} on librdkafka ${tools.rdkVersion}; ${PARTITIONS} partitions; data in ${BASE_DIR}.`);
lines.push(`Load average (1 min) before/after: ${loadBefore[0]!.toFixed(2)} / ${loadAfter[0]!.toFixed(2)}. Total time ${((now() - started) / 60).toFixed(1)} min.`);
lines.push(
  `Median of ${RUNS} runs [min–max]; MB/s = record values (MB = 10^6 B). Produce: rdkafka_performance ${PRODUCER_CONF.join(' ')}; time = its own ` +
    `first produce → last delivery report (2 generators: each sends half; all messages / the longer generator's time). Fetch: kcat -C -e -o beginning -f '' ` +
    `-X ${KCAT_CONF.join(' -X ')} > /dev/null; time = wall time minus a kcat run that reads nothing (${(kcatFixed.ferry * 1000).toFixed(0)} ms vs Ferry, ` +
    `${(kcatFixed.null * 1000).toFixed(0)} ms vs the null broker).`,
);
lines.push(
  `Pages: cold = after a ${COLD_PAUSE_MS / 1000} s pause (this VM has handed freed memory back to the host: first writes into it fault in the host; the targets are judged here); ` +
    `warm = after writing and deleting a scratch file of the run's size (recently freed pages, as bench:storage does).`,
);
lines.push(
  `Broker CPU = utime+stime of the broker process (all threads, incl. its system calls) over the run / run time (100% = one core), user+sys. ` +
    `Client CPU = the busiest client process, same unit. × TCP = ratio to the loopback TCP baseline; × disk = to the file baseline in the same page state ` +
    `(acks=1: page-cache writes; acks=all: fdatasync after each 1 MiB write; fetch: page-cache preads).`,
);
if (fill !== null) {
  lines.push(
    `Catch-up topic: ${sizeLabel(fillBytes)} of 1 KiB records written by ${PARTITIONS} generators (one per partition) at ${rate(fillBytes / fill.seconds)} ` +
      `(broker CPU ${pct(fill.brokerCpuSeconds / fill.seconds)}), then the broker was restarted: reads go to the segment files (in the page cache).`,
  );
}
lines.push('');

const rateOf = (r: Row): number => (r.samples.length > 0 ? bytesPerSec(r) : NaN);
const ratio = (x: number, base: number): string => (Number.isFinite(base) ? `${(x / base).toFixed(2)}×` : '—');

lines.push('| benchmark | clients | pages | msgs/s | MB/s (median) | runs min–max | broker CPU user+sys | broker CPU s/GB | client CPU | × TCP | × disk |');
lines.push('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
let lastGroup = '';
for (const r of rows) {
  if (r.samples.length === 0) continue;
  if (r.group !== lastGroup) {
    lines.push(`| **${r.group}** | | | | | | | | | | |`);
    lastGroup = r.group;
  }
  const per = r.samples.map((s) => s.bytes / s.seconds);
  const v = bytesPerSec(r);
  const range = `${rate(Math.min(...per))}–${rate(Math.max(...per))}`;
  const cpuText = `${pct(brokerShare(r))} = ${pct(brokerUserShare(r))}+${pct(brokerSysShare(r))}`;
  if (r.group === 'Baselines') {
    const who = r === tcpRow ? 'receiver' : r === diskRead ? 'reader' : 'writer';
    lines.push(`| ${r.name} | ${r.clients} | ${r.pages} | — | ${rate(v)} | ${range} | ${who} ${cpuText} | — | — | ${r === tcpRow ? '1.00×' : '—'} | ${r === tcpRow ? '—' : '1.00×'} |`);
    continue;
  }
  const disk = r.name.startsWith('fetch') ? rateOf(diskRead) : r.name.includes('acks=all') ? rateOf(diskSync) : rateOf(r.pages === 'warm' ? diskWarm : diskCold);
  const isNull = r.group === 'Generator vs null broker';
  lines.push(
    `| ${r.name}${r.note !== undefined ? ` (${r.note})` : ''} | ${r.clients} | ${r.pages} | ${count(msgsPerSec(r))} | ${rate(v)} | ${range} | ${cpuText}${isNull ? ' (null broker)' : ''} | ` +
      `${brokerCpuPerGB(r).toFixed(2)} | ${pct(clientShare(r))} | ${ratio(v, rateOf(tcpRow))} | ${isNull ? '—' : ratio(v, disk)} |`,
  );
}

// Is the generator the limit? Compare each Ferry row with the null-broker row of its record size.
lines.push('');
lines.push('Load generator headroom (cold pages; the same client against the null broker, and 1 vs several client processes):');
for (const size of RECORD_SIZES) {
  const nr = nullRows.get(size);
  for (const acks of ACKS) {
    const rs = produceRows.get(`${size}/${acks.value}`);
    if (rs === undefined) continue;
    const parts = [`- produce ${size} B ${acks.label}: Ferry ${rate(bytesPerSec(rs.one))} with 1 generator (its CPU ${pct(clientShare(rs.one))} of a core, the broker's ${pct(brokerShare(rs.one))})`];
    if (nr !== undefined) parts.push(`the same generator reaches ${rate(bytesPerSec(nr))} against the null broker (${(bytesPerSec(nr) / bytesPerSec(rs.one)).toFixed(1)}×)`);
    parts.push(`2 generators: ${rate(bytesPerSec(rs.two))} (${(bytesPerSec(rs.two) / bytesPerSec(rs.one)).toFixed(2)}×)`);
    lines.push(`${parts.join('; ')}.`);
  }
}
if (fetchRows !== null) {
  const rs = fetchRows;
  const parts = [`- catch-up fetch: Ferry ${rate(bytesPerSec(rs.one))} with 1 kcat (its CPU ${pct(clientShare(rs.one))} of a core, the broker's ${pct(brokerShare(rs.one))})`];
  if (fetchNull !== null) parts.push(`the same kcat reaches ${rate(bytesPerSec(fetchNull))} against the null broker (${(bytesPerSec(fetchNull) / bytesPerSec(rs.one)).toFixed(1)}×)`);
  parts.push(`${PARTITIONS} kcat processes: ${rate(bytesPerSec(rs.many))} (${(bytesPerSec(rs.many) / bytesPerSec(rs.one)).toFixed(2)}×)`);
  lines.push(`${parts.join('; ')}.`);
}

lines.push('');
lines.push('| target (cold pages, single client) | measured (median) | also | result |');
lines.push('|---|---|---|---|');
for (const t of targets) lines.push(`| ${t.name} | ${rate(t.value)} | ${t.also} | ${t.pass ? 'PASS' : '**FAIL**'} |`);

for (const p of profiles) {
  const s = p.summary;
  const sm = p.sample;
  lines.push('');
  lines.push(
    `CPU profile of the broker (node --cpu-prof: main thread) for "${p.target}", cold pages: ${rate(p.rate)} while profiled; broker process CPU ` +
      `${pct((sm.brokerUserSeconds + sm.brokerSysSeconds) / sm.seconds)} = ${pct(sm.brokerUserSeconds / sm.seconds)} user + ${pct(sm.brokerSysSeconds / sm.seconds)} sys; ` +
      `${s.totalSeconds.toFixed(1)} s sampled (${s.windowed ? 'the measured run only' : 'whole process: start-up, warm-up, pauses'}), main thread idle ${pct(s.idleShare)}, garbage collector ${pct(s.gcShare)}` +
      (s.windowed ? `; main thread busy ${((s.totalSeconds * (1 - s.idleShare)) / (sm.bytes / 1e9)).toFixed(2)} s per GB of records` : '') +
      `. ` +
      `Self time of a native function includes the system call it makes.`,
  );
  lines.push('');
  lines.push('| self time | of busy | function | where |');
  lines.push('|---:|---:|---|---|');
  for (const f of s.top) lines.push(`| ${(100 * f.share).toFixed(1)}% | ${(100 * f.busyShare).toFixed(1)}% | ${f.name} | ${f.where || '(native)'} |`);
  lines.push('');
  lines.push(`By file (share of busy time): ${s.byFile.map((f) => `${f.file} ${(100 * f.busyShare).toFixed(1)}%`).join(', ')}.`);
}

console.log(lines.join('\n'));
console.log('');
console.log(
  JSON.stringify({
    runs: RUNS,
    partitions: PARTITIONS,
    results: rows
      .filter((r) => r.samples.length > 0)
      .map((r) => ({
        group: r.group,
        name: r.name,
        clients: r.clients,
        pages: r.pages,
        mbPerSec: Math.round(bytesPerSec(r) / 1e4) / 100,
        runsMbPerSec: r.samples.map((s) => Math.round(s.bytes / s.seconds / 1e4) / 100),
        msgsPerSec: Math.round(msgsPerSec(r)),
        brokerCpuShare: Math.round(brokerShare(r) * 100) / 100,
        brokerSysShare: Math.round(brokerSysShare(r) * 100) / 100,
        clientCpuMaxShare: Math.round(clientShare(r) * 100) / 100,
      })),
    targets: targets.map((t) => ({ name: t.name, mbPerSec: Math.round(t.value / 1e4) / 100, pass: t.pass })),
  }),
);

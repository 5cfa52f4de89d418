/**
 * Crash tests with a real child process and SIGKILL.
 *
 * The child (crash-child.ts) opens a PartitionLog on the real file system (segment.bytes
 * 64 KiB, index.interval.bytes 512, retention.bytes 512 KiB) and appends deterministic
 * batches (crash-workload.ts) with 1-12 appends in flight, 80% of them durable, reporting
 * each acknowledgement on stdout, while a reader follows the tail and retention deletes old
 * segments. This test kills it with SIGKILL at random moments: a random delay after spawn
 * (during startup, open or recovery), a random delay after it reported `ready`, right after
 * a random number of acknowledgements, or while it closes; some rounds let it close cleanly.
 * In a fifth of the kills the last segment is also cut at a random point after the last
 * durable acknowledgement, sometimes followed by zeros or garbage: what a machine crash can
 * leave of unsynced data (non-durable acknowledgements from the cut on are then forgotten).
 *
 * After each round the log directory is copied and the copy opened in this process, which
 * runs the same recovery the next child will run on the original. The check: every batch in
 * [logStartOffset, logEndOffset) is read back with read() byte-identical to what was
 * appended (apart from the assigned baseOffset), offsets are contiguous, sequence numbers
 * increase, the log end never goes back, sealed segments are full (they roll only on
 * size), and every acknowledged append at or above the log start is there at the offsets it
 * was acknowledged with. A SIGKILL keeps the page cache, so that holds for non-durable
 * acknowledgements too. Every fourth round the copy is also closed, reopened (clean path) and
 * walked again. The next child continues the sequence after the highest one seen and must
 * report the same log start and end after its own recovery as this process found.
 *
 * FERRY_CRASH_KILLS sets the number of kills (default 120), FERRY_CRASH_SEED the seed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { CRASH_LOG_CONFIG, WORKLOAD_BATCH_BYTES_MAX, rng, walkAndVerify, type WalkResult } from './crash-workload.js';

const KILLS = Number(process.env.FERRY_CRASH_KILLS ?? 120);
const SEED = Number(process.env.FERRY_CRASH_SEED ?? 0x5eed_c4a5);
const CHILD = fileURLToPath(new URL('./crash-child.js', import.meta.url));

interface Ack {
  seq: number;
  baseOffset: number;
  lastOffset: number;
  durable: boolean;
  round: number;
}

type Plan =
  | { kind: 'after-spawn'; ms: number }
  | { kind: 'after-ready'; ms: number }
  | { kind: 'after-acks'; acks: number }
  | { kind: 'close'; closeAfter: number; killAfterClosingMs: number | null };

interface ChildRun {
  /** Killed by the safety timer: it neither exited nor reached its kill point in time. */
  hung: boolean;
  lines: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function choosePlan(random: () => number): Plan {
  const r = random();
  if (r < 0.25) return { kind: 'after-spawn', ms: 20 + Math.floor(random() * 110) };
  if (r < 0.6) return { kind: 'after-ready', ms: Math.floor(random() * 40) };
  if (r < 0.9) return { kind: 'after-acks', acks: 1 + Math.floor(random() * 300) };
  return { kind: 'close', closeAfter: 1 + Math.floor(random() * 300), killAfterClosingMs: random() < 0.5 ? Math.floor(random() * 4) : null };
}

function describePlan(p: Plan): string {
  switch (p.kind) {
    case 'after-spawn':
      return `kill ${p.ms} ms after spawn`;
    case 'after-ready':
      return `kill ${p.ms} ms after ready`;
    case 'after-acks':
      return `kill after ${p.acks} acks`;
    case 'close':
      return `close after ${p.closeAfter} acks` + (p.killAfterClosingMs === null ? '' : `, kill ${p.killAfterClosingMs} ms into it`);
  }
}

function runChild(dir: string, startSeq: number, seed: number, plan: Plan): Promise<ChildRun> {
  const closeAfter = plan.kind === 'close' ? plan.closeAfter : 0;
  const child = spawn(process.execPath, [CHILD, dir, String(startSeq), String(seed), String(closeAfter)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  let pending = '';
  let acks = 0;
  const timers: NodeJS.Timeout[] = [];
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const later = (ms: number): void => {
    timers.push(setTimeout(kill, ms));
  };
  if (plan.kind === 'after-spawn') later(plan.ms);
  // A child that neither exits nor reaches its kill point is a failure, not a hang.
  let hung = false;
  timers.push(
    setTimeout(() => {
      hung = true;
      kill();
    }, 15_000),
  );
  const onLine = (line: string): void => {
    lines.push(line);
    if (line.startsWith('ready ') && plan.kind === 'after-ready') later(plan.ms);
    if (line.startsWith('ack ') || line.startsWith('wack ')) {
      acks++;
      if (plan.kind === 'after-acks' && acks === plan.acks) kill();
    }
    if (line === 'closing' && plan.kind === 'close' && plan.killAfterClosingMs !== null) later(plan.killAfterClosingMs);
  };
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (data: string) => {
    pending += data;
    for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
      onLine(pending.slice(0, i));
      pending = pending.slice(i + 1);
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (data: string) => (stderr += data));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    // 'close' comes after the process exited and its pipes were drained: every complete
    // line it wrote has been seen (a trailing partial line is dropped).
    child.on('close', (code, signal) => {
      for (const t of timers) clearTimeout(t);
      resolve({ hung, lines, code, signal, stderr });
    });
  });
}

/** Opens a copy of the crashed directory (the recovery the next child will do) and checks it. */
async function recoverCopyAndVerify(
  dir: string,
  scratch: string,
  acked: Map<number, Ack>,
  maxBytes: number,
  checkCleanReopen: boolean,
): Promise<WalkResult & { recoveryMessages: string[] }> {
  await rm(scratch, { recursive: true, force: true });
  // The log directory is flat; fs.cp is much slower than copying its files directly.
  await mkdir(scratch);
  await Promise.all((await readdir(dir)).map((name) => copyFile(join(dir, name), join(scratch, name))));
  const recoveryMessages: string[] = [];
  const log = await PartitionLog.open(scratch, CRASH_LOG_CONFIG, { log: (m) => recoveryMessages.push(m) });
  let walk: WalkResult;
  try {
    walk = await walkAndVerify(log, maxBytes);
  } finally {
    await log.close();
  }
  checkAcks(walk, acked);
  await checkSegmentSizes(scratch);
  // A clean close and reopen must give the same log.
  assert.ok((await stat(join(scratch, 'clean-shutdown')).catch(() => null)) !== null, 'close() left no clean-shutdown marker');
  if (!checkCleanReopen) {
    await rm(scratch, { recursive: true, force: true });
    return { ...walk, recoveryMessages };
  }
  const again = await PartitionLog.open(scratch, CRASH_LOG_CONFIG, { log: (m) => recoveryMessages.push(`(clean reopen) ${m}`) });
  try {
    const walk2 = await walkAndVerify(again);
    assert.deepEqual(
      [walk2.logStartOffset, walk2.logEndOffset, walk2.batches.length],
      [walk.logStartOffset, walk.logEndOffset, walk.batches.length],
      'a clean reopen changed the log',
    );
  } finally {
    await again.close();
  }
  await rm(scratch, { recursive: true, force: true });
  return { ...walk, recoveryMessages };
}

/** Segments roll only when full (segment.ms is off): every one but the last is nearly full. */
async function checkSegmentSizes(dir: string): Promise<void> {
  const logs = (await readdir(dir)).filter((n) => n.endsWith('.log')).sort();
  const minimum = CRASH_LOG_CONFIG.segmentBytes! - WORKLOAD_BATCH_BYTES_MAX;
  for (const name of logs.slice(0, -1)) {
    const size = (await stat(join(dir, name))).size;
    assert.ok(size > minimum, `sealed segment ${name} has ${size} bytes, segment.bytes is ${CRASH_LOG_CONFIG.segmentBytes}`);
  }
}

/**
 * Power loss on top of the kill, now and then: cuts the last segment at a random point after
 * everything that must survive (what the round started with, and up to the last durable
 * acknowledgement), and maybe leaves zeros or garbage after the cut, as a machine crash can.
 * Returns the first offset lost (acknowledgements from there on are forgotten), or null.
 */
async function loseUnsyncedTail(dir: string, random: () => number, mustKeepBelow: number): Promise<{ lostFrom: number; detail: string } | null> {
  const logs = (await readdir(dir)).filter((n) => /^\d{20}\.log$/.test(n)).sort();
  if (logs.length === 0) return null;
  const path = join(dir, logs[logs.length - 1]!);
  const data = await readFile(path);
  const batches: Array<{ position: number; end: number; baseOffset: number }> = [];
  for (let at = 0; at + 61 <= data.length; ) {
    const size = data.readInt32BE(at + 8) + 12;
    if (size < 61 || at + size > data.length) break;
    batches.push({ position: at, end: at + size, baseOffset: Number(data.readBigInt64BE(at)) });
    at += size;
  }
  const first = batches.findIndex((b) => b.baseOffset >= mustKeepBelow);
  if (first < 0) return null;
  const minCut = batches[first]!.position;
  const cut = minCut + Math.floor(random() * (data.length - minCut + 1));
  const lostFrom = batches.find((b, i) => i >= first && b.end > cut)?.baseOffset ?? Infinity;
  let tail = Buffer.alloc(0);
  if (random() < 0.5) {
    tail = Buffer.alloc(1 + Math.floor(random() * 4096));
    if (random() < 0.5) for (let i = 0; i < tail.length; i++) tail[i] = (random() * 256) | 0;
  }
  await truncate(path, cut);
  if (tail.length > 0) await appendFile(path, tail);
  return { lostFrom, detail: `${logs[logs.length - 1]} cut from ${data.length} to ${cut} bytes + ${tail.length} bytes of junk` };
}

function checkAcks(walk: WalkResult, acked: Map<number, Ack>): void {
  const byBase = new Map(walk.batches.map((b) => [b.baseOffset, b]));
  for (const ack of acked.values()) {
    if (ack.baseOffset < walk.logStartOffset) continue; // deleted by retention
    const kind = ack.durable ? 'durable' : 'non-durable';
    const found = byBase.get(ack.baseOffset);
    assert.ok(
      found !== undefined,
      `${kind} append of sequence ${ack.seq} acknowledged at ${ack.baseOffset}..${ack.lastOffset} (round ${ack.round}) is missing; ` +
        `log is ${walk.logStartOffset}..${walk.logEndOffset}`,
    );
    assert.equal(found.seq, ack.seq, `${kind} ack at ${ack.baseOffset}: sequence ${found.seq} found, ${ack.seq} acknowledged`);
    assert.equal(found.lastOffset, ack.lastOffset, `${kind} ack at ${ack.baseOffset}: last offset`);
  }
}

test(`SIGKILL at random moments loses no acknowledged append and damages nothing (${KILLS} kills)`, { timeout: 600_000 }, async (t) => {
  t.diagnostic(`seed ${SEED} (FERRY_CRASH_SEED), ${KILLS} kills (FERRY_CRASH_KILLS)`);
  const root = await mkdtemp(join(tmpdir(), 'ferry-crash-'));
  const dir = join(root, 'topic-0');
  const scratch = join(root, 'recovered-copy');
  const random = rng(SEED);
  const acked = new Map<number, Ack>();
  const started = Date.now();
  let round = 0;
  let kills = 0;
  let killsBeforeReady = 0;
  let killsDuringClose = 0;
  let cleanCloses = 0;
  let durableAcks = 0;
  let plainAcks = 0;
  let maxSeq = -1;
  let truncations = 0;
  let maxEnd = 0;
  let powerLosses = 0;
  let lostAcks = 0;
  let childMs = 0;
  let verifyMs = 0;
  let expected: { start: number; end: number } = { start: 0, end: 0 };
  let plan: Plan | null = null;
  try {
    while (kills < KILLS) {
      round++;
      plan = choosePlan(random);
      const childStarted = Date.now();
      const run = await runChild(dir, maxSeq + 1, Math.floor(random() * 2 ** 31), plan);
      childMs += Date.now() - childStarted;
      const context = (): string => `round ${round} (${describePlan(plan!)}); stderr: ${run.stderr.slice(0, 2000)}`;
      assert.ok(!run.hung, `the child hung (${run.lines.length} lines); ${context()}`);
      let sawReady = false;
      let sawClosing = false;
      let sawClosed = false;
      for (const line of run.lines) {
        const [word, ...rest] = line.split(' ');
        if (word === 'error') assert.fail(`child failed: ${rest.join(' ')}; ${context()}`);
        if (word === 'ready') {
          sawReady = true;
          const [start, end] = rest.map(Number);
          assert.deepEqual({ start, end }, expected, `the child recovered a different log than this process did; ${context()}`);
        } else if (word === 'ack' || word === 'wack') {
          const [seq, baseOffset, lastOffset] = rest.map(Number) as [number, number, number];
          const previous = acked.get(baseOffset);
          assert.equal(previous, undefined, `offset ${baseOffset} acknowledged twice (sequences ${previous?.seq} and ${seq}); ${context()}`);
          assert.ok(baseOffset >= expected.end, `ack at ${baseOffset} below the recovered log end ${expected.end}; ${context()}`);
          acked.set(baseOffset, { seq, baseOffset, lastOffset, durable: word === 'ack', round });
          if (word === 'ack') durableAcks++;
          else plainAcks++;
          maxSeq = Math.max(maxSeq, seq);
        } else if (word === 'closing') sawClosing = true;
        else if (word === 'closed') sawClosed = true;
      }
      if (run.signal === 'SIGKILL') {
        kills++;
        if (!sawReady) killsBeforeReady++;
        if (sawClosing && !sawClosed) killsDuringClose++;
        if (random() < 0.2) {
          let mustKeepBelow = expected.end;
          for (const ack of acked.values()) if (ack.durable && ack.round === round) mustKeepBelow = Math.max(mustKeepBelow, ack.lastOffset + 1);
          const lost = await loseUnsyncedTail(dir, random, mustKeepBelow);
          if (lost !== null) {
            powerLosses++;
            for (const [base, ack] of acked) {
              if (ack.lastOffset < lost.lostFrom) continue;
              assert.ok(!ack.durable, `test bug: cut a durable ack at ${base}`);
              acked.delete(base);
              lostAcks++;
            }
          }
        }
      } else {
        assert.equal(run.code, 0, `child exited with ${run.code ?? run.signal}; ${context()}`);
        assert.ok(plan.kind === 'close' && sawClosed, `child exited without being killed; ${context()}`);
        assert.ok((await stat(join(dir, 'clean-shutdown')).catch(() => null)) !== null, `no clean-shutdown marker after close(); ${context()}`);
        cleanCloses++;
      }

      const verifyStarted = Date.now();
      const walk = await recoverCopyAndVerify(dir, scratch, acked, 64 * 1024 + Math.floor(random() * 192 * 1024), round % 4 === 0);
      // Recovery after a SIGKILL keeps every completely written batch: the end never goes back.
      assert.ok(walk.logEndOffset >= expected.end, `log end went back from ${expected.end} to ${walk.logEndOffset}; ${context()}`);
      if (walk.recoveryMessages.some((m) => m.includes('truncates'))) truncations++;
      maxEnd = Math.max(maxEnd, walk.logEndOffset);
      for (const b of walk.batches) maxSeq = Math.max(maxSeq, b.seq);
      for (const [base, ack] of acked) if (ack.lastOffset < walk.logStartOffset) acked.delete(base);
      expected = { start: walk.logStartOffset, end: walk.logEndOffset };
      verifyMs += Date.now() - verifyStarted;
    }

    // Last: recover the original directory in this process, check it, close it, and check
    // the clean reopen too.
    const log = await PartitionLog.open(dir, CRASH_LOG_CONFIG, { log: () => undefined });
    const walk = await walkAndVerify(log);
    checkAcks(walk, acked);
    assert.deepEqual({ start: walk.logStartOffset, end: walk.logEndOffset }, expected);
    await log.close();
    const names = await readdir(dir);
    assert.ok(names.includes('clean-shutdown'), 'no clean-shutdown marker');
    assert.ok(
      names.every((n) => /^\d{20}\.(log|index|timeindex)$/.test(n) || n === 'partition.checkpoint' || n === 'clean-shutdown'),
      `unexpected files: ${names.join(', ')}`,
    );
    const reopened = await PartitionLog.open(dir, CRASH_LOG_CONFIG, { log: () => undefined });
    assert.equal((await walkAndVerify(reopened)).batches.length, walk.batches.length);
    await reopened.close();
  } catch (e) {
    (e as Error).message = `[seed ${SEED}, round ${round}${plan === null ? '' : `, ${describePlan(plan)}`}] ${(e as Error).message}`;
    throw e;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  t.diagnostic(
    `${round} rounds in ${((Date.now() - started) / 1000).toFixed(1)} s (children ${(childMs / 1000).toFixed(1)} s, ` +
      `recovery and checks ${(verifyMs / 1000).toFixed(1)} s): ${kills} kills (${killsBeforeReady} before ready, ` +
      `${killsDuringClose} during close), ${cleanCloses} clean closes, ${powerLosses} unsynced tails cut (${lostAcks} non-durable acks lost); ${durableAcks} durable and ${plainAcks} non-durable acks checked; ` +
      `log end reached ${maxEnd}, recovery truncated a torn tail in ${truncations} rounds`,
  );
  assert.ok(kills >= KILLS);
});

// Consumer-group benchmark: how fast Ferry's group coordinator turns a membership change into a
// stable group, and how many offset commits per second it makes durable. Run with
// `npm run bench:groups` (options after `--`: --runs <n> membership runs (default 21) and commit
// runs (default 3, at least 3 each), --seconds <n> per commit run (default 1.5), --only
// membership,commits, --dir <path> for the data directory (default os.tmpdir())). About 2 minutes.
//
// The broker is a real process (bin/ferry.js start) on 127.0.0.1 with
// group.initial.rebalance.delay.ms=0, so the deliberate wait of a first rebalance (3 s by
// default) is not counted. The clients speak the protocol directly (bench/groups/wire.ts, the
// generated codecs), one TCP connection per member, with the versions librdkafka 2.0.2 and kafkajs
// use: JoinGroup v5 (MEMBER_ID_REQUIRED first, then the join with the issued id), SyncGroup v3,
// Heartbeat v3, LeaveGroup v3, OffsetCommit v7. Session and rebalance timeouts are 30 s, so no
// timeout ever fires.
//
// Membership: a group grows from 1 to 8 members one member at a time, then shrinks back to 1 by
// LeaveGroup. Each step is timed from the change (the new member's first JoinGroup, or the
// LeaveGroup) until every member of the new generation has its SyncGroup answer (the group is
// Stable and everyone holds its assignment). Existing members learn of a rebalance from a
// Heartbeat answered REBALANCE_IN_PROGRESS; here they heartbeat back to back, so the heartbeat
// interval (a client setting, 3 s by default) is not counted either; then they rejoin and sync,
// the leader sending a range-style assignment. A step is therefore: the join round trips, the
// join phase, the leader's assignment, and the SyncGroup phase, which waits for the new
// generation's GroupMetadata record to be durable in __consumer_offsets (an fdatasync).
// Median and range over --runs runs, each on a new group.
//
// Commits: N committers (own connections) each send OffsetCommit requests back to back, each
// committing 1 or 100 partitions of a 100-partition topic, outside any generation (generation -1:
// consumers with manual assignment, tools), either all to one group (one partition of
// __consumer_offsets, so they share its group commit) or each to its own group (spread over the
// topic's 50 partitions). A commit is answered once its records are fdatasynced. Figures: commits
// per second and committed partition offsets per second, median of the runs; the broker's CPU use
// over the run (utime + stime from /proc) as % of one core.
//
// Baselines in the same run: a TCP round trip on loopback between two Node processes (16 bytes
// each way), the broker's own round trip for a request that does no work (Heartbeat of an unknown
// group), and the disk's fdatasync: an append + fdatasync in a loop, in the data directory, of
// 200 B and of 8000 B (about the record batch of a commit of 1 and of 100 partitions; on this
// VM's disk the larger one is several times slower). Its rate is what one committer that fsyncs
// every commit alone could reach; the "÷ fdatasync/s" column divides by the matching size.
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { arch, cpus, loadavg, platform, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ByteWriter } from '../src/protocol/byte-writer.js';
import type { DataCodec } from '../src/protocol/api-codec.js';
import { ErrorCode } from '../src/protocol/error-codes.js';
import { ConsumerProtocolAssignmentCodec } from '../src/protocol/messages/data/consumer-protocol-assignment.js';
import { ConsumerProtocolSubscriptionCodec } from '../src/protocol/messages/data/consumer-protocol-subscription.js';
import {
  CreateTopicsApi,
  HeartbeatApi,
  JoinGroupApi,
  type JoinGroupResponse,
  LeaveGroupApi,
  OffsetCommitApi,
  SyncGroupApi,
} from '../src/protocol/messages/index.js';
import { WireConnection } from './groups/wire.js';

// ---- options -----------------------------------------------------------------------------------

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const MEMBERSHIP_RUNS = Math.max(3, Number(option('runs') ?? 21));
const COMMIT_RUNS = Math.max(3, Number(option('runs') ?? 3));
const COMMIT_SECONDS = Number(option('seconds') ?? 1.5);
const ONLY = new Set((option('only') ?? 'membership,commits').split(','));
const BASE_DIR = option('dir') ?? tmpdir();
const MAX_MEMBERS = 8;
const COMMIT_TOPIC = 'bench-commits';
const COMMIT_TOPIC_PARTITIONS = 100;
const COMMITTERS = [1, 8, 64];
const PARTITIONS_PER_COMMIT = [1, 100];
/** About the record batch of a commit of 1 and of 100 partitions in __consumer_offsets. */
const SMALL_COMMIT_BYTES = 200;
const LARGE_COMMIT_BYTES = 8000;
const SUBSCRIBED_TOPIC = 'bench-topic';
const SUBSCRIBED_PARTITIONS = 24;

const projectRoot = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(join(dir, 'bin', 'ferry.js'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find bin/ferry.js above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
})();

// ---- statistics and formatting -------------------------------------------------------------------

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function ms(x: number): string {
  return x >= 10 ? `${x.toFixed(1)} ms` : x >= 1 ? `${x.toFixed(2)} ms` : `${(x * 1000).toFixed(0)} µs`;
}

function count(x: number): string {
  return x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : x >= 1e4 ? `${(x / 1e3).toFixed(1)} k` : x.toFixed(0);
}

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

// ---- processes -------------------------------------------------------------------------------------

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

interface Broker {
  child: ChildProcess;
  port: number;
  dataDir: string;
}

async function startFerry(dataDir: string, settings: Record<string, string | number>): Promise<Broker> {
  const args = [join(projectRoot, 'bin', 'ferry.js'), 'start', '--port', '0', '--data-dir', dataDir];
  for (const [k, v] of Object.entries(settings)) args.push(`--${k}=${v}`);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ferry did not start within 20 s:\n${out}${err}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ferry listening on \S+:(\d+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ferry exited (${code}) before listening:\n${out}${err}`));
    });
  });
  return { child, port, dataDir };
}

async function stopFerry(b: Broker): Promise<void> {
  if (b.child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => b.child.once('exit', () => resolve()));
  b.child.kill('SIGTERM');
  const timer = setTimeout(() => b.child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

const CLK_TCK = 100;
function processCpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
}

// ---- baselines ---------------------------------------------------------------------------------------

/** Median round trip of 16 bytes over loopback TCP to an echo server in another Node process. */
async function tcpRoundTripMs(iterations = 3000): Promise<number> {
  const script = "const s=require('net').createServer(c=>{c.setNoDelay(true);c.on('data',d=>c.write(d))}).listen(0,'127.0.0.1',()=>process.stdout.write(String(s.address().port)+'\\n'))";
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  try {
    const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    const { connect } = await import('node:net');
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const ping = Buffer.alloc(16, 1);
    const times: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const t0 = nowMs();
      await new Promise<void>((resolve) => {
        let got = 0;
        const onData = (d: Buffer): void => {
          got += d.length;
          if (got >= 16) {
            socket.off('data', onData);
            resolve();
          }
        };
        socket.on('data', onData);
        socket.write(ping);
      });
      if (i >= iterations / 10) times.push(nowMs() - t0);
    }
    socket.destroy();
    return median(times);
  } finally {
    child.kill('SIGKILL');
  }
}

/** Median round trip of a request the broker answers without work: Heartbeat of an unknown group. */
async function brokerRoundTripMs(port: number, iterations = 3000): Promise<number> {
  const c = await WireConnection.connect(port, 'bench-rtt');
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = nowMs();
    await c.send(HeartbeatApi, 3, { groupId: 'bench-no-such-group', generationId: 1, memberId: 'nobody', groupInstanceId: null });
    if (i >= iterations / 10) times.push(nowMs() - t0);
  }
  c.close();
  return median(times);
}

/** An append of `bytes` + fdatasync in a loop for ~seconds: the median latency and the rate. */
function fdatasyncBaseline(dir: string, bytes: number, seconds = 1.5): { latencyMs: number; perSecond: number } {
  const path = join(dir, 'fdatasync-baseline');
  const fd = fs.openSync(path, 'w');
  const buf = Buffer.alloc(bytes, 7);
  const times: number[] = [];
  const start = nowMs();
  let n = 0;
  try {
    while (nowMs() - start < seconds * 1000) {
      const t0 = nowMs();
      fs.writeSync(fd, buf);
      fs.fdatasyncSync(fd);
      times.push(nowMs() - t0);
      n++;
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(path, { force: true });
  }
  return { latencyMs: median(times), perSecond: n / ((nowMs() - start) / 1000) };
}

// ---- a group member speaking the protocol ---------------------------------------------------------

function encodeVersioned<T>(codec: DataCodec<T>, version: number, m: T): Buffer {
  const w = new ByteWriter();
  w.allocate(2 + codec.size(version, m, w));
  w.int16(version);
  codec.write(version, m, w);
  return w.finishOne();
}

const SUBSCRIPTION = encodeVersioned(ConsumerProtocolSubscriptionCodec, 0, { topics: [SUBSCRIBED_TOPIC], userData: null });

/** The range assignor's answer for these members (sorted by id) over SUBSCRIBED_PARTITIONS. */
function rangeAssignments(memberIds: string[]): Array<{ memberId: string; assignment: Buffer }> {
  const sorted = [...memberIds].sort();
  const per = Math.floor(SUBSCRIBED_PARTITIONS / sorted.length);
  const extra = SUBSCRIBED_PARTITIONS % sorted.length;
  let next = 0;
  return sorted.map((memberId, i) => {
    const n = per + (i < extra ? 1 : 0);
    const partitions = Array.from({ length: n }, (_, k) => next + k);
    next += n;
    return { memberId, assignment: encodeVersioned(ConsumerProtocolAssignmentCodec, 0, { assignedPartitions: [{ topic: SUBSCRIBED_TOPIC, partitions }], userData: null }) };
  });
}

class Member {
  memberId = '';
  generation = -1;
  joinRoundTrips = 0;
  /** When the last successful JoinGroup answer arrived (the end of a join phase). */
  joinedAt = 0;

  constructor(
    readonly conn: WireConnection,
    readonly groupId: string,
  ) {}

  private async join(): Promise<JoinGroupResponse> {
    for (;;) {
      this.joinRoundTrips++;
      const r = await this.conn.send(JoinGroupApi, 5, {
        groupId: this.groupId,
        sessionTimeoutMs: 30_000,
        rebalanceTimeoutMs: 30_000,
        memberId: this.memberId,
        groupInstanceId: null,
        protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: SUBSCRIPTION }],
      });
      if (r.errorCode === ErrorCode.MEMBER_ID_REQUIRED) {
        this.memberId = r.memberId;
        continue;
      }
      if (r.errorCode !== ErrorCode.NONE) throw new Error(`JoinGroup: error ${r.errorCode}`);
      this.memberId = r.memberId;
      this.generation = r.generationId;
      this.joinedAt = nowMs();
      return r;
    }
  }

  /** Joins (or rejoins) and syncs until it holds an assignment of a stable generation. */
  async joinAndSync(): Promise<void> {
    for (;;) {
      const j = await this.join();
      const assignments = j.members.length > 0 ? rangeAssignments(j.members.map((m) => m.memberId)) : [];
      const s = await this.conn.send(SyncGroupApi, 3, { groupId: this.groupId, generationId: j.generationId, memberId: this.memberId, groupInstanceId: null, assignments });
      if (s.errorCode === ErrorCode.REBALANCE_IN_PROGRESS) continue;
      if (s.errorCode !== ErrorCode.NONE) throw new Error(`SyncGroup: error ${s.errorCode}`);
      if (s.assignment.length === 0) throw new Error('SyncGroup: no assignment');
      return;
    }
  }

  /** Heartbeats back to back until told to rejoin, then rejoins and syncs. */
  async followRebalance(): Promise<number> {
    let heartbeats = 0;
    for (;;) {
      heartbeats++;
      const r = await this.conn.send(HeartbeatApi, 3, { groupId: this.groupId, generationId: this.generation, memberId: this.memberId, groupInstanceId: null });
      if (r.errorCode === ErrorCode.REBALANCE_IN_PROGRESS) break;
      if (r.errorCode !== ErrorCode.NONE) throw new Error(`Heartbeat: error ${r.errorCode}`);
      if (heartbeats > 1_000_000) throw new Error('no rebalance after a million heartbeats');
    }
    await this.joinAndSync();
    return heartbeats;
  }

  async leave(): Promise<void> {
    const r = await this.conn.send(LeaveGroupApi, 3, { groupId: this.groupId, members: [{ memberId: this.memberId, groupInstanceId: null }] });
    if (r.errorCode !== ErrorCode.NONE || r.members?.some((m) => m.errorCode !== ErrorCode.NONE)) throw new Error(`LeaveGroup: ${JSON.stringify(r)}`);
  }
}

// ---- membership --------------------------------------------------------------------------------------

interface MembershipRun {
  joinMs: number[]; // index k-1: the step to k members
  leaveMs: number[]; // index k-1: the step from k+1 to k members (k = 1..7)
  /** The same steps up to the end of the join phase (the last JoinGroup answer). */
  joinPhaseOfJoinMs: number[];
  joinPhaseOfLeaveMs: number[];
  heartbeatsBeforeRejoin: number[];
}

async function membershipRun(port: number, run: number): Promise<MembershipRun> {
  const groupId = `bench-membership-${run}`;
  const conns = await Promise.all(Array.from({ length: MAX_MEMBERS }, (_, i) => WireConnection.connect(port, `bench-member-${i}`)));
  const members: Member[] = [];
  const out: MembershipRun = { joinMs: [], leaveMs: [], joinPhaseOfJoinMs: [], joinPhaseOfLeaveMs: [], heartbeatsBeforeRejoin: [] };
  try {
    for (let k = 1; k <= MAX_MEMBERS; k++) {
      const newcomer = new Member(conns[k - 1]!, groupId);
      const t0 = nowMs();
      const others = members.map((m) => m.followRebalance());
      await Promise.all([newcomer.joinAndSync(), ...others]);
      out.joinMs.push(nowMs() - t0);
      out.joinPhaseOfJoinMs.push(Math.max(newcomer.joinedAt, ...members.map((m) => m.joinedAt)) - t0);
      for (const h of await Promise.all(others)) out.heartbeatsBeforeRejoin.push(h);
      members.push(newcomer);
    }
    for (let k = MAX_MEMBERS - 1; k >= 1; k--) {
      const leaving = members.pop()!;
      const t0 = nowMs();
      const others = members.map((m) => m.followRebalance());
      await leaving.leave();
      await Promise.all(others);
      out.leaveMs[k - 1] = nowMs() - t0;
      out.joinPhaseOfLeaveMs[k - 1] = Math.max(...members.map((m) => m.joinedAt)) - t0;
    }
    await members[0]!.leave();
  } finally {
    for (const c of conns) c.close();
  }
  return out;
}

// ---- commits -----------------------------------------------------------------------------------------

interface CommitRow {
  committers: number;
  partitions: number;
  groups: 'one group' | 'a group each';
  commitsPerSec: number[];
  cpuPercent: number[];
}

async function commitRun(b: Broker, row: Omit<CommitRow, 'commitsPerSec' | 'cpuPercent'>, run: number, seconds: number): Promise<{ perSec: number; cpu: number }> {
  const conns = await Promise.all(Array.from({ length: row.committers }, (_, i) => WireConnection.connect(b.port, `bench-committer-${i}`)));
  try {
    let stop = false;
    let total = 0;
    let offset = 0n;
    const loop = async (i: number): Promise<void> => {
      const groupId = row.groups === 'one group' ? `bench-commit-${run}-${row.committers}-${row.partitions}` : `bench-commit-${run}-${row.committers}-${row.partitions}-${i}`;
      const first = (i * row.partitions) % COMMIT_TOPIC_PARTITIONS;
      while (!stop) {
        offset++;
        const partitions = Array.from({ length: row.partitions }, (_, k) => ({
          partitionIndex: (first + k) % COMMIT_TOPIC_PARTITIONS,
          committedOffset: offset,
          committedLeaderEpoch: -1,
          committedMetadata: '',
        }));
        const r = await conns[i]!.send(OffsetCommitApi, 7, { groupId, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, topics: [{ name: COMMIT_TOPIC, partitions }] });
        for (const t of r.topics) for (const p of t.partitions) if (p.errorCode !== ErrorCode.NONE) throw new Error(`OffsetCommit: error ${p.errorCode}`);
        total++;
      }
    };
    // 0.3 s of warm-up (creates the groups), then the measured interval.
    const loops = conns.map((_, i) => loop(i));
    await new Promise((r) => setTimeout(r, 300));
    const n0 = total;
    const cpu0 = processCpuSeconds(b.child.pid!);
    const t0 = nowMs();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const n1 = total;
    const cpu1 = processCpuSeconds(b.child.pid!);
    const elapsed = (nowMs() - t0) / 1000;
    stop = true;
    await Promise.all(loops);
    return { perSec: (n1 - n0) / elapsed, cpu: (100 * (cpu1 - cpu0)) / elapsed };
  } finally {
    for (const c of conns) c.close();
  }
}

// ---- main ------------------------------------------------------------------------------------------

const workDir = fs.mkdtempSync(join(BASE_DIR, 'ferry-bench-groups-'));
const cpu = cpus();
const lines: string[] = [];
const summary: Record<string, unknown> = {
  machine: { node: process.version, platform: `${platform()} ${arch()}`, cpu: cpu[0]?.model ?? 'unknown', cpus: cpu.length, dir: BASE_DIR },
};
console.error(`bench:groups: data in ${workDir}; ${MEMBERSHIP_RUNS} membership runs, ${COMMIT_RUNS} commit runs of ${COMMIT_SECONDS} s`);

let broker: Broker | null = null;
try {
  broker = await startFerry(join(workDir, 'data'), { 'group.initial.rebalance.delay.ms': 0 });
  const tcpRtt = await tcpRoundTripMs();
  const brokerRtt = await brokerRoundTripMs(broker.port);
  const sync = fdatasyncBaseline(workDir, SMALL_COMMIT_BYTES);
  const syncLarge = fdatasyncBaseline(workDir, LARGE_COMMIT_BYTES);
  const syncFor = (partitions: number): { latencyMs: number; perSecond: number } => (partitions === 1 ? sync : syncLarge);
  summary['baselines'] = {
    tcpRoundTripMs: tcpRtt,
    brokerRoundTripMs: brokerRtt,
    fdatasync: { [SMALL_COMMIT_BYTES]: sync, [LARGE_COMMIT_BYTES]: syncLarge },
  };
  lines.push(`Machine: ${cpu.length} × ${cpu[0]?.model ?? '?'}, Node ${process.version}, data in ${BASE_DIR}; load average at start ${loadavg().map((x) => x.toFixed(2)).join(' ')}.`);
  lines.push('');
  lines.push('| baseline (same run) | median |');
  lines.push('|---|---:|');
  lines.push(`| TCP round trip on loopback, Node ↔ Node, 16 B | ${ms(tcpRtt)} |`);
  lines.push(`| broker round trip, a request that does no work (Heartbeat of an unknown group) | ${ms(brokerRtt)} |`);
  lines.push(`| ${SMALL_COMMIT_BYTES}-byte append + fdatasync in a loop, data directory's disk (a 1-partition commit's batch) | ${ms(sync.latencyMs)}; ${count(sync.perSecond)}/s |`);
  lines.push(`| ${LARGE_COMMIT_BYTES}-byte append + fdatasync in a loop (a 100-partition commit's batch) | ${ms(syncLarge.latencyMs)}; ${count(syncLarge.perSecond)}/s |`);

  if (ONLY.has('membership')) {
    const runs: MembershipRun[] = [];
    await membershipRun(broker.port, -1); // warm-up
    for (let r = 0; r < MEMBERSHIP_RUNS; r++) runs.push(await membershipRun(broker.port, r));
    lines.push('');
    lines.push(`Membership change → stable group (group.initial.rebalance.delay.ms=0; existing members heartbeat back to back; median and range of ${MEMBERSHIP_RUNS} runs):`);
    lines.push('');
    lines.push('| change | to stable (median) | range | of which join phase | ÷ broker round trip |');
    lines.push('|---|---:|---:|---:|---:|');
    const rows: Array<{ change: string; medianMs: number; minMs: number; maxMs: number; joinPhaseMs: number }> = [];
    const add = (change: string, values: number[], joinPhase: number[]): void => {
      const m = median(values);
      const jp = median(joinPhase);
      rows.push({ change, medianMs: m, minMs: Math.min(...values), maxMs: Math.max(...values), joinPhaseMs: jp });
      lines.push(`| ${change} | ${ms(m)} | ${ms(Math.min(...values))}–${ms(Math.max(...values))} | ${ms(jp)} | ${(m / brokerRtt).toFixed(0)}× |`);
    };
    for (let k = 1; k <= MAX_MEMBERS; k++) {
      add(k === 1 ? 'first member joins an empty group (0 → 1)' : `a member joins (${k - 1} → ${k})`, runs.map((r) => r.joinMs[k - 1]!), runs.map((r) => r.joinPhaseOfJoinMs[k - 1]!));
    }
    for (let k = MAX_MEMBERS - 1; k >= 1; k--) {
      add(`a member leaves by LeaveGroup (${k + 1} → ${k})`, runs.map((r) => r.leaveMs[k - 1]!), runs.map((r) => r.joinPhaseOfLeaveMs[k - 1]!));
    }
    summary['membership'] = { runs: MEMBERSHIP_RUNS, rows, heartbeatsBeforeRejoinMedian: median(runs.flatMap((r) => r.heartbeatsBeforeRejoin)) };
  }

  if (ONLY.has('commits')) {
    const c = await WireConnection.connect(broker.port, 'bench-admin');
    const created = await c.send(CreateTopicsApi, 4, {
      topics: [{ name: COMMIT_TOPIC, numPartitions: COMMIT_TOPIC_PARTITIONS, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    c.close();
    if (created.topics[0]?.errorCode !== ErrorCode.NONE) throw new Error(`CreateTopics: error ${created.topics[0]?.errorCode}`);
    const rows: CommitRow[] = [];
    for (const partitions of PARTITIONS_PER_COMMIT) {
      for (const committers of COMMITTERS) {
        for (const groups of ['one group', 'a group each'] as const) {
          if (committers === 1 && groups === 'a group each') continue;
          rows.push({ committers, partitions, groups, commitsPerSec: [], cpuPercent: [] });
        }
      }
    }
    await commitRun(broker, rows[0]!, -1, 0.5); // warm-up
    for (let run = 0; run < COMMIT_RUNS; run++) {
      for (const row of rows) {
        const r = await commitRun(broker, row, run, COMMIT_SECONDS);
        row.commitsPerSec.push(r.perSec);
        row.cpuPercent.push(r.cpu);
      }
    }
    lines.push('');
    lines.push(`Offset commits (OffsetCommit v7, generation -1, each answered after fdatasync; median of ${COMMIT_RUNS} runs of ${COMMIT_SECONDS} s):`);
    lines.push('');
    lines.push('| committers | partitions per commit | groups | commits/s | partition offsets/s | ÷ fdatasync/s (same size) | broker CPU |');
    lines.push('|---:|---:|---|---:|---:|---:|---:|');
    for (const row of rows) {
      const m = median(row.commitsPerSec);
      lines.push(
        `| ${row.committers} | ${row.partitions} | ${row.groups} | ${count(m)} | ${count(m * row.partitions)} | ${(m / syncFor(row.partitions).perSecond).toFixed(1)}× | ${median(row.cpuPercent).toFixed(0)}% |`,
      );
    }
    summary['commits'] = rows.map((r) => ({ ...r, medianCommitsPerSec: median(r.commitsPerSec) }));
  }
} finally {
  if (broker !== null) await stopFerry(broker);
  fs.rmSync(workDir, { recursive: true, force: true });
}

lines.push('');
lines.push(`Load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (other processes on the machine move these figures; compare rows of one run).`);
summary['loadAverageAtEnd'] = loadavg();
console.log(lines.join('\n'));
console.log('');
console.log(JSON.stringify(summary, null, 2));

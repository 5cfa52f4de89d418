/**
 * Shared pieces of the consumer-group compatibility tests (groups-*.compat.ts): group members
 * as child processes that report what they do, numbered test messages, raw requests that look
 * at the group as the broker keeps it (DescribeGroups, OffsetFetch, the GroupMetadata records
 * of __consumer_offsets), and the check of who consumed what.
 *
 * A member process (groups/kafkajs-member.ts, py/group_member.py, or kcat through its own
 * adapter) writes one JSON event a line on stdout: "ready", "m" (a message processed: p, o, k),
 * "c" (a commit the broker acknowledged: offsets by partition), "join"/"assign"/"revoke"/"lost"
 * (assignments), and client-specific ones. Each event is stamped with its arrival time here.
 * Every wait has a time limit; a member that outlives its test is killed by its own handle.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import kafkajs from 'kafkajs';
import { ByteReader } from '../../../src/protocol/byte-reader.js';
import { ConsumerProtocolAssignmentCodec } from '../../../src/protocol/messages/data/consumer-protocol-assignment.js';
import { DescribeGroupsApi, OffsetFetchApi } from '../../../src/protocol/messages/index.js';
import { readRecords } from '../../../src/protocol/record-batch.js';
import { GroupMetadataKeyCodec } from '../../../src/protocol/messages/internal/group-metadata-key.js';
import { GroupMetadataValueCodec } from '../../../src/protocol/messages/internal/group-metadata-value.js';
import { FerryProcess, INSTALL_HINT, PY_DIR, REPO_ROOT, SYSTEM_PYTHON, forEachStoredBatch, rawRequest, tail, track, withTimeout } from './harness.js';
import type { MemberConfig } from './groups/kafkajs-member.js';

const { Kafka, logLevel } = kafkajs;

// ---- a describe block with a broker --------------------------------------------------------------

/** The broker settings of the group tests: no deliberate wait before a first rebalance. */
export const GROUP_BROKER_SETTINGS = { 'group.initial.rebalance.delay.ms': 0 };

/** What a describeGroups block gives its tests: its broker and the members to clean up. */
export class GroupTestBed {
  /** Replaced when a test restarts the broker (FerryProcess.start with reuse). */
  ferry: FerryProcess | null = null;
  readonly members: MemberProcess[] = [];

  get broker(): FerryProcess {
    if (this.ferry === null) throw new Error('the broker did not start');
    return this.ferry;
  }

  /** Registers members (killed at the end of the block if still running) and returns them. */
  add<T extends MemberProcess>(...ms: T[]): T[] {
    this.members.push(...ms);
    return ms;
  }
}

/** A describe block with a Ferry broker process (GROUP_BROKER_SETTINGS) started before its tests. */
export function describeGroups(title: string, body: (bed: GroupTestBed) => void): void {
  describe(title, () => {
    const bed = new GroupTestBed();
    before(async () => {
      bed.ferry = await FerryProcess.start(GROUP_BROKER_SETTINGS);
    });
    after(async () => {
      for (const m of bed.members) m.dispose();
      if (bed.ferry !== null) await bed.ferry.stop();
    });
    body(bed);
  });
}

// ---- member processes --------------------------------------------------------------------------

export interface MemberEvent {
  e: string;
  /** Arrival time here (Date.now()). */
  at: number;
  [field: string]: unknown;
}

export interface Delivery {
  member: string;
  p: number;
  o: number;
  k: string | null;
  at: number;
}

interface Waiter {
  pred: (ev: MemberEvent) => boolean;
  resolve: (ev: MemberEvent) => void;
}

export class MemberProcess {
  readonly events: MemberEvent[] = [];
  private readonly waiters = new Set<Waiter>();
  private buffered = '';
  private stderrText = '';
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly name: string,
    protected readonly child: ChildProcess,
    /** Turns a line of stdout into events (JSON by default). */
    private readonly parse: (line: string) => Array<Omit<MemberEvent, 'at'>> = (line) => [JSON.parse(line) as MemberEvent],
  ) {
    track(child);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => this.onData(d));
    child.stderr!.on('data', (d: Buffer) => {
      this.stderrText = tail(this.stderrText + d.toString('utf8'), 64_000);
      this.onStderrData(d.toString('utf8'));
    });
    child.stdin?.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        this.push({ e: 'exit', code, signal });
        resolve(this.exitInfo);
      });
    });
  }

  private stderrBuffered = '';

  private onStderrData(text: string): void {
    this.stderrBuffered += text;
    for (let nl = this.stderrBuffered.indexOf('\n'); nl >= 0; nl = this.stderrBuffered.indexOf('\n')) {
      const line = this.stderrBuffered.slice(0, nl);
      this.stderrBuffered = this.stderrBuffered.slice(nl + 1);
      for (const ev of this.parseStderr(line)) this.push(ev);
    }
  }

  /**
   * Events in a line of stderr, for members that report there (kcat's rebalance lines). By
   * default: librdkafka's "JoinGroup response: …" debug line (debug=cgrp) as a "joinresponse".
   */
  protected parseStderr(line: string): Array<Omit<MemberEvent, 'at'>> {
    const i = line.indexOf('JoinGroup response: ');
    return i >= 0 && line.includes('|JOINGROUP|') ? [{ e: 'joinresponse', text: line.slice(i) }] : [];
  }

  protected push(ev: Omit<MemberEvent, 'at'>): void {
    const full = { ...ev, at: Date.now() } as MemberEvent;
    this.events.push(full);
    for (const w of [...this.waiters]) {
      if (w.pred(full)) {
        this.waiters.delete(w);
        w.resolve(full);
      }
    }
  }

  private onData(d: string): void {
    this.buffered += d;
    for (let nl = this.buffered.indexOf('\n'); nl >= 0; nl = this.buffered.indexOf('\n')) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      if (line.trim() === '') continue;
      let evs: Array<Omit<MemberEvent, 'at'>>;
      try {
        evs = this.parse(line);
      } catch {
        this.stderrText += `\n[stdout, not an event] ${line.slice(0, 500)}`;
        continue;
      }
      for (const ev of evs) this.push(ev);
    }
  }

  get isRunning(): boolean {
    return this.exitInfo === null;
  }

  get log(): string {
    return this.stderrText;
  }

  /** Resolves with the first event (already seen, or to come) that matches; rejects after timeoutMs. */
  waitFor(pred: (ev: MemberEvent) => boolean, timeoutMs: number, what: string, fromIndex = 0): Promise<MemberEvent> {
    for (let i = fromIndex; i < this.events.length; i++) if (pred(this.events[i]!)) return Promise.resolve(this.events[i]!);
    let waiter: Waiter;
    const p = new Promise<MemberEvent>((resolve) => {
      waiter = { pred, resolve };
      this.waiters.add(waiter);
    });
    return withTimeout(p, timeoutMs, `${this.name}: ${what}`).catch((e: Error) => {
      this.waiters.delete(waiter);
      throw new Error(`${e.message}\n${this.name} last events: ${this.describeLast(8)}\n${this.name} stderr:\n${tail(this.stderrText, 3000)}`);
    });
  }

  describeLast(n: number): string {
    return this.events
      .filter((e) => e.e !== 'm')
      .slice(-n)
      .map((e) => JSON.stringify(e))
      .join('\n  ');
  }

  send(cmd: Record<string, unknown>): void {
    this.child.stdin!.write(JSON.stringify(cmd) + '\n');
  }

  /** How the member is asked to close cleanly. */
  protected requestStop(): void {
    this.send({ cmd: 'stop' });
  }

  /** SIGKILL (a crash) and wait for the exit. */
  async kill(): Promise<void> {
    if (this.exitInfo !== null) return;
    this.child.kill('SIGKILL');
    await withTimeout(this.exited, 10_000, `${this.name} SIGKILL`);
  }

  /** Asks the member to close cleanly ({"cmd":"stop"}); SIGKILL and an error after timeoutMs. */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (this.exitInfo !== null) return;
    this.requestStop();
    try {
      const r = await withTimeout(this.exited, timeoutMs, `${this.name} stop`);
      if (r.code !== 0) throw new Error(`${this.name} exited with code ${r.code} (signal ${r.signal}):\n${tail(this.stderrText, 3000)}`);
    } catch (e) {
      if (this.exitInfo === null) {
        this.child.kill('SIGKILL');
        await withTimeout(this.exited, 5_000, `${this.name} SIGKILL`).catch(() => undefined);
      }
      throw e;
    }
  }

  /** Kills the process if it still runs (cleanup). */
  dispose(): void {
    if (this.exitInfo === null) this.child.kill('SIGKILL');
  }

  get deliveries(): Delivery[] {
    const out: Delivery[] = [];
    for (const ev of this.events) if (ev.e === 'm') out.push({ member: this.name, p: ev['p'] as number, o: ev['o'] as number, k: ev['k'] as string | null, at: ev.at });
    return out;
  }

  /** The highest offset this member had acknowledged as committed, per partition (up to time `before`). */
  committed(before = Infinity): Map<number, number> {
    const out = new Map<number, number>();
    for (const ev of this.events) {
      if (ev.e !== 'c' || ev.at > before) continue;
      for (const [p, o] of Object.entries(ev['offsets'] as Record<string, number>)) out.set(Number(p), Math.max(out.get(Number(p)) ?? -1, o));
    }
    return out;
  }

  /**
   * The member's assignment after its last event (before time `before`): a "join" (kafkajs)
   * replaces it, "assign" adds partitions, "revoke" and "lost" remove them.
   */
  assignment(before = Infinity): number[] {
    let set = new Set<number>();
    for (const ev of this.events) {
      if (ev.at > before) break;
      if (ev.e === 'join') set = new Set(ev['assigned'] as number[]);
      else if (ev.e === 'assign') for (const p of ev['partitions'] as number[]) set.add(p);
      else if (ev.e === 'revoke' || ev.e === 'lost') for (const p of ev['partitions'] as number[]) set.delete(p);
    }
    return [...set].sort((a, b) => a - b);
  }

  /** Waits for the member's "ready" event; a "fatal" one or an early exit fails with its reason. */
  async ready(timeoutMs = 30_000): Promise<MemberEvent> {
    const ev = await this.waitFor((e) => e.e === 'ready' || e.e === 'fatal' || e.e === 'exit', timeoutMs, 'ready');
    if (ev.e !== 'ready') throw new Error(`${this.name} did not start: ${JSON.stringify(ev)}\n${tail(this.stderrText, 3000)}`);
    return ev;
  }
}

/** The kafkajs member settings of these tests; any can be overridden. */
export const KAFKAJS_MEMBER_DEFAULTS = {
  sessionTimeoutMs: 6000,
  heartbeatIntervalMs: 500,
  rebalanceTimeoutMs: 10_000,
  maxBytesPerPartition: 1 << 20,
  maxWaitTimeMs: 250,
  processDelayMs: 0,
  processDelayEvery: 1,
};

/** Starts groups/kafkajs-member.js (compiled beside this file) and waits until it runs. */
export async function startKafkajsMember(
  name: string,
  cfg: Pick<MemberConfig, 'bootstrap' | 'topic' | 'groupId'> & Partial<MemberConfig>,
): Promise<MemberProcess> {
  const full: MemberConfig = { clientId: name, ...KAFKAJS_MEMBER_DEFAULTS, ...cfg };
  const script = join(REPO_ROOT, 'dist', 'test', 'compat', 'clients', 'groups', 'kafkajs-member.js');
  const m = new MemberProcess(name, spawn(process.execPath, [script, JSON.stringify(full)], { stdio: ['pipe', 'pipe', 'pipe'] }));
  await m.ready();
  return m;
}

export interface PythonMemberConfig {
  client: 'confluent-kafka' | 'kafka-python';
  bootstrap: string;
  topic: string;
  group: string;
  config?: Record<string, unknown>;
  stats_ms?: number;
}

/** Starts py/group_member.py with Debian's Python and waits until it runs. */
export async function startPythonMember(name: string, cfg: PythonMemberConfig): Promise<MemberProcess> {
  const child = spawn(SYSTEM_PYTHON, ['-B', '-u', join(PY_DIR, 'group_member.py'), JSON.stringify(cfg)], { stdio: ['pipe', 'pipe', 'pipe'], cwd: PY_DIR });
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new Error(`${SYSTEM_PYTHON} is missing: ${INSTALL_HINT}`) : e)),
  );
  const m = new MemberProcess(name, child);
  await Promise.race([m.ready(), spawnError]);
  return m;
}

/**
 * kcat's balanced consumer (`kcat -G GROUP TOPIC`, librdkafka's high-level consumer with its
 * default auto commit) as a member: it prints "partition offset key" per message on stdout and
 * its rebalances on stderr ("% Group G rebalanced (memberid M): assigned: t [0], t [1]");
 * SIGTERM makes it close the consumer (a final commit, then LeaveGroup) and exit.
 */
export class KcatMember extends MemberProcess {
  static readonly FORMAT = '%p %o %k\n';

  constructor(name: string, child: ChildProcess) {
    super(name, child, (line) => {
      const m = /^(\d+) (\d+) (.*)$/.exec(line);
      if (m === null) throw new Error('not a message line');
      return [{ e: 'm', p: Number(m[1]), o: Number(m[2]), k: m[3]! }];
    });
  }

  protected override parseStderr(line: string): Array<Omit<MemberEvent, 'at'>> {
    if (line.startsWith('% Waiting for group rebalance')) return [{ e: 'ready' }];
    const m = /^% Group \S+ rebalanced \(memberid (\S+)\): (assigned|revoked): (.*)$/.exec(line);
    if (m === null) return [];
    const partitions = [...m[3]!.matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1])).sort((a, b) => a - b);
    return [{ e: m[2] === 'assigned' ? 'assign' : 'revoke', member: m[1], partitions }];
  }

  protected override requestStop(): void {
    this.child.kill('SIGTERM');
  }
}

/** Starts `kcat -G group topic` reading from the earliest offset when nothing is committed. */
export async function startKcatMember(name: string, bootstrap: string, group: string, topic: string, settings: Record<string, string | number> = {}): Promise<MemberProcess> {
  const args = ['-b', bootstrap, '-G', group, '-u', '-f', KcatMember.FORMAT, '-X', `client.id=${name}`, '-X', 'auto.offset.reset=earliest'];
  for (const [k, v] of Object.entries(settings)) args.push('-X', `${k}=${v}`);
  args.push(topic);
  const child = spawn('kcat', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new Error(`kcat is not installed: ${INSTALL_HINT}`) : e)),
  );
  const m = new KcatMember(name, child);
  await Promise.race([m.ready(), spawnError]);
  return m;
}

// ---- numbered messages -------------------------------------------------------------------------

/** The key of message i: the checks find each message's place from it. */
export const keyOf = (i: number): string => `k${i}`;

/**
 * Creates a topic of `partitions` partitions with kafkajs's admin API, unless it exists.
 */
export async function createTopic(bootstrap: string, topic: string, partitions: number): Promise<void> {
  const kafka = new Kafka({ clientId: 'ferry-compat-groups-admin', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true, timeout: 10_000 });
  } finally {
    await admin.disconnect();
  }
}

/**
 * Produces messages from..to-1 with kafkajs (acks=all), perSend per request: message i goes to
 * partition i % partitions with key keyOf(i), so in a topic filled only this way, in order,
 * message i sits at offset floor(i / partitions) of its partition. Each request makes one batch
 * per partition, and a batch is the least a fetch returns: perSend sets how many messages a
 * consumer gets at a time, and so how often kafkajs commits.
 */
export async function produceNumbered(bootstrap: string, topic: string, partitions: number, from: number, to: number, perSend = 3000): Promise<void> {
  const kafka = new Kafka({ clientId: 'ferry-compat-groups-producer', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
  const producer = kafka.producer({ allowAutoTopicCreation: false, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = from; i < to; i += perSend) {
      const messages = [];
      for (let j = i; j < Math.min(to, i + perSend); j++) messages.push({ key: keyOf(j), value: `value of message ${j}`, partition: j % partitions });
      await producer.send({ topic, messages, acks: -1 });
    }
  } finally {
    await producer.disconnect();
  }
}

// ---- the broker's view of a group (raw requests) -----------------------------------------------

export interface DescribedGroup {
  state: string;
  protocolType: string;
  protocol: string;
  members: Array<{ memberId: string; clientId: string; groupInstanceId: string | null; assignment: number[] }>;
}

/** The partitions of `topic` in a ConsumerProtocolAssignment (int16 version, then the struct). */
export function decodeAssignment(bytes: Buffer, topic: string): number[] {
  if (bytes.length === 0) return [];
  const r = new ByteReader(bytes);
  const version = Math.min(r.int16(), ConsumerProtocolAssignmentCodec.maxVersion);
  const a = ConsumerProtocolAssignmentCodec.read(version, r);
  if (r.failed) throw new Error(`cannot decode the assignment ${bytes.toString('hex')}`);
  return a.assignedPartitions.filter((t) => t.topic === topic).flatMap((t) => t.partitions).sort((x, y) => x - y);
}

/** DescribeGroups v4 (with group instance ids), assignments decoded for `topic`. */
export async function describeGroup(port: number, groupId: string, topic: string): Promise<DescribedGroup> {
  const r = await rawRequest(port, DescribeGroupsApi, 4, { groups: [groupId], includeAuthorizedOperations: false });
  const g = r.groups[0];
  if (g === undefined || g.errorCode !== 0) throw new Error(`DescribeGroups ${groupId}: error ${g?.errorCode}`);
  return {
    state: g.groupState,
    protocolType: g.protocolType,
    protocol: g.protocolData,
    members: g.members.map((m) => ({ memberId: m.memberId, clientId: m.clientId, groupInstanceId: m.groupInstanceId ?? null, assignment: decodeAssignment(m.memberAssignment, topic) })),
  };
}

/** The group's committed offsets of partitions 0..partitions-1 (-1: none), by OffsetFetch v1. */
export async function committedOffsets(port: number, groupId: string, topic: string, partitions: number): Promise<number[]> {
  const r = await rawRequest(port, OffsetFetchApi, 1, { groupId, topics: [{ name: topic, partitionIndexes: Array.from({ length: partitions }, (_, p) => p) }] });
  const out: number[] = [];
  for (let p = 0; p < partitions; p++) {
    const e = r.topics?.[0]?.partitions.find((x) => x.partitionIndex === p);
    if (e === undefined || e.errorCode !== 0) throw new Error(`OffsetFetch ${groupId} ${topic}[${p}]: error ${e?.errorCode}`);
    out.push(Number(e.committedOffset));
  }
  return out;
}

export interface StoredGeneration {
  offset: number;
  generation: number;
  protocol: string | null;
  leader: string | null;
  members: Array<{ memberId: string; groupInstanceId: string | null; assignment: number[] }>;
}

/** Kafka's partition of __consumer_offsets for a group: abs(Java String.hashCode) mod partitions. */
export function offsetsPartitionFor(groupId: string, partitions: number): number {
  let h = 0;
  for (let i = 0; i < groupId.length; i++) h = (Math.imul(h, 31) + groupId.charCodeAt(i)) | 0;
  return (h === -2147483648 ? 0 : Math.abs(h)) % partitions;
}

/**
 * The GroupMetadata records the broker wrote for a group, in log order: read back from its
 * partition of __consumer_offsets with raw Fetch requests and decoded in Kafka's format. The
 * generation of a stable group is in each of them (DescribeGroups does not carry it).
 */
export async function storedGenerations(port: number, groupId: string, topic: string, offsetsPartitions = 50): Promise<StoredGeneration[]> {
  const partition = offsetsPartitionFor(groupId, offsetsPartitions);
  const out: StoredGeneration[] = [];
  await forEachStoredBatch(port, '__consumer_offsets', partition, async (b) => {
    for (const rec of await readRecords(b, 64 << 20)) {
      if (rec.key === null || rec.value === null) continue;
      // Kafka's format: key = int16 type (2: GroupMetadataKey), value = int16 version + GroupMetadataValue.
      const kr = new ByteReader(rec.key);
      if (kr.int16() !== 2 || GroupMetadataKeyCodec.read(0, kr).group !== groupId) continue;
      const vr = new ByteReader(rec.value);
      const v = GroupMetadataValueCodec.read(vr.int16(), vr);
      if (vr.failed) throw new Error(`__consumer_offsets[${partition}] offset ${rec.offset}: GroupMetadataValue cannot be read`);
      out.push({
        offset: Number(rec.offset),
        generation: v.generation,
        protocol: v.protocol,
        leader: v.leader,
        members: v.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? null, assignment: decodeAssignment(m.assignment, topic) })),
      });
    }
  });
  return out;
}

/** Calls `probe` every intervalMs until it returns a value other than undefined; rejects after timeoutMs. */
export async function waitUntil<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = undefined;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms${last !== undefined ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Waits until the broker reports the group Stable with exactly `members` members, each with an assignment. */
export function waitForStableGroup(port: number, groupId: string, topic: string, members: number, timeoutMs: number): Promise<DescribedGroup> {
  return waitUntil(
    async () => {
      const g = await describeGroup(port, groupId, topic);
      return g.state === 'Stable' && g.members.length === members ? g : undefined;
    },
    timeoutMs,
    `group ${groupId} Stable with ${members} members`,
  );
}

/** Waits until the group's committed offsets reach `ends` in every partition. */
export function waitForCommitted(port: number, groupId: string, topic: string, ends: number[], timeoutMs: number): Promise<number[]> {
  let last: number[] = [];
  return waitUntil(
    async () => {
      last = await committedOffsets(port, groupId, topic, ends.length);
      return last.every((o, p) => o === ends[p]) ? last : undefined;
    },
    timeoutMs,
    `group ${groupId} committed up to ${JSON.stringify(ends)}`,
  ).catch((e: Error) => {
    throw new Error(`${e.message}; last committed ${JSON.stringify(last)}`);
  });
}

// ---- who consumed what -------------------------------------------------------------------------

export interface DeliveryCheck {
  topicPartitions: number;
  /** Messages 0..count-1 were produced with produceNumbered into an empty topic. */
  count: number;
  /**
   * Says whether a second delivery of (p, o) is allowed, given every delivery of it in arrival
   * order; returns the reason it is not, or null. Default: never.
   */
  repeatAllowed?: (p: number, o: number, ds: Delivery[]) => string | null;
}

export interface DeliveryReport {
  total: number;
  distinct: number;
  repeated: Array<{ p: number; o: number; by: string[] }>;
  perMember: Map<string, number>;
}

/**
 * Checks the deliveries of every member against the numbered messages: each message delivered,
 * at its offset (message i at offset floor(i / P) of partition i % P), nothing that was not
 * produced, and repeats only where `repeatAllowed` says so. Throws with the first problems.
 */
export function checkDeliveries(deliveries: readonly Delivery[], c: DeliveryCheck): DeliveryReport {
  const P = c.topicPartitions;
  const problems: string[] = [];
  const problem = (s: string): void => {
    if (problems.length < 25) problems.push(s);
  };
  const byOffset = new Map<string, Delivery[]>();
  const perMember = new Map<string, number>();
  // In arrival order (a stable sort keeps each member's own order).
  const ordered = [...deliveries].sort((a, b) => a.at - b.at);
  for (const d of ordered) {
    perMember.set(d.member, (perMember.get(d.member) ?? 0) + 1);
    const i = d.o * P + d.p;
    if (d.p < 0 || d.p >= P || d.o < 0 || i >= c.count) {
      problem(`${d.member} consumed partition ${d.p} offset ${d.o}, which was never produced`);
      continue;
    }
    if (d.k !== keyOf(i)) problem(`${d.member} consumed key ${JSON.stringify(d.k)} at partition ${d.p} offset ${d.o}; expected ${keyOf(i)}`);
    const id = `${d.p}:${d.o}`;
    const list = byOffset.get(id);
    if (list === undefined) byOffset.set(id, [d]);
    else list.push(d);
  }
  let missing = 0;
  for (let i = 0; i < c.count; i++) {
    if (!byOffset.has(`${i % P}:${Math.floor(i / P)}`)) {
      if (missing === 0) problem(`message ${i} (partition ${i % P} offset ${Math.floor(i / P)}) was never consumed`);
      missing++;
    }
  }
  if (missing > 0) problem(`${missing} of ${c.count} messages were never consumed`);
  const repeated: DeliveryReport['repeated'] = [];
  for (const [id, ds] of byOffset) {
    if (ds.length < 2) continue;
    const [p, o] = id.split(':').map(Number) as [number, number];
    repeated.push({ p, o, by: ds.map((d) => d.member) });
    const why = c.repeatAllowed === undefined ? 'no message may be consumed twice here' : c.repeatAllowed(p, o, ds);
    if (why !== null) problem(`partition ${p} offset ${o} consumed ${ds.length} times (by ${ds.map((d) => d.member).join(', ')}): ${why}`);
  }
  if (problems.length > 0) throw new Error(`deliveries of ${c.count} messages:\n  ${problems.join('\n  ')}`);
  repeated.sort((a, b) => a.p - b.p || a.o - b.o);
  return { total: deliveries.length, distinct: byOffset.size, repeated, perMember };
}

/** Per partition: the offsets consumed twice, as ranges ("p2: 340–371"). */
export function describeRepeats(repeated: DeliveryReport['repeated']): string {
  const byP = new Map<number, number[]>();
  for (const r of repeated) byP.set(r.p, [...(byP.get(r.p) ?? []), r.o]);
  const parts: string[] = [];
  for (const [p, os] of [...byP].sort((a, b) => a[0] - b[0])) parts.push(`p${p}: ${os.length} (${Math.min(...os)}–${Math.max(...os)})`);
  return parts.join(', ') || 'none';
}

/**
 * What each member did, for failure messages: its events other than messages and commits, and
 * per partition the range of offsets it processed (first–last, count, first and last times),
 * with times relative to t0.
 */
export function timeline(members: readonly MemberProcess[], t0: number): string {
  const lines: string[] = [];
  for (const m of members) {
    lines.push(`== ${m.name}`);
    for (const e of m.events) {
      if (e.e === 'm' || e.e === 'c') continue;
      const { at, ...rest } = e;
      lines.push(`  +${at - t0} ms ${JSON.stringify(rest)}`);
    }
    const byP = new Map<number, { first: number; last: number; n: number; from: number; to: number }>();
    for (const d of m.deliveries) {
      const r = byP.get(d.p);
      if (r === undefined) byP.set(d.p, { first: d.o, last: d.o, n: 1, from: d.at, to: d.at });
      else {
        r.last = d.o;
        r.n++;
        r.to = d.at;
      }
    }
    for (const [p, r] of [...byP].sort((a, b) => a[0] - b[0])) lines.push(`  p${p}: offsets ${r.first}–${r.last} (${r.n}) at +${r.from - t0}..+${r.to - t0} ms`);
    const commits = m.events.filter((e) => e.e === 'c');
    lines.push(`  ${commits.length} commits; last: ${commits.slice(-3).map((c) => `+${c.at - t0} ${JSON.stringify(c['offsets'])}${c['gen'] !== undefined ? ` gen ${String(c['gen'])}` : ''}`).join(', ')}`);
  }
  return lines.join('\n');
}

/** Runs a check; its error gets the members' timelines appended. */
export function withTimeline<T>(members: readonly MemberProcess[], t0: number, check: () => T): T {
  try {
    return check();
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${timeline(members, t0)}`);
  }
}

/** How many distinct (partition, offset) the members consumed together. */
export function distinctDeliveries(members: readonly MemberProcess[]): number {
  return new Set(members.flatMap((m) => m.deliveries.map((d) => `${d.p}:${d.o}`))).size;
}

/** Waits until the members consumed `count` distinct messages together. */
export function waitForDistinct(members: readonly MemberProcess[], count: number, timeoutMs: number): Promise<true> {
  return waitUntil(async () => (distinctDeliveries(members) >= count ? true : undefined), timeoutMs, `${count} messages consumed`).catch((e: Error) => {
    throw new Error(`${e.message} (${distinctDeliveries(members)} so far)\n${members.map((m) => `${m.name}: ${m.describeLast(6)}`).join('\n')}`);
  });
}

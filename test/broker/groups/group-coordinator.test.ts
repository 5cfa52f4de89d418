/**
 * The group coordinator's state machine with an injected scheduler: session and rebalance
 * timeouts, the initial join delay and offset expiry run without waiting. Its records go to a
 * log kept in memory as the encoded key/value bytes, which a second coordinator replays, so
 * recovery is tested through the same record formats the broker writes to __consumer_offsets.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type GroupCoordinatorConfig, GroupCoordinator, type GroupLog, type GroupLogRecord, type JoinRequest, type SyncResult } from '../../../src/broker/groups/group-coordinator.js';
import { decodeOffsetsRecord } from '../../../src/broker/groups/offsets-records.js';
import { ManualScheduler } from '../../../src/broker/scheduler.js';
import { ErrorCode } from '../../../src/protocol/error-codes.js';

const CONFIG: GroupCoordinatorConfig = {
  offsetsRetentionMs: 7 * 24 * 3_600_000,
  offsetCommitTimeoutMs: 5000,
  offsetMetadataMaxBytes: 4096,
  minSessionTimeoutMs: 1000,
  maxSessionTimeoutMs: 300_000,
  initialRebalanceDelayMs: 0,
  groupMaxSize: 100,
  groupsMax: 1000,
};

/** The coordinator's log: records as bytes, in order; appends can be made to fail. */
class MemoryGroupLog implements GroupLog {
  readonly records: Array<{ groupId: string } & GroupLogRecord> = [];
  failNext = false;
  /** When set, appends wait for it (a slow disk). */
  stall: Promise<void> | null = null;

  async append(groupId: string, records: GroupLogRecord[]): Promise<void> {
    await Promise.resolve();
    if (this.stall !== null) await this.stall;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('disk on fire');
    }
    for (const r of records) this.records.push({ groupId, key: Buffer.from(r.key), value: r.value === null ? null : Buffer.from(r.value) });
  }

  replayInto(c: GroupCoordinator): void {
    for (const r of this.records) {
      const decoded = decodeOffsetsRecord(r.key, r.value);
      if (decoded !== null) c.replay(decoded);
    }
  }
}

function setup(config: Partial<GroupCoordinatorConfig> = {}) {
  const scheduler = new ManualScheduler();
  const log = new MemoryGroupLog();
  let n = 0;
  const coordinator = new GroupCoordinator({ config: { ...CONFIG, ...config }, log, scheduler, newId: () => `id${++n}` });
  return { scheduler, log, coordinator };
}

const meta = (s: string): Buffer => Buffer.from(s);

function joinReq(over: Partial<JoinRequest> = {}): JoinRequest {
  return {
    groupId: 'g',
    memberId: '',
    groupInstanceId: null,
    clientId: 'c',
    clientHost: '/127.0.0.1',
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 30_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: meta('sub') }],
    requireKnownMemberId: false,
    supportsSkipAssignment: true,
    ...over,
  };
}

/** A promise's state without waiting for it. */
async function settled<T>(p: Promise<T>): Promise<T | 'pending'> {
  let out: T | 'pending' = 'pending';
  void p.then((v) => (out = v));
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return out;
}


/** Moves time on in 1 s steps with the given members heartbeating, asserting they stay in. */
function advanceHeartbeating(c: GroupCoordinator, scheduler: ManualScheduler, ms: number, members: string[], generationId: number): void {
  for (let t = 0; t < ms; t += 1000) {
    scheduler.advance(Math.min(1000, ms - t));
    for (const id of members) assert.equal(c.heartbeat('g', id, null, generationId), ErrorCode.NONE);
  }
}

/** Joins two members and completes the first generation with the leader's assignment. */
async function stableGroupOfTwo(c: GroupCoordinator, over: Partial<JoinRequest> = {}) {
  const j1 = c.join(joinReq({ clientId: 'a', ...over }));
  const r1 = await j1;
  assert.equal(r1.errorCode, ErrorCode.NONE);
  // The first member alone formed generation 1; the second makes the group rebalance.
  const s1 = await c.sync({ groupId: 'g', generationId: 1, memberId: r1.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: r1.memberId, assignment: meta('all') }] });
  assert.equal(s1.errorCode, ErrorCode.NONE);
  const j2 = c.join(joinReq({ clientId: 'b', ...over }));
  assert.equal(await settled(j2), 'pending');
  assert.equal(c.heartbeat('g', r1.memberId, null, 1), ErrorCode.REBALANCE_IN_PROGRESS);
  const j1b = c.join(joinReq({ clientId: 'a', memberId: r1.memberId, ...over }));
  const [a, b] = await Promise.all([j1b, j2]);
  assert.equal(a.generationId, 2);
  assert.equal(b.generationId, 2);
  return { leader: a, follower: b };
}

describe('GroupCoordinator: the classic rebalance protocol', () => {
  test('JoinGroup v4+: a new member first gets MEMBER_ID_REQUIRED with its id, then joins with it', async () => {
    const { coordinator: c } = setup();
    const first = await c.join(joinReq({ requireKnownMemberId: true }));
    assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
    assert.equal(first.memberId, 'c-id1');
    const second = await c.join(joinReq({ requireKnownMemberId: true, memberId: first.memberId }));
    assert.equal(second.errorCode, ErrorCode.NONE);
    assert.equal(second.memberId, 'c-id1');
    assert.equal(second.leaderId, 'c-id1');
    assert.equal(second.generationId, 1);
    assert.equal(second.protocolName, 'range');
    assert.deepEqual(second.members.map((m) => [m.memberId, m.metadata.toString()]), [['c-id1', 'sub']]);
    assert.equal(c.describe('g').state, 'CompletingRebalance');
  });

  test('a known member id the group never issued is refused with UNKNOWN_MEMBER_ID', async () => {
    const { coordinator: c } = setup();
    assert.equal((await c.join(joinReq({ memberId: 'made-up' }))).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    await c.join(joinReq());
    assert.equal((await c.join(joinReq({ memberId: 'made-up' }))).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  });

  test('invalid joins: empty group id, session timeout out of bounds, no protocols, another protocol type', async () => {
    const { coordinator: c } = setup();
    assert.equal((await c.join(joinReq({ groupId: '' }))).errorCode, ErrorCode.INVALID_GROUP_ID);
    assert.equal((await c.join(joinReq({ sessionTimeoutMs: 10 }))).errorCode, ErrorCode.INVALID_SESSION_TIMEOUT);
    assert.equal((await c.join(joinReq({ sessionTimeoutMs: 400_000 }))).errorCode, ErrorCode.INVALID_SESSION_TIMEOUT);
    assert.equal((await c.join(joinReq({ protocols: [] }))).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    await c.join(joinReq());
    assert.equal((await c.join(joinReq({ protocolType: 'connect' }))).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    assert.equal((await c.join(joinReq({ protocols: [{ name: 'other', metadata: meta('') }] }))).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  });

  test('the leader gets every member and sends the assignment; followers wait for it in SyncGroup', async () => {
    const { coordinator: c } = setup();
    const { leader, follower } = await stableGroupOfTwo(c);
    assert.equal(leader.leaderId, leader.memberId);
    assert.equal(leader.members.length, 2);
    assert.equal(follower.members.length, 0);
    const fs = c.sync({ groupId: 'g', generationId: 2, memberId: follower.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [] });
    assert.equal(await settled(fs), 'pending');
    assert.equal(c.heartbeat('g', follower.memberId, null, 2), ErrorCode.NONE, 'heartbeats are fine while completing the rebalance');
    const ls = await c.sync({
      groupId: 'g',
      generationId: 2,
      memberId: leader.memberId,
      groupInstanceId: null,
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: [
        { memberId: leader.memberId, assignment: meta('p0') },
        { memberId: follower.memberId, assignment: meta('p1') },
      ],
    });
    assert.equal(ls.assignment.toString(), 'p0');
    assert.equal(((await fs) as SyncResult).assignment.toString(), 'p1');
    assert.equal(c.describe('g').state, 'Stable');
    const d = c.describe('g');
    assert.deepEqual(d.members.map((m) => m.assignment.toString()).sort(), ['p0', 'p1']);
  });

  test('generations fence stale members: ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS', async () => {
    const { coordinator: c } = setup();
    const { leader, follower } = await stableGroupOfTwo(c);
    assert.equal(c.heartbeat('g', leader.memberId, null, 1), ErrorCode.ILLEGAL_GENERATION);
    assert.equal(c.heartbeat('g', 'nobody', null, 2), ErrorCode.UNKNOWN_MEMBER_ID);
    const stale = await c.sync({ groupId: 'g', generationId: 1, memberId: follower.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    assert.equal(stale.errorCode, ErrorCode.ILLEGAL_GENERATION);
    const wrongProtocol = await c.sync({ groupId: 'g', generationId: 2, memberId: follower.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'roundrobin', assignments: [] });
    assert.equal(wrongProtocol.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    // A third member starts a rebalance: SyncGroup of the old generation is told so.
    const j3 = c.join(joinReq({ clientId: 'x' }));
    const pendingSync = await c.sync({ groupId: 'g', generationId: 2, memberId: follower.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    assert.equal(pendingSync.errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
    assert.equal(await settled(j3), 'pending');
  });

  test('a member that stops heartbeating is expelled after its session timeout and the group rebalances', async () => {
    const { coordinator: c, scheduler } = setup();
    const { leader, follower } = await stableGroupOfTwo(c);
    await c.sync({ groupId: 'g', generationId: 2, memberId: leader.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    await c.sync({ groupId: 'g', generationId: 2, memberId: follower.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    for (let t = 0; t < 30 && c.describe('g').state === 'Stable'; t++) {
      scheduler.advance(1000);
      c.heartbeat('g', leader.memberId, null, 2);
    }
    // The follower's 10 s session ran out; the leader was heartbeating.
    assert.equal(c.describe('g').state, 'PreparingRebalance');
    assert.equal(scheduler.nowMs() - 1_700_000_000_000, 10_000);
    assert.equal(c.heartbeat('g', follower.memberId, null, 2), ErrorCode.UNKNOWN_MEMBER_ID);
    const rejoin = await c.join(joinReq({ clientId: 'a', memberId: leader.memberId }));
    assert.equal(rejoin.generationId, 3);
    assert.deepEqual(rejoin.members.map((m) => m.memberId), [leader.memberId]);
  });

  test('the rebalance timeout bounds a join phase: members that do not rejoin in time are removed', async () => {
    const { coordinator: c, scheduler } = setup();
    const { leader, follower } = await stableGroupOfTwo(c);
    await c.sync({ groupId: 'g', generationId: 2, memberId: leader.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    const j3 = c.join(joinReq({ clientId: 'x', rebalanceTimeoutMs: 20_000 }));
    const j1 = c.join(joinReq({ clientId: 'a', memberId: leader.memberId }));
    // The follower keeps heartbeating (told to rejoin) but never does.
    for (let t = 0; t < 29; t++) {
      scheduler.advance(1000);
      if ((await settled(j1)) !== 'pending') break;
      assert.equal(c.heartbeat('g', follower.memberId, null, 2), ErrorCode.REBALANCE_IN_PROGRESS);
    }
    assert.equal(await settled(j1), 'pending');
    scheduler.advance(1000);
    const [r1, r3] = await Promise.all([j1, j3]);
    assert.equal(r1.generationId, 3);
    assert.deepEqual(r1.members.map((m) => m.memberId).sort(), [leader.memberId, r3.memberId].sort());
    assert.equal(c.heartbeat('g', follower.memberId, null, 3), ErrorCode.UNKNOWN_MEMBER_ID);
  });

  test('the leader must sync within the rebalance timeout, or the members that did not sync are removed', async () => {
    const { coordinator: c, scheduler } = setup();
    // A rebalance timeout shorter than the session timeout, so that the sync deadline comes first.
    const { leader, follower } = await stableGroupOfTwo(c, { rebalanceTimeoutMs: 5000 });
    const fs = c.sync({ groupId: 'g', generationId: 2, memberId: follower.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    scheduler.advance(4999);
    assert.equal(await settled(fs), 'pending');
    scheduler.advance(1);
    assert.equal(((await fs) as SyncResult).errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
    assert.equal(c.describe('g').state, 'PreparingRebalance');
    assert.equal(c.heartbeat('g', leader.memberId, null, 2), ErrorCode.UNKNOWN_MEMBER_ID);
    const again = await c.join(joinReq({ clientId: 'b', memberId: follower.memberId, rebalanceTimeoutMs: 5000 }));
    assert.equal(again.generationId, 3);
    assert.equal(again.leaderId, follower.memberId);
  });

  test('the first rebalance of an empty group waits group.initial.rebalance.delay.ms for more members', async () => {
    const { coordinator: c, scheduler } = setup({ initialRebalanceDelayMs: 3000 });
    const j1 = c.join(joinReq({ clientId: 'a' }));
    scheduler.advance(2000);
    const j2 = c.join(joinReq({ clientId: 'b' }));
    scheduler.advance(1000);
    // A member joined during the delay: the wait is extended by another delay.
    assert.equal(await settled(j1), 'pending');
    scheduler.advance(3000);
    const [a, b] = await Promise.all([j1, j2]);
    assert.equal(a.generationId, 1);
    assert.equal(b.generationId, 1);
    assert.equal(a.members.length + b.members.length, 2);
    // Once the group is empty again, its next first join waits the delay out as well.
    c.leave('g', [{ memberId: a.memberId, groupInstanceId: null }, { memberId: b.memberId, groupInstanceId: null }]);
    assert.equal(c.describe('g').state, 'Empty');
    const j3 = c.join(joinReq({ clientId: 'c' }));
    scheduler.advance(2999);
    assert.equal(await settled(j3), 'pending');
    scheduler.advance(1);
    assert.equal((await j3).generationId, 3);
  });

  test('LeaveGroup: the rest rebalance; leaving while a join phase runs completes it without the leaver', async () => {
    const { coordinator: c } = setup();
    const { leader, follower } = await stableGroupOfTwo(c);
    const left = c.leave('g', [{ memberId: leader.memberId, groupInstanceId: null }, { memberId: 'ghost', groupInstanceId: null }]);
    assert.deepEqual(left.members.map((m) => m.errorCode), [ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID]);
    assert.equal(c.describe('g').state, 'PreparingRebalance');
    const r = await c.join(joinReq({ clientId: 'b', memberId: follower.memberId }));
    assert.equal(r.generationId, 3);
    assert.equal(r.leaderId, follower.memberId, 'leadership moves to a remaining member');
    c.leave('g', [{ memberId: follower.memberId, groupInstanceId: null }]);
    assert.equal(c.describe('g').state, 'Empty');
    assert.equal(c.leave('nope', []).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  });

  test('the protocol is chosen by the members\' votes among those all of them support', async () => {
    const { coordinator: c } = setup();
    const p = (...names: string[]) => names.map((name) => ({ name, metadata: meta(name) }));
    const r1 = await c.join(joinReq({ clientId: 'a', protocols: p('cooperative-sticky', 'range', 'roundrobin') }));
    assert.equal(r1.protocolName, 'cooperative-sticky', 'a lone member gets its first choice');
    await c.sync({ groupId: 'g', generationId: 1, memberId: r1.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    const b = c.join(joinReq({ clientId: 'b', protocols: p('range', 'cooperative-sticky') }));
    const cc = c.join(joinReq({ clientId: 'c', protocols: p('range', 'cooperative-sticky') }));
    const a = c.join(joinReq({ clientId: 'a', memberId: r1.memberId, protocols: p('cooperative-sticky', 'range', 'roundrobin') }));
    const all = await Promise.all([a, b, cc]);
    // roundrobin is not shared; range has two votes, cooperative-sticky one.
    for (const r of all) assert.equal(r.protocolName, 'range');
    assert.equal(all.find((r) => r.memberId === r1.memberId)!.members.map((m) => m.metadata.toString()).join(','), 'range,range,range');
  });
});

describe('GroupCoordinator: static membership', () => {
  test('a static member that restarts gets a new id and its assignment back without a rebalance; its old id is fenced', async () => {
    const { coordinator: c, log } = setup();
    const j1 = await c.join(joinReq({ clientId: 'a', groupInstanceId: 'inst-a' }));
    await c.sync({ groupId: 'g', generationId: 1, memberId: j1.memberId, groupInstanceId: 'inst-a', protocolType: null, protocolName: null, assignments: [{ memberId: j1.memberId, assignment: meta('all-of-it') }] });
    const j2p = c.join(joinReq({ clientId: 'b', groupInstanceId: 'inst-b' }));
    const j1b = c.join(joinReq({ clientId: 'a', memberId: j1.memberId, groupInstanceId: 'inst-a' }));
    const [a, b] = await Promise.all([j1b, j2p]);
    await Promise.all([
      c.sync({ groupId: 'g', generationId: 2, memberId: a.memberId, groupInstanceId: 'inst-a', protocolType: null, protocolName: null, assignments: [{ memberId: a.memberId, assignment: meta('A') }, { memberId: b.memberId, assignment: meta('B') }] }),
      c.sync({ groupId: 'g', generationId: 2, memberId: b.memberId, groupInstanceId: 'inst-b', protocolType: null, protocolName: null, assignments: [] }),
    ]);
    const records = log.records.length;
    // inst-b restarts: it joins with no member id and the same instance id.
    const restarted = await c.join(joinReq({ clientId: 'b', groupInstanceId: 'inst-b' }));
    assert.equal(restarted.errorCode, ErrorCode.NONE);
    assert.notEqual(restarted.memberId, b.memberId);
    assert.equal(restarted.generationId, 2, 'no new generation');
    assert.equal(c.describe('g').state, 'Stable');
    assert.ok(log.records.length > records, 'the new member id is persisted');
    const s = await c.sync({ groupId: 'g', generationId: 2, memberId: restarted.memberId, groupInstanceId: 'inst-b', protocolType: null, protocolName: null, assignments: [] });
    assert.equal(s.assignment.toString(), 'B');
    assert.equal(c.heartbeat('g', b.memberId, 'inst-b', 2), ErrorCode.FENCED_INSTANCE_ID);
    assert.equal(c.heartbeat('g', a.memberId, 'inst-a', 2), ErrorCode.NONE, 'the other member saw no rebalance');
    assert.equal((await c.join(joinReq({ memberId: b.memberId, groupInstanceId: 'inst-b' }))).errorCode, ErrorCode.FENCED_INSTANCE_ID);
    const leave = c.leave('g', [{ memberId: b.memberId, groupInstanceId: 'inst-b' }]);
    assert.equal(leave.members[0]!.errorCode, ErrorCode.FENCED_INSTANCE_ID);
  });

  test('a restarted static leader is told to skip the assignment (v9) or answered as a follower (before v9); a new protocol rebalances', async () => {
    const { coordinator: c } = setup();
    const j1 = await c.join(joinReq({ clientId: 'a', groupInstanceId: 'L' }));
    await c.sync({ groupId: 'g', generationId: 1, memberId: j1.memberId, groupInstanceId: 'L', protocolType: null, protocolName: null, assignments: [{ memberId: j1.memberId, assignment: meta('x') }] });
    const again = await c.join(joinReq({ clientId: 'a', groupInstanceId: 'L' }));
    assert.equal(again.generationId, 1);
    assert.equal(again.skipAssignment, true);
    assert.equal(again.leaderId, again.memberId);
    assert.equal(again.members.length, 1);
    // Before JoinGroup v9 the restarted leader is answered as a follower, with the id it replaced.
    const old = await c.join(joinReq({ clientId: 'a', groupInstanceId: 'L', supportsSkipAssignment: false }));
    assert.deepEqual([old.generationId, old.skipAssignment, old.leaderId, old.members.length], [1, false, again.memberId, 0]);
    const s = await c.sync({ groupId: 'g', generationId: 1, memberId: old.memberId, groupInstanceId: 'L', protocolType: null, protocolName: null, assignments: [] });
    assert.equal(s.assignment.toString(), 'x');
    // As in Kafka, new metadata alone does not rebalance a stable group; a change of the
    // protocol the group would choose does.
    const newMetadata = await c.join(joinReq({ clientId: 'a', groupInstanceId: 'L', protocols: [{ name: 'range', metadata: meta('other topics') }] }));
    assert.equal(newMetadata.generationId, 1);
    const changed = c.join(joinReq({ clientId: 'a', groupInstanceId: 'L', protocols: [{ name: 'roundrobin', metadata: meta('x') }, { name: 'range', metadata: meta('x') }] }));
    const r = await changed;
    assert.deepEqual([r.generationId, r.protocolName], [2, 'roundrobin']);
  });
});

describe('GroupCoordinator: offsets', () => {
  const commit = (c: GroupCoordinator, over: Partial<Parameters<GroupCoordinator['commitOffsets']>[0]> = {}) =>
    c.commitOffsets({ groupId: 'g', generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1, offsets: [{ topic: 't', partition: 0, offset: 42n, leaderEpoch: 3, metadata: 'm' }], ...over });

  test('commits outside any generation work for groups without members; fetch returns offset, epoch and metadata', async () => {
    const { coordinator: c } = setup();
    assert.deepEqual((await commit(c)).map((r) => r.errorCode), [ErrorCode.NONE]);
    assert.deepEqual(c.fetchOffsets('g', [{ topic: 't', partitions: [0, 1] }]), [
      { topic: 't', partition: 0, offset: 42n, leaderEpoch: 3, metadata: 'm' },
      { topic: 't', partition: 1, offset: -1n, leaderEpoch: -1, metadata: '' },
    ]);
    assert.deepEqual(c.fetchOffsets('g', null).map((o) => o.offset), [42n]);
    assert.deepEqual(c.fetchOffsets('other', null), []);
  });

  test('commits are checked against membership: unknown member, stale generation, rebalance in progress, fenced instance', async () => {
    const { coordinator: c } = setup();
    const { leader, follower } = await stableGroupOfTwo(c);
    assert.equal((await commit(c))[0]!.errorCode, ErrorCode.REBALANCE_IN_PROGRESS, 'the group is completing a rebalance');
    await c.sync({ groupId: 'g', generationId: 2, memberId: leader.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    assert.equal((await commit(c))[0]!.errorCode, ErrorCode.UNKNOWN_MEMBER_ID, 'generation -1 while the group has members');
    assert.equal((await commit(c, { generationId: 2, memberId: 'nobody' }))[0]!.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    assert.equal((await commit(c, { generationId: 1, memberId: follower.memberId }))[0]!.errorCode, ErrorCode.ILLEGAL_GENERATION);
    assert.equal((await commit(c, { generationId: 2, memberId: follower.memberId }))[0]!.errorCode, ErrorCode.NONE);
    assert.equal((await commit(c, { groupId: 'fresh', generationId: 5, memberId: 'm' }))[0]!.errorCode, ErrorCode.ILLEGAL_GENERATION);
    const big = 'x'.repeat(4097);
    const r = await commit(c, { generationId: 2, memberId: follower.memberId, offsets: [{ topic: 't', partition: 0, offset: 1n, leaderEpoch: -1, metadata: big }, { topic: 't', partition: 1, offset: 1n, leaderEpoch: -1, metadata: '' }] });
    assert.deepEqual(r.map((x) => x.errorCode), [ErrorCode.OFFSET_METADATA_TOO_LARGE, ErrorCode.NONE]);
  });

  test('a commit is acknowledged only after its record is written; a failed write is COORDINATOR_NOT_AVAILABLE and changes nothing', async () => {
    const { coordinator: c, log } = setup();
    log.failNext = true;
    assert.equal((await commit(c))[0]!.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    assert.equal(c.fetchOffsets('g', [{ topic: 't', partitions: [0] }])[0]!.offset, -1n);
    assert.equal((await commit(c))[0]!.errorCode, ErrorCode.NONE);
    assert.equal(log.records.length, 1);
  });

  test('a commit whose write takes longer than offsets.commit.timeout.ms is REQUEST_TIMED_OUT, and still applied once written', async () => {
    const { coordinator: c, log, scheduler } = setup();
    let unstall: () => void = () => undefined;
    log.stall = new Promise((resolve) => (unstall = resolve));
    const pending = commit(c);
    await settled(pending);
    scheduler.advance(5000);
    assert.equal((await pending)[0]!.errorCode, ErrorCode.REQUEST_TIMED_OUT);
    assert.equal(c.fetchOffsets('g', [{ topic: 't', partitions: [0] }])[0]!.offset, -1n);
    log.stall = null;
    unstall();
    await settled(Promise.resolve());
    assert.equal(c.fetchOffsets('g', [{ topic: 't', partitions: [0] }])[0]!.offset, 42n, 'the log has it, so the coordinator does');
  });

  test('replaying the records rebuilds offsets (with metadata and leader epochs), stable groups and their members; tombstones delete', async () => {
    const { coordinator: c, log, scheduler } = setup();
    const { leader, follower } = await stableGroupOfTwo(c);
    await c.sync({ groupId: 'g', generationId: 2, memberId: leader.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [{ memberId: follower.memberId, assignment: meta('F') }] });
    await commit(c, { generationId: 2, memberId: follower.memberId });
    await commit(c, { groupId: 'solo' });
    await commit(c, { groupId: 'doomed' });
    assert.deepEqual(await c.deleteGroups(['doomed', 'g', 'missing']), [
      { groupId: 'doomed', errorCode: ErrorCode.NONE },
      { groupId: 'g', errorCode: ErrorCode.NON_EMPTY_GROUP },
      { groupId: 'missing', errorCode: ErrorCode.GROUP_ID_NOT_FOUND },
    ]);
    const restarted = new GroupCoordinator({ config: CONFIG, log, scheduler });
    log.replayInto(restarted);
    restarted.startSessions();
    assert.deepEqual(restarted.fetchOffsets('g', [{ topic: 't', partitions: [0] }]), [{ topic: 't', partition: 0, offset: 42n, leaderEpoch: 3, metadata: 'm' }]);
    assert.deepEqual(restarted.fetchOffsets('solo', null).map((o) => o.offset), [42n]);
    assert.deepEqual(restarted.fetchOffsets('doomed', null), []);
    const d = restarted.describe('g');
    assert.equal(d.state, 'Stable');
    assert.equal(d.generationId, 2);
    assert.equal(d.leaderId, leader.memberId);
    assert.deepEqual(d.members.map((m) => [m.memberId, m.assignment.toString()]).sort(), [[follower.memberId, 'F'], [leader.memberId, '']].sort());
    // The loaded members must keep heartbeating, as after a coordinator failover in Kafka.
    scheduler.advance(5000);
    assert.equal(restarted.heartbeat('g', follower.memberId, null, 2), ErrorCode.NONE);
    scheduler.advance(5000);
    assert.equal(restarted.describe('g').state, 'PreparingRebalance', 'the leader never came back: its session ended');
    assert.equal(restarted.heartbeat('g', leader.memberId, null, 2), ErrorCode.UNKNOWN_MEMBER_ID);
  });

  test('offsets of an empty group expire offsets.retention after it became empty; offsets of live groups never do', async () => {
    const { coordinator: c, scheduler, log } = setup({ offsetsRetentionMs: 60_000 });
    await commit(c, { groupId: 'standalone' });
    const { leader, follower } = await stableGroupOfTwo(c);
    await c.sync({ groupId: 'g', generationId: 2, memberId: leader.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    await commit(c, { generationId: 2, memberId: follower.memberId });
    advanceHeartbeating(c, scheduler, 30_000, [leader.memberId, follower.memberId], 2);
    await commit(c, { groupId: 'standalone', offsets: [{ topic: 't', partition: 1, offset: 7n, leaderEpoch: -1, metadata: null }] });
    advanceHeartbeating(c, scheduler, 30_000, [leader.memberId, follower.memberId], 2);
    // 60 s after the first commit: the standalone group's first offset expires, not its second.
    assert.equal(await c.expireOffsets(), 1);
    assert.deepEqual(c.fetchOffsets('standalone', null).map((o) => o.partition), [1]);
    assert.deepEqual(c.fetchOffsets('g', null).map((o) => o.offset), [42n], 'the live group keeps its offsets');
    c.leave('g', [{ memberId: leader.memberId, groupInstanceId: null }, { memberId: follower.memberId, groupInstanceId: null }]);
    assert.equal(c.describe('g').state, 'Empty');
    scheduler.advance(59_000);
    // 90 s: the standalone group's second offset expired, and with it the group.
    assert.equal(await c.expireOffsets(), 1);
    assert.deepEqual(c.groupIds(), ['g']);
    assert.deepEqual(c.fetchOffsets('g', null).map((o) => o.offset), [42n], 'g has been empty for 59 s only');
    scheduler.advance(1_000);
    assert.equal(await c.expireOffsets(), 1);
    assert.equal(c.describe('g').state, 'Dead', 'an empty group without offsets is deleted');
    assert.deepEqual(c.groupIds(), []);
    const tombstones = log.records.filter((r) => r.value === null).length;
    assert.equal(tombstones, 5, 'three offsets and two groups');
  });

  test('offsets committed with their own retention (OffsetCommit v2–v4) expire at that time', async () => {
    const { coordinator: c, scheduler } = setup();
    await commit(c, { retentionTimeMs: 5000 });
    scheduler.advance(4999);
    assert.equal(await c.expireOffsets(), 0);
    scheduler.advance(1);
    assert.equal(await c.expireOffsets(), 1);
  });

  test('OffsetDelete keeps offsets of topics the members subscribe to', async () => {
    const { coordinator: c } = setup();
    await commit(c, { groupId: 'solo', offsets: [{ topic: 'a', partition: 0, offset: 1n, leaderEpoch: -1, metadata: '' }, { topic: 'b', partition: 0, offset: 2n, leaderEpoch: -1, metadata: '' }] });
    const r = await c.deleteOffsets('solo', [{ topic: 'a', partition: 0 }], () => new Set(['a']));
    assert.equal(r.errorCode, ErrorCode.NONE);
    assert.deepEqual(c.fetchOffsets('solo', null).map((o) => o.topic), ['b']);
    assert.equal((await c.deleteOffsets('missing', [], () => new Set())).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
    const { leader } = await stableGroupOfTwo(c);
    await c.sync({ groupId: 'g', generationId: 2, memberId: leader.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    const live = await c.deleteOffsets('g', [{ topic: 'a', partition: 0 }, { topic: 'z', partition: 0 }], () => new Set(['a']));
    assert.deepEqual(live.partitions.map((p) => p.errorCode), [ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC, ErrorCode.NONE]);
  });

  test('ListGroups filters by state; DescribeGroups of an unknown group says Dead', async () => {
    const { coordinator: c } = setup();
    await commit(c, { groupId: 'solo' });
    await c.join(joinReq());
    assert.deepEqual(c.list([]).map((g) => [g.groupId, g.state]).sort(), [['g', 'CompletingRebalance'], ['solo', 'Empty']]);
    assert.deepEqual(c.list(['empty']).map((g) => g.groupId), ['solo']);
    assert.equal(c.describe('nope').state, 'Dead');
  });

  test('the coordinator holds at most ferry.groups.max groups', async () => {
    const { coordinator: c } = setup({ groupsMax: 2 });
    await commit(c, { groupId: 'a' });
    await commit(c, { groupId: 'b' });
    assert.equal((await commit(c, { groupId: 'c' }))[0]!.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    assert.equal((await c.join(joinReq({ groupId: 'd' }))).errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
  });
});


// Consumer groups with confluent-kafka-python 1.7.0 on librdkafka 2.0.2 (Debian
// python3-confluent-kafka) against a Ferry broker process; members are py/group_member.py
// processes (subscribe, commit synchronously after each poll and in the revoke callback).
//
// - cooperative-sticky: a second member joining takes half the partitions by an incremental
//   rebalance: the first member gives up only the partitions that move and keeps consuming the
//   others; the group commits every message, each consumed once.
// - static membership (group.instance.id): a follower, then the leader, is killed and restarted
//   within its session timeout; each gets its assignment back without a rebalance (same
//   generation in the group's records, no callback and no new rebalance in the other member)
//   and resumes at its commits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rawEndOffsets } from './harness.js';
import {
  type MemberProcess,
  checkDeliveries,
  committedOffsets,
  createTopic,
  describeGroup,
  describeGroups,
  produceNumbered,
  startPythonMember,
  storedGenerations,
  waitForCommitted,
  waitForDistinct,
  waitForStableGroup,
  withTimeline,
} from './group-members.js';

const PARTITIONS = 6;
const ALL = [0, 1, 2, 3, 4, 5];

describeGroups('consumer groups: confluent-kafka (librdkafka) against a Ferry broker process', (bed) => {
  test('cooperative-sticky: a joining member takes partitions by an incremental rebalance; every message consumed once and committed', { timeout: 90_000 }, async (t) => {
    const f = bed.broker;
    const topic = 'confluent-coop';
    const group = 'confluent-coop';
    const t0 = Date.now();
    await createTopic(f.bootstrap, topic, PARTITIONS);
    await produceNumbered(f.bootstrap, topic, PARTITIONS, 0, 3000, 600);
    const config = { 'partition.assignment.strategy': 'cooperative-sticky', 'session.timeout.ms': 6000, 'heartbeat.interval.ms': 500 };
    const start = async (name: string): Promise<MemberProcess> => {
      const [m] = bed.add(await startPythonMember(name, { client: 'confluent-kafka', bootstrap: f.bootstrap, topic, group, config: { ...config, 'client.id': name } }));
      return m!;
    };
    const a = await start('coop-a');
    const ready = a.events.find((e) => e.e === 'ready')!;
    t.diagnostic(`confluent-kafka ${String(ready['version'])} on ${String(ready['lib'])}`);
    await a.waitFor((e) => e.e === 'assign' && (e['partitions'] as number[]).length === PARTITIONS, 30_000, 'all partitions assigned');
    await a.waitFor((e) => e.e === 'c', 30_000, 'a commit');
    const b = await start('coop-b');
    const joinedAt = Date.now();
    const stable = await waitForStableGroup(f.port, group, topic, 2, 30_000);
    await b.waitFor((e) => e.e === 'assign' && (e['partitions'] as number[]).length > 0, 30_000, 'partitions assigned');
    await produceNumbered(f.bootstrap, topic, PARTITIONS, 3000, 6000, 600);
    const ends = await rawEndOffsets(f.port, topic, PARTITIONS);
    await waitForCommitted(f.port, group, topic, ends, 30_000);
    // The members report what they processed; the last lines may still be on their way.
    await waitForDistinct([a, b], 6000, 10_000);

    assert.equal(stable.protocol, 'cooperative-sticky');
    const report = withTimeline([a, b], t0, () => checkDeliveries([...a.deliveries, ...b.deliveries], { topicPartitions: PARTITIONS, count: 6000 }));
    // Incremental: the first member revoked only what moved to the second, never everything.
    const revokes = a.events.filter((e) => e.e === 'revoke' && e.at >= joinedAt).map((e) => e['partitions'] as number[]);
    const moved = revokes.flat().sort((x, y) => x - y);
    const kept = a.assignment();
    withTimeline([a, b], t0, () => {
      assert.equal(moved.length, 3, `coop-a revoked ${JSON.stringify(revokes)}`);
      assert.deepEqual(b.assignment(), moved, 'coop-b got exactly the partitions coop-a gave up');
      assert.deepEqual([...kept, ...moved].sort((x, y) => x - y), ALL);
      // coop-a kept consuming its other partitions: it was never left with nothing assigned.
      assert.ok(
        !a.events.some((e) => e.e === 'revoke' && (e['partitions'] as number[]).length === PARTITIONS),
        'coop-a never gave up all its partitions (an eager rebalance would)',
      );
    });
    // The broker stored generations as the assignments changed: the last one has both members.
    const gens = await storedGenerations(f.port, group, topic);
    const last = gens[gens.length - 1]!;
    assert.equal(last.protocol, 'cooperative-sticky');
    assert.deepEqual(last.members.flatMap((m) => m.assignment).sort((x, y) => x - y), ALL);
    t.diagnostic(
      `6000 messages each consumed once (coop-a ${report.perMember.get('coop-a')}, coop-b ${report.perMember.get('coop-b')}); coop-a revoked only ${JSON.stringify(moved)} and kept ${JSON.stringify(kept)}; ` +
        `generations stored: ${gens.map((g) => `${g.generation} ${JSON.stringify(g.members.map((m) => m.assignment))}`).join(', ')}`,
    );
    await Promise.all([a.stop(), b.stop()]);
    assert.equal((await describeGroup(f.port, group, topic)).state, 'Empty', 'both members left (LeaveGroup)');
  });

  // Static membership: two members with group.instance.id; each in turn is killed and restarted.
  const staticTopic = 'confluent-static';
  const staticGroup = 'confluent-static';
  const session = 10_000;
  let produced = 0;
  const live = new Map<string, MemberProcess>();
  /** Every incarnation of the static members, killed ones included. */
  const staticMembers = (): MemberProcess[] => bed.members.filter((m) => m.name.startsWith('static-'));

  const startStatic = async (name: string, debug = false): Promise<MemberProcess> => {
    const [m] = bed.add(
      await startPythonMember(name, {
        client: 'confluent-kafka',
        bootstrap: bed.broker.bootstrap,
        topic: staticTopic,
        group: staticGroup,
        stats_ms: 100,
        config: { 'group.instance.id': name, 'client.id': name, 'session.timeout.ms': session, 'heartbeat.interval.ms': 500, ...(debug ? { debug: 'cgrp' } : {}) },
      }),
    );
    live.set(name, m!);
    return m!;
  };

  const produceAndDrain = async (count: number): Promise<void> => {
    const f = bed.broker;
    await produceNumbered(f.bootstrap, staticTopic, PARTITIONS, produced, produced + count, 600);
    produced += count;
    await waitForCommitted(f.port, staticGroup, staticTopic, await rawEndOffsets(f.port, staticTopic, PARTITIONS), 30_000);
    await waitForDistinct(staticMembers(), produced, 10_000);
  };

  /**
   * Kills the member that is (or is not) the group's leader, restarts it with the same
   * group.instance.id and checks that it gets its partitions back without a rebalance: same
   * generation in the group's records, the other member untouched, resumed at the commits.
   */
  const restartStatic = async (which: 'leader' | 'follower'): Promise<string> => {
    const f = bed.broker;
    const t0 = Date.now();
    const before = await waitForStableGroup(f.port, staticGroup, staticTopic, 2, 30_000);
    const gensBefore = await storedGenerations(f.port, staticGroup, staticTopic);
    const current = gensBefore[gensBefore.length - 1]!;
    const [nameA, nameB] = [...live.keys()] as [string, string];
    const leaderName = before.members.find((m) => m.memberId === current.leader)?.groupInstanceId;
    assert.ok(leaderName === nameA || leaderName === nameB, `leader ${current.leader} is not a member: ${JSON.stringify(before.members)}`);
    const victimName = which === 'leader' ? leaderName : leaderName === nameA ? nameB : nameA;
    const victim = live.get(victimName)!;
    const other = live.get(victimName === nameA ? nameB : nameA)!;
    const victimBefore = before.members.find((m) => m.groupInstanceId === victimName)!;
    const otherBefore = before.members.find((m) => m.groupInstanceId === other.name)!;
    const otherRebalances = (): number => Math.max(-1, ...other.events.filter((e) => e.e === 'cgrp').map((e) => e['rebalance_cnt'] as number));
    await other.waitFor((e) => e.e === 'cgrp' && e['join_state'] === 'steady', 10_000, 'steady');
    const otherCount = otherRebalances();
    const committedBefore = await committedOffsets(f.port, staticGroup, staticTopic, PARTITIONS);

    // The process dies (a static member sends no LeaveGroup anyway) and comes back at once.
    await victim.kill();
    const killedAt = Date.now();
    const mark = other.events.length;
    // With librdkafka's cgrp debug log, to see the JoinGroup answer it gets.
    const restarted = await startStatic(victimName, true);
    const assigned = await restarted.waitFor((e) => e.e === 'assign', session, 'its assignment back');
    const joinResponses = restarted.events.filter((e) => e.e === 'joinresponse').map((e) => e['text'] as string);
    const backMs = assigned.at - killedAt;
    await produceAndDrain(1200);
    const after = await describeGroup(f.port, staticGroup, staticTopic);
    const gensAfter = await storedGenerations(f.port, staticGroup, staticTopic);

    withTimeline([victim, other, restarted], t0, () => {
      assert.deepEqual(assigned['partitions'], victimBefore.assignment, 'the restarted member gets the same partitions');
      assert.ok(backMs < session, `the assignment came back ${backMs} ms after the kill; session timeout ${session} ms`);
      for (const p of victimBefore.assignment) {
        const first = Math.min(...restarted.deliveries.filter((d) => d.p === p).map((d) => d.o));
        assert.equal(first, committedBefore[p], `partition ${p}: the restarted member resumed at ${first}, its commit was ${committedBefore[p]}`);
      }
      assert.equal(after.state, 'Stable');
      assert.equal(after.members.length, 2);
      const otherAfter = after.members.find((m) => m.groupInstanceId === other.name)!;
      assert.equal(otherAfter.memberId, otherBefore.memberId, 'the other member kept its member id');
      assert.deepEqual(otherAfter.assignment, otherBefore.assignment);
      const victimAfter = after.members.find((m) => m.groupInstanceId === victimName)!;
      assert.notEqual(victimAfter.memberId, victimBefore.memberId, 'the restarted member has a new member id');
      assert.deepEqual(victimAfter.assignment, victimBefore.assignment);
      // No rebalance: every record written since carries the same generation.
      const newer = gensAfter.slice(gensBefore.length);
      assert.ok(newer.length >= 1, 'the new member id is recorded in the group metadata');
      for (const g of newer) assert.equal(g.generation, current.generation, `a record of generation ${g.generation} after the restart; before: ${current.generation}`);
      assert.ok(newer[newer.length - 1]!.members.some((m) => m.memberId === victimAfter.memberId));
      // librdkafka 2.0.2 sends JoinGroup v5, which has no SkipAssignment: Kafka then answers a
      // rejoining static leader with the old leader id and no member metadata, so that it syncs
      // as a follower instead of running its assignor (whose result a Stable group ignores).
      assert.equal(joinResponses.length, 1, `JoinGroup responses: ${JSON.stringify(joinResponses)}`);
      const kafkaDoes = `below JoinGroup v9, Kafka answers a restarted static member with the current leader id (the leader's old member id) and no member metadata; got "${joinResponses[0]}"`;
      assert.match(joinResponses[0]!, /member metadata count 0\b/, kafkaDoes);
      assert.doesNotMatch(joinResponses[0]!, /\(me\)/, kafkaDoes);
      const callbacks = other.events.slice(mark).filter((e) => e.e === 'assign' || e.e === 'revoke' || e.e === 'lost');
      assert.deepEqual(callbacks, [], `${other.name} saw rebalance callbacks after the restart`);
      assert.equal(otherRebalances(), otherCount, `${other.name}'s librdkafka counted a rebalance (cgrp.rebalance_cnt)`);
    });
    return (
      `${victimName} (${which}, ${JSON.stringify(victimBefore.assignment)}) killed and restarted: assignment back ${backMs} ms after the kill ` +
      `(session timeout ${session} ms), generation still ${current.generation}, ${other.name} saw no rebalance, resumed at the committed offsets`
    );
  };

  test('static membership: a follower restarts within its session timeout and gets its assignment back without a rebalance', { timeout: 90_000 }, async (t) => {
    const f = bed.broker;
    await createTopic(f.bootstrap, staticTopic, PARTITIONS);
    await Promise.all([startStatic('static-1'), startStatic('static-2')]);
    await waitForStableGroup(f.port, staticGroup, staticTopic, 2, 30_000);
    await Promise.all([...live.values()].map((m) => m.waitFor((e) => e.e === 'assign', 30_000, 'assignment')));
    await produceAndDrain(3000);
    t.diagnostic(await restartStatic('follower'));
  });

  test('static membership: the leader restarts within its session timeout and gets its assignment back without a rebalance', { timeout: 90_000 }, async (t) => {
    // JoinGroup below v9 (librdkafka 2.0.2 sends v5) has no SkipAssignment: Kafka answers the
    // restarted leader with the old leader id and no members, so it syncs as a follower and gets
    // its stored assignment back (GroupCoordinator.updateStaticMemberAndRebalance).
    assert.equal(live.size, 2, 'the previous test left two static members');
    t.diagnostic(await restartStatic('leader'));
    // All messages, from every incarnation, each consumed once.
    checkDeliveries(staticMembers().flatMap((m) => m.deliveries), { topicPartitions: PARTITIONS, count: produced });
    await Promise.all([...live.values()].map((m) => m.stop()));
  });
});

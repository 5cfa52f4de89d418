// Consumer groups with kafkajs (npm) against a Ferry broker process: three kafkajs consumers
// (child processes, groups/kafkajs-member.ts) share a 6-partition topic in one group.
//
// Half of the 30,000 messages are there before the members start; the members start one after
// the other, each once the previous one is consuming, so the group rebalances twice while
// messages are being processed; the other half is produced while they consume. kafkajs commits
// after every batch and before it rejoins, so with nothing failing every message is processed
// exactly once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rawEndOffsets } from './harness.js';
import {
  type MemberProcess,
  checkDeliveries,
  createTopic,
  describeGroup,
  describeGroups,
  produceNumbered,
  startKafkajsMember,
  waitForCommitted,
  waitForDistinct,
  waitForStableGroup,
  withTimeline,
} from './group-members.js';

const PARTITIONS = 6;
const COUNT = 30_000;

describeGroups('consumer groups: kafkajs against a Ferry broker process', (bed) => {
  test('three kafkajs consumers in one group read 30,000 messages of 6 partitions, each exactly once', { timeout: 120_000 }, async (t) => {
    const f = bed.broker;
    const topic = 'kafkajs-group';
    const groupId = 'kafkajs-three';
    await createTopic(f.bootstrap, topic, PARTITIONS);
    await produceNumbered(f.bootstrap, topic, PARTITIONS, 0, COUNT / 2);
    const started = Date.now();
    // Slowed down a little (1 ms every 8 messages) so that the later members join mid-stream.
    const start = async (name: string): Promise<MemberProcess> =>
      bed.add(await startKafkajsMember(name, { bootstrap: f.bootstrap, topic, groupId, maxBytesPerPartition: 16_384, processDelayMs: 1, processDelayEvery: 8 }))[0]!;
    const a = await start('kafkajs-a');
    t.diagnostic(`kafkajs ${String(a.events.find((e) => e.e === 'ready')!['version'])}`);
    const producing = produceNumbered(f.bootstrap, topic, PARTITIONS, COUNT / 2, COUNT);
    await a.waitFor((e) => e.e === 'm', 20_000, 'first message');
    const b = await start('kafkajs-b');
    await b.waitFor((e) => e.e === 'm', 20_000, 'first message');
    const c = await start('kafkajs-c');
    const members = [a, b, c];
    await producing;
    const ends = await rawEndOffsets(f.port, topic, PARTITIONS);
    assert.deepEqual(ends, Array.from({ length: PARTITIONS }, () => COUNT / PARTITIONS));

    await waitForDistinct(members, COUNT, 60_000);
    const consumedMs = Date.now() - started;
    // Every processed offset gets committed (kafkajs commits after each batch).
    await waitForCommitted(f.port, groupId, topic, ends, 20_000);
    const group = await waitForStableGroup(f.port, groupId, topic, 3, 20_000);

    const report = withTimeline(members, started, () => checkDeliveries(members.flatMap((m) => m.deliveries), { topicPartitions: PARTITIONS, count: COUNT }));
    assert.equal(report.total, COUNT, 'nothing consumed twice');
    const atJoinOfC = c.events.find((e) => e.e === 'join')!.at;
    const remaining = COUNT - members.flatMap((m) => m.deliveries).filter((d) => d.at < atJoinOfC).length;
    assert.ok(remaining > 0, 'the last member joined before everything was consumed');

    // The broker's view and the members' own agree: three members, disjoint assignments covering the 6 partitions.
    assert.equal(group.protocolType, 'consumer');
    const fromBroker = group.members.flatMap((m) => m.assignment).sort((x, y) => x - y);
    assert.deepEqual(fromBroker, [0, 1, 2, 3, 4, 5], `assignments ${JSON.stringify(group.members)}`);
    for (const m of members) {
      const own = m.assignment();
      const brokerSide = group.members.find((x) => x.clientId === m.name);
      assert.ok(brokerSide !== undefined, `${m.name} is not a member: ${JSON.stringify(group.members)}`);
      assert.deepEqual(own, brokerSide.assignment, `${m.name}'s assignment as it saw it vs as the broker stored it`);
      assert.equal(own.length, 2, `${m.name} has ${JSON.stringify(own)}`);
    }
    const joins = members.map((m) => m.events.filter((e) => e.e === 'join').length);
    // The members joined one by one while messages were being processed: a rebalanced twice.
    assert.ok(joins[0]! >= 3, `kafkajs-a joined ${joins[0]} generations; expected one per arrival`);
    assert.ok(members.every((m) => m.deliveries.length > 0), 'every member consumed');
    t.diagnostic(
      `${COUNT} messages in ${consumedMs} ms, each once; per member ${[...report.perMember].map(([n, k]) => `${n} ${k}`).join(', ')}; ` +
        `joins per member ${joins.join('/')}; protocol ${group.protocol}; assignments ${group.members.map((m) => `${m.clientId} ${JSON.stringify(m.assignment)}`).join(', ')}`,
    );

    // Leaving: each member sends LeaveGroup on disconnect; the last one leaves the group Empty.
    await Promise.all(members.map((m) => m.stop()));
    const final = await describeGroup(f.port, groupId, topic);
    assert.equal(final.state, 'Empty');
    assert.equal(final.members.length, 0);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Admin } from '../../src/client/admin.js';
import type { AssignorName } from '../../src/client/assignors.js';
import { Consumer } from '../../src/client/consumer.js';
import { Producer } from '../../src/client/producer.js';
import type { TopicPartition } from '../../src/client/record-types.js';
import { stringSerde } from '../../src/client/serializers.js';
import { type TestBroker, startTestBroker, uniqueTopic, waitFor } from './test-broker.js';

describe('consumer groups against a real broker', () => {
  let tb: TestBroker;
  let admin: Admin;
  let producer: Producer<string | null, string | null>;
  const open: Array<Consumer<string | null, string | null>> = [];

  before(async () => {
    tb = await startTestBroker();
    admin = new Admin({ bootstrapServers: tb.bootstrap });
    producer = new Producer({ bootstrapServers: tb.bootstrap, keySerializer: stringSerde(), valueSerializer: stringSerde() });
  });

  after(async () => {
    await Promise.all(open.map((c) => c.close()));
    await producer.close();
    await admin.close();
    await tb.close();
  });

  function groupConsumer(groupId: string, assignors: AssignorName[], events: string[] = [], extra: Record<string, unknown> = {}) {
    const consumer = new Consumer<string | null, string | null>({
      bootstrapServers: tb.bootstrap,
      groupId,
      assignors,
      keyDeserializer: stringSerde(),
      valueDeserializer: stringSerde(),
      heartbeatIntervalMs: 100,
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      fetchMaxWaitMs: 50,
      autoOffsetReset: 'earliest',
      onPartitionsAssigned: (tps) => void events.push(`assigned ${show(tps)}`),
      onPartitionsRevoked: (tps) => void events.push(`revoked ${show(tps)}`),
      ...extra,
    });
    open.push(consumer);
    return consumer;
  }

  const show = (tps: TopicPartition[]): string =>
    tps
      .map((tp) => `${tp.topic.split('-')[0]}-${tp.partition}`)
      .sort()
      .join(',');

  async function closeAll(...consumers: Array<Consumer<string | null, string | null>>): Promise<void> {
    for (const c of consumers) {
      await c.close();
      open.splice(open.indexOf(c), 1);
    }
  }

  /** Every partition owned by exactly one consumer, and the union is all of them. */
  function assertPartitioned(consumers: Array<Consumer<string | null, string | null>>, partitions: number): void {
    const owned = consumers.flatMap((c) => c.assignment().map((tp) => tp.partition)).sort((a, b) => a - b);
    assert.deepEqual(owned, Array.from({ length: partitions }, (_, i) => i));
  }

  async function settled(consumers: Array<Consumer<string | null, string | null>>, partitions: number, perConsumer: (i: number) => number): Promise<void> {
    await waitFor(
      () => consumers.every((c, i) => c.assignment().length === perConsumer(i)) && consumers.flatMap((c) => c.assignment()).length === partitions,
      'the group to settle',
    );
    assertPartitioned(consumers, partitions);
  }

  for (const assignor of ['range', 'roundrobin', 'cooperative-sticky'] as AssignorName[]) {
    test(`${assignor}: three consumers share the partitions, and take them back as they leave`, async () => {
      const topic = uniqueTopic(`grp${assignor.replace('-', '')}`);
      await admin.createTopics([{ name: topic, partitions: 6 }]);
      const groupId = uniqueTopic(`group-${assignor}`);
      const events: string[][] = [[], [], []];
      const c1 = groupConsumer(groupId, [assignor], events[0]);
      await c1.subscribe(topic);
      assert.equal(c1.assignment().length, 6);
      assert.equal(c1.groupGeneration()!.protocolName, assignor);
      const c2 = groupConsumer(groupId, [assignor], events[1]);
      await c2.subscribe(topic);
      await settled([c1, c2], 6, () => 3);
      const c3 = groupConsumer(groupId, [assignor], events[2]);
      await c3.subscribe(topic);
      await settled([c1, c2, c3], 6, () => 2);
      if (assignor === 'cooperative-sticky') {
        // Cooperative: c1 only ever gave up partitions that moved, never the ones it kept.
        const revoked = new Set(events[0]!.filter((e) => e.startsWith('revoked')).flatMap((e) => e.slice('revoked '.length).split(',')));
        assert.ok(revoked.size > 0, 'c1 handed partitions over');
        for (const tp of c1.assignment()) assert.ok(!revoked.has(show([tp])), `c1 kept ${tp.partition} throughout`);
      } else {
        assert.ok(events[0]!.some((e) => e.startsWith('revoked')), 'eager: everything is revoked before a rebalance');
      }
      await closeAll(c3);
      await settled([c1, c2], 6, () => 3);
      await closeAll(c2);
      await settled([c1], 6, () => 6);
      await closeAll(c1);
    });
  }

  test('every record is consumed once across a rebalance, and commits survive the consumers', async () => {
    const topic = uniqueTopic('commits');
    await admin.createTopics([{ name: topic, partitions: 4 }]);
    const groupId = uniqueTopic('group-commits');
    await Promise.all(Array.from({ length: 200 }, (_, i) => producer.send({ topic, key: `k${i}`, value: `v${i}` })));
    const seen: string[] = [];
    const c1 = groupConsumer(groupId, ['range'], [], { autoCommitIntervalMs: 100 });
    await c1.subscribe(topic);
    // The first consumer is slow, so the second joins while it is halfway through.
    const loop1 = (async () => {
      for await (const m of c1) {
        seen.push(m.value!);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await waitFor(() => seen.length >= 20, 'the first consumer to start');
    const c2 = groupConsumer(groupId, ['range'], [], { autoCommitIntervalMs: 100 });
    await c2.subscribe(topic);
    const loop2 = (async () => {
      for await (const m of c2) seen.push(m.value!);
    })();
    await waitFor(() => new Set(seen).size === 200, 'all records');
    assert.ok(c2.groupGeneration()!.generationId > c1.groupGeneration()!.generationId - 1 && c2.assignment().length > 0, 'the second consumer took over partitions');
    await closeAll(c1, c2);
    await Promise.all([loop1, loop2]);
    assert.equal(new Set(seen).size, 200);
    // Revocations commit before partitions move, so nothing is read twice.
    assert.equal(seen.length, 200, 'no record consumed twice');

    const offsets = await admin.fetchGroupOffsets(groupId, [topic]);
    const total = offsets.reduce((n, o) => n + o.offset, 0n);
    assert.equal(total, 200n, 'the committed offsets cover every record');
    // A new member starts where the group left off: it sees only new records.
    await producer.send({ topic, key: 'late', value: 'late' });
    const c3 = groupConsumer(groupId, ['range']);
    await c3.subscribe(topic);
    const next = await c3.nextMessage();
    assert.equal(next!.value, 'late');
    await closeAll(c3);
  });

  test('a consumer closed while its JoinGroup waits for a rebalance leaves the group at once', async () => {
    const topic = uniqueTopic('joinclose');
    await admin.createTopics([{ name: topic, partitions: 2 }]);
    const groupId = uniqueTopic('group-joinclose');
    const describe = async () => (await admin.describeGroups([groupId]))[0]!;
    // c1 heartbeats only every 2 s, so the rebalance c2 starts waits that long for c1 to rejoin.
    const c1 = groupConsumer(groupId, ['range'], [], { heartbeatIntervalMs: 2000 });
    await c1.subscribe(topic);
    // A session longer than the test: a c2 left in the group would stay there (and own partitions) until it expires.
    const c2 = groupConsumer(groupId, ['range'], [], { sessionTimeoutMs: 120_000, rebalanceTimeoutMs: 120_000 });
    const joined = c2.subscribe(topic).then(
      () => 'joined',
      () => 'gave up',
    );
    await waitFor(async () => {
      const d = await describe();
      return d.state === 'PreparingRebalance' && d.members.length === 2;
    }, 'c2 to wait in its JoinGroup');
    const started = Date.now();
    await closeAll(c2);
    assert.ok(Date.now() - started < 4000, `close took ${Date.now() - started} ms`);
    assert.equal(await joined, 'gave up');
    // c1 rejoins at its next heartbeat, and the new generation has it alone.
    await waitFor(async () => {
      const d = await describe();
      return d.state === 'Stable' && d.members.length === 1 && c1.assignment().length === 2;
    }, 'the group to settle without c2');
    await closeAll(c1);
    assert.equal((await describe()).members.length, 0);
  });

  test('close() called again returns the same promise: both resolve once the consumer has left and closed', async () => {
    const topic = uniqueTopic('closetwice');
    await admin.createTopics([{ name: topic, partitions: 1 }]);
    const groupId = uniqueTopic('group-closetwice');
    const consumer = groupConsumer(groupId, ['range']);
    await consumer.subscribe(topic);
    const first = consumer.close();
    const second = consumer.close();
    assert.equal(second, first);
    await second;
    assert.ok(consumer.isClosed, 'the second close() waited for the first to finish');
    open.splice(open.indexOf(consumer), 1);
    const [d] = await admin.describeGroups([groupId]);
    assert.equal(d!.members.length, 0, 'the consumer left the group');
    await consumer.close();
  });

  test('admin: list, describe with lag, reset offsets and delete groups', async () => {
    const topic = uniqueTopic('lag');
    await admin.createTopics([{ name: topic, partitions: 2 }]);
    const groupId = uniqueTopic('group-lag');
    for (let i = 0; i < 10; i++) await producer.send({ topic, partition: i % 2, value: `v${i}` });
    const consumer = groupConsumer(groupId, ['roundrobin'], [], { autoCommit: false });
    await consumer.subscribe(topic);
    for (let i = 0; i < 4; i++) await consumer.nextMessage();
    await consumer.commit();

    const groups = await admin.listGroups();
    const listed = groups.find((g) => g.groupId === groupId);
    assert.equal(listed?.protocolType, 'consumer');
    const [description] = await admin.describeGroups([groupId]);
    assert.equal(description!.state, 'Stable');
    assert.equal(description!.protocol, 'roundrobin');
    assert.equal(description!.members.length, 1);
    assert.deepEqual(
      description!.members[0]!.assignment.map((tp) => tp.partition).sort(),
      [0, 1],
    );
    const lag = await admin.describeGroupLag(groupId);
    assert.deepEqual(
      lag.map((l) => l.logEndOffset),
      [5n, 5n],
    );
    const committedTotal = lag.reduce((n, l) => n + (l.committedOffset ?? 0n), 0n);
    assert.equal(committedTotal, 4n);
    assert.equal(
      lag.reduce((n, l) => n + l.lag, 0n),
      6n,
    );
    assert.equal(lag[0]!.memberId, description!.members[0]!.memberId);

    // Resets need the group to be empty, as with Kafka's tool.
    await closeAll(consumer);
    const dryRun = await admin.resetGroupOffsets(groupId, [topic], 'earliest', { dryRun: true });
    assert.deepEqual(
      dryRun.map((r) => r.offset),
      [0n, 0n],
    );
    assert.equal((await admin.describeGroupLag(groupId)).reduce((n, l) => n + l.lag, 0n), 6n, 'a dry run changes nothing');
    await admin.resetGroupOffsets(groupId, [topic], { shiftBy: 1 }, {});
    assert.equal((await admin.describeGroupLag(groupId)).reduce((n, l) => n + l.lag, 0n), 4n);
    await admin.resetGroupOffsets(groupId, [topic], 'latest');
    assert.equal((await admin.describeGroupLag(groupId)).reduce((n, l) => n + l.lag, 0n), 0n);
    await admin.resetGroupOffsets(groupId, [topic], { offset: 2n });
    assert.deepEqual(
      (await admin.describeGroupLag(groupId)).map((l) => l.committedOffset),
      [2n, 2n],
    );

    const reread = groupConsumer(groupId, ['range']);
    await reread.subscribe(topic);
    const m = await reread.nextMessage();
    assert.equal(m!.offset, 2n, 'a reset makes the group re-read');
    await closeAll(reread);

    await admin.deleteGroups([groupId]);
    assert.ok(!(await admin.listGroups()).some((g) => g.groupId === groupId));
  });
});

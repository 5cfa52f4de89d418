import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Admin } from '../../src/client/admin.js';
import { KafkaError } from '../../src/client/errors.js';
import { Producer } from '../../src/client/producer.js';
import { type TestBroker, startTestBroker, uniqueTopic } from './test-broker.js';

describe('admin client against a real broker', () => {
  let tb: TestBroker;
  let admin: Admin;

  before(async () => {
    tb = await startTestBroker();
    admin = new Admin({ bootstrapServers: tb.bootstrap });
  });

  after(async () => {
    await admin.close();
    await tb.close();
  });

  test('create, list, describe, grow and delete topics', async () => {
    const a = uniqueTopic('admin-a');
    const b = uniqueTopic('admin-b');
    await admin.createTopics([
      { name: a, partitions: 3, configs: { 'retention.ms': '3600000' } },
      { name: b, partitions: 1 },
    ]);
    const topics = await admin.listTopics();
    assert.ok(topics.includes(a) && topics.includes(b));
    await assert.rejects(admin.createTopics([{ name: a, partitions: 1 }]), (e: unknown) => e instanceof KafkaError && e.errorName === 'TOPIC_ALREADY_EXISTS' && !e.retriable);
    await admin.createTopics([{ name: a, partitions: 1 }], { ifNotExists: true });
    await admin.createTopics([{ name: uniqueTopic('validate-only'), partitions: 1 }], { validateOnly: true });

    const [described] = await admin.describeTopics([a]);
    assert.equal(described!.name, a);
    assert.deepEqual(
      described!.partitions.map((p) => p.partition),
      [0, 1, 2],
    );
    for (const p of described!.partitions) {
      assert.equal(p.leader, tb.broker.config.nodeId);
      assert.deepEqual(p.replicas, [tb.broker.config.nodeId]);
    }
    assert.notEqual(described!.topicId, 'AAAAAAAAAAAAAAAAAAAAAA');

    await admin.createPartitions([{ topic: a, count: 5 }]);
    assert.equal((await admin.describeTopics([a]))[0]!.partitions.length, 5);
    await assert.rejects(admin.createPartitions([{ topic: a, count: 2 }]), (e: unknown) => e instanceof KafkaError && e.errorName === 'INVALID_PARTITIONS');

    await admin.deleteTopics([b]);
    assert.ok(!(await admin.listTopics()).includes(b));
    await assert.rejects(admin.describeTopics([b]), (e: unknown) => e instanceof KafkaError && e.errorName === 'UNKNOWN_TOPIC_OR_PARTITION');
  });

  test('describe and alter topic configs, incrementally and in full', async () => {
    const topic = uniqueTopic('configs');
    await admin.createTopics([{ name: topic, partitions: 1, configs: { 'retention.ms': '7200000' } }]);
    const entry = async (name: string) => {
      const [r] = await admin.describeConfigs([{ type: 'topic', name: topic, names: [name] }]);
      return r!.entries.find((e) => e.name === name)!;
    };
    const retention = await entry('retention.ms');
    assert.equal(retention.value, '7200000');
    assert.equal(retention.source, 'dynamic-topic');
    assert.equal(retention.isDefault, false);

    await admin.alterConfigs([{ type: 'topic', name: topic, changes: [{ name: 'retention.ms', value: '1000' }, { name: 'cleanup.policy', value: 'compact' }] }]);
    assert.equal((await entry('retention.ms')).value, '1000');
    await admin.alterConfigs([{ type: 'topic', name: topic, changes: [{ name: 'cleanup.policy', operation: 'append', value: 'delete' }] }]);
    assert.equal((await entry('cleanup.policy')).value, 'compact,delete');
    await admin.alterConfigs([{ type: 'topic', name: topic, changes: [{ name: 'retention.ms', operation: 'delete' }] }]);
    const reverted = await entry('retention.ms');
    assert.notEqual(reverted.source, 'dynamic-topic');

    // AlterConfigs replaces the whole set: cleanup.policy goes back to its default.
    await admin.replaceConfigs([{ type: 'topic', name: topic, configs: { 'retention.ms': '5000' } }]);
    assert.equal((await entry('retention.ms')).value, '5000');
    assert.notEqual((await entry('cleanup.policy')).source, 'dynamic-topic');

    await assert.rejects(
      admin.alterConfigs([{ type: 'topic', name: topic, changes: [{ name: 'retention.ms', value: 'not-a-number' }] }]),
      (e: unknown) => e instanceof KafkaError && e.errorName === 'INVALID_CONFIG',
    );
    const [brokerConfigs] = await admin.describeConfigs([{ type: 'broker', name: String(tb.broker.config.nodeId) }]);
    assert.ok(brokerConfigs!.entries.some((e) => e.name === 'num.partitions'));
  });

  test('offsets: earliest, latest and by timestamp', async () => {
    const topic = uniqueTopic('offsets');
    await admin.createTopics([{ name: topic, partitions: 2 }]);
    const producer = new Producer({ bootstrapServers: tb.bootstrap });
    // Recent timestamps: older ones would fall to the default 7-day retention during the test.
    const base = Date.now() - 60_000;
    for (let i = 0; i < 10; i++) await producer.send({ topic, partition: 0, value: `v${i}`, timestamp: base + i * 1000 });
    await producer.close();
    assert.deepEqual(await admin.listOffsets(topic, 'earliest'), [
      { partition: 0, offset: 0n, timestamp: -1 },
      { partition: 1, offset: 0n, timestamp: -1 },
    ]);
    const latest = await admin.listOffsets(topic, 'latest');
    assert.deepEqual(latest.map((o) => o.offset), [10n, 0n]);
    const byTime = await admin.listOffsets(topic, { timestamp: base + 4500 }, [0]);
    assert.equal(byTime[0]!.offset, 5n);
    assert.equal(byTime[0]!.timestamp, base + 5000);
    const afterAll = await admin.listOffsets(topic, { timestamp: new Date(base + 60_000) }, [0]);
    assert.equal(afterAll[0]!.offset, -1n);
    assert.deepEqual(await admin.topicOffsets(topic), [
      { partition: 0, earliest: 0n, latest: 10n },
      { partition: 1, earliest: 0n, latest: 0n },
    ]);
    const deleted = await admin.deleteRecords(topic, [{ partition: 0, offset: 3n }]);
    assert.equal(deleted[0]!.offset, 3n);
    assert.equal((await admin.listOffsets(topic, 'earliest', [0]))[0]!.offset, 3n);
  });

  test('an unreachable broker is a retriable ConnectionError', async () => {
    const lonely = new Admin({ bootstrapServers: '127.0.0.1:1', retry: { retries: 1, initialBackoffMs: 10 }, connectTimeoutMs: 500 });
    await assert.rejects(lonely.listTopics(), (e: unknown) => e instanceof KafkaError && e.errorName === 'NETWORK_EXCEPTION' && e.retriable);
    await lonely.close();
  });
});

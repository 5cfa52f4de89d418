import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type CliBroker, ferry, ferryOk, startCliBroker, unique } from './cli-harness.js';

describe('ferry topic', () => {
  let b: CliBroker;
  before(async () => {
    b = await startCliBroker();
  });
  after(async () => {
    await b.close();
  });

  test('create, list, describe, alter and delete a topic', async () => {
    const topic = unique('orders');
    assert.equal(await ferryOk(['topic', 'create', topic, '--partitions', '3', '--replication-factor', '1', '--config', 'retention.ms=3600000', ...b.at]), `created topic ${topic} with 3 partitions\n`);

    const table = await ferryOk(['topic', 'list', ...b.at]);
    assert.match(table, /^NAME\s+PARTITIONS\s+REPLICAS$/m);
    assert.match(table, new RegExp(`^${topic}\\s+3\\s+1$`, 'm'));
    const listed = JSON.parse(await ferryOk(['topic', 'list', '--json', ...b.at])) as Array<{ name: string; partitions: number; replicationFactor: number }>;
    assert.deepEqual(
      listed.find((t) => t.name === topic),
      { name: topic, partitions: 3, replicationFactor: 1, internal: false },
    );

    const described = JSON.parse(await ferryOk(['topic', 'describe', topic, '--json', ...b.at])) as {
      name: string;
      partitions: Array<{ partition: number; leader: number; startOffset: number; endOffset: number }>;
      configs: Record<string, string>;
    };
    assert.equal(described.name, topic);
    assert.deepEqual(
      described.partitions.map((p) => [p.partition, p.startOffset, p.endOffset]),
      [
        [0, 0, 0],
        [1, 0, 0],
        [2, 0, 0],
      ],
    );
    assert.deepEqual(described.configs, { 'retention.ms': '3600000' });
    const human = await ferryOk(['topic', 'describe', topic, ...b.at]);
    assert.match(human, new RegExp(`^topic ${topic}: 3 partitions, replication factor 1, 0 records`));
    assert.match(human, /^PARTITION\s+LEADER\s+REPLICAS\s+IN-SYNC\s+START\s+END$/m);
    assert.match(human, /^retention\.ms\s+3600000\s+dynamic-topic$/m);

    assert.equal(
      await ferryOk(['topic', 'alter', topic, '--partitions', '5', '--config', 'cleanup.policy=delete', '--delete-config', 'retention.ms', ...b.at]),
      `altered topic ${topic}: partitions 3 -> 5, cleanup.policy=delete, retention.ms reset to default\n`,
    );
    const altered = JSON.parse(await ferryOk(['topic', 'describe', topic, '--json', ...b.at])) as { partitions: unknown[]; configs: Record<string, string> };
    assert.equal(altered.partitions.length, 5);
    assert.deepEqual(altered.configs, { 'cleanup.policy': 'delete' });

    assert.equal(await ferryOk(['topic', 'delete', topic, ...b.at]), `deleted topic ${topic}\n`);
    const after = JSON.parse(await ferryOk(['topic', 'list', '--json', ...b.at])) as Array<{ name: string }>;
    assert.equal(after.some((t) => t.name === topic), false);
  });

  test('create of an existing topic fails with one line, unless --if-not-exists', async () => {
    const topic = unique('twice');
    await ferryOk(['topic', 'create', topic, '--partitions', '1', ...b.at]);
    const again = await ferry(['topic', 'create', topic, ...b.at]);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, `ferry: topic ${topic} already exists (TOPIC_ALREADY_EXISTS)\n`);
    assert.equal((await ferry(['topic', 'create', topic, '--if-not-exists', ...b.at])).code, 0);
  });

  test('describe, alter and delete of a missing topic fail with one line and exit code 1', async () => {
    for (const args of [
      ['topic', 'describe', 'no-such-topic'],
      ['topic', 'alter', 'no-such-topic', '--partitions', '2'],
      ['topic', 'delete', 'no-such-topic'],
    ]) {
      const r = await ferry([...args, ...b.at]);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stderr, 'ferry: topic no-such-topic does not exist (UNKNOWN_TOPIC_OR_PARTITION)\n', args.join(' '));
    }
    assert.equal((await ferry(['topic', 'delete', 'no-such-topic', '--if-exists', ...b.at])).code, 0);
  });

  test('a topic cannot shrink', async () => {
    const topic = unique('shrink');
    await ferryOk(['topic', 'create', topic, '--partitions', '3', ...b.at]);
    const r = await ferry(['topic', 'alter', topic, '--partitions', '2', ...b.at]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^ferry: topic \S+ has 3 partitions; Kafka topics cannot shrink/);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Admin } from '../../src/client/admin.js';
import { Consumer } from '../../src/client/consumer.js';
import { Producer } from '../../src/client/producer.js';
import { jsonSerde, stringSerde } from '../../src/client/serializers.js';
import { type TestBroker, startTestBroker, uniqueTopic, waitFor } from './test-broker.js';

describe('consumer with manual assignment, against a real broker', () => {
  let tb: TestBroker;
  let admin: Admin;
  let producer: Producer<string | null, string | null>;

  before(async () => {
    tb = await startTestBroker();
    admin = new Admin({ bootstrapServers: tb.bootstrap });
    producer = new Producer({ bootstrapServers: tb.bootstrap, keySerializer: stringSerde(), valueSerializer: stringSerde() });
  });

  after(async () => {
    await producer.close();
    await admin.close();
    await tb.close();
  });

  async function fill(topic: string, partitions: number, perPartition: number): Promise<void> {
    await admin.createTopics([{ name: topic, partitions }]);
    const sends = [];
    for (let p = 0; p < partitions; p++) for (let i = 0; i < perPartition; i++) sends.push(producer.send({ topic, partition: p, key: null, value: `p${p}-${i}` }));
    await Promise.all(sends);
  }

  function stringConsumer(extra: Partial<ConstructorParameters<typeof Consumer<string | null, string | null>>[0]> = {}) {
    return new Consumer<string | null, string | null>({
      bootstrapServers: tb.bootstrap,
      keyDeserializer: stringSerde(),
      valueDeserializer: stringSerde(),
      fetchMaxWaitMs: 50,
      ...extra,
    });
  }

  test('assign with offsets, then seek back, forward and to the ends', async () => {
    const topic = uniqueTopic('seek');
    await fill(topic, 1, 100);
    const consumer = stringConsumer();
    consumer.assign([{ topic, partition: 0, offset: 10n }]);
    const first = await consumer.nextMessage();
    assert.equal(first!.offset, 10n);
    assert.equal(first!.value, 'p0-10');
    assert.equal((await consumer.nextMessage())!.offset, 11n);
    consumer.seek({ topic, partition: 0 }, 3n);
    assert.equal((await consumer.nextMessage())!.offset, 3n, 'records fetched ahead before the seek are not delivered');
    consumer.seek({ topic, partition: 0 }, 95);
    assert.equal((await consumer.nextMessage())!.value, 'p0-95');
    consumer.seek({ topic, partition: 0 }, 'earliest');
    assert.equal((await consumer.nextMessage())!.offset, 0n);
    consumer.seek({ topic, partition: 0 }, 'latest');
    const pending = consumer.nextMessage();
    // Seeking to the end is lazy (as in Java): the end is looked up on the next fetch, so
    // the record is produced only after the position is known.
    await waitFor(() => consumer.position({ topic, partition: 0 }) === 100n, 'the end offset');
    await producer.send({ topic, partition: 0, value: 'after-latest' });
    assert.equal((await pending)!.value, 'after-latest');
    assert.equal(consumer.position({ topic, partition: 0 }), 101n);
    await consumer.close();
  });

  test('pause stops a partition; resume continues where the application stopped', async () => {
    const topic = uniqueTopic('pause');
    await fill(topic, 2, 20);
    const consumer = stringConsumer();
    consumer.assign([
      { topic, partition: 0, offset: 'earliest' },
      { topic, partition: 1, offset: 'earliest' },
    ]);
    let lastOfPartition1 = -1n;
    let m = (await consumer.nextMessage())!;
    while (m.partition !== 0) {
      lastOfPartition1 = m.offset;
      m = (await consumer.nextMessage())!;
    }
    const stoppedAt = m.offset;
    consumer.pause([{ topic, partition: 0 }]);
    assert.deepEqual(consumer.paused(), [{ topic, partition: 0 }]);
    // Partition 1 drains completely while partition 0 stays paused.
    while (lastOfPartition1 < 19n) {
      const next = (await consumer.nextMessage())!;
      assert.equal(next.partition, 1, 'nothing from a paused partition');
      lastOfPartition1 = next.offset;
    }
    consumer.resume([{ topic, partition: 0 }]);
    const resumed = (await consumer.nextMessage())!;
    assert.equal(resumed.partition, 0);
    assert.equal(resumed.offset, stoppedAt + 1n);
    await consumer.close();
  });

  test('batch iteration yields a partition at a time, in order, and commits consumed positions', async () => {
    const topic = uniqueTopic('batches');
    await fill(topic, 3, 50);
    const groupId = uniqueTopic('manual-group');
    const consumer = stringConsumer({ groupId, autoCommit: false });
    consumer.assign([0, 1, 2].map((partition) => ({ topic, partition, offset: 'earliest' as const })));
    const next = new Map<number, bigint>([
      [0, 0n],
      [1, 0n],
      [2, 0n],
    ]);
    let total = 0;
    for await (const batch of consumer.batches(20)) {
      assert.ok(batch.messages.length > 0 && batch.messages.length <= 20);
      for (const m of batch.messages) {
        assert.equal(m.partition, batch.partition);
        assert.equal(m.offset, next.get(m.partition));
        next.set(m.partition, m.offset + 1n);
      }
      assert.equal(batch.highWatermark, 50n);
      total += batch.messages.length;
      if (total === 150) break;
    }
    await consumer.commit();
    const committed = await consumer.committed([0, 1, 2].map((partition) => ({ topic, partition })));
    assert.deepEqual(
      committed.map((c) => c.offset),
      [50n, 50n, 50n],
    );
    await consumer.close();
    // A new consumer of the same group, without offsets, starts at the commit.
    const again = stringConsumer({ groupId });
    again.assign([{ topic, partition: 1 }]);
    const pending = again.nextMessage();
    await waitFor(() => again.position({ topic, partition: 1 }) !== null, 'the committed offset');
    assert.equal(again.position({ topic, partition: 1 }), 50n);
    await producer.send({ topic, partition: 1, value: 'after-commit' });
    assert.equal((await pending)!.offset, 50n);
    await again.close();
  });

  test('fetching runs ahead of the application but stays within fetchBufferBytesMax', async () => {
    const topic = uniqueTopic('pipeline');
    await admin.createTopics([{ name: topic, partitions: 1 }]);
    const big = new Producer({ bootstrapServers: tb.bootstrap, batchBytes: 16 * 1024 });
    await Promise.all(Array.from({ length: 400 }, (_, i) => big.send({ topic, value: Buffer.alloc(1000, i) })));
    await big.close();
    const consumer = new Consumer({ bootstrapServers: tb.bootstrap, fetchBufferBytesMax: 32 * 1024, partitionFetchBytes: 16 * 1024, fetchMaxWaitMs: 50 });
    consumer.assign([{ topic, partition: 0, offset: 0n }]);
    const first = await consumer.nextMessage();
    assert.equal(first!.offset, 0n);
    // While the application holds the first record, the consumer fetches ahead...
    const internals = consumer as unknown as { bufferedBytes: number };
    await waitFor(() => internals.bufferedBytes > 16 * 1024, 'a fetch ahead of the application');
    await new Promise((r) => setTimeout(r, 200));
    // ...but stops after crossing the limit by at most one fetch's worth.
    assert.ok(internals.bufferedBytes <= 32 * 1024 + 16 * 1024 + 1024, `buffered ${internals.bufferedBytes}`);
    let count = 1;
    for await (const m of consumer) {
      assert.equal(m.offset, BigInt(count));
      if (++count === 400) break;
    }
    await consumer.close();
  });

  test('JSON values deserialize; a consumer that is closed ends its iteration', async () => {
    const topic = uniqueTopic('json');
    await admin.createTopics([{ name: topic, partitions: 1 }]);
    const jsonProducer = new Producer<string, { n: number }>({ bootstrapServers: tb.bootstrap, keySerializer: stringSerde(), valueSerializer: jsonSerde() });
    await jsonProducer.send({ topic, key: 'a', value: { n: 42 } });
    await jsonProducer.close();
    const consumer = new Consumer<string | null, { n: number } | null>({
      bootstrapServers: tb.bootstrap,
      keyDeserializer: stringSerde(),
      valueDeserializer: jsonSerde(),
      autoOffsetReset: 'earliest',
    });
    consumer.assign([{ topic, partition: 0 }]);
    const seen: Array<{ n: number } | null> = [];
    const loop = (async () => {
      for await (const m of consumer) seen.push(m.value);
    })();
    await waitFor(() => seen.length === 1, 'the JSON record');
    assert.deepEqual(seen, [{ n: 42 }]);
    await consumer.close();
    await loop;
  });
});

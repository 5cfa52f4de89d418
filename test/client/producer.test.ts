import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Admin } from '../../src/client/admin.js';
import { Consumer, type ConsumerMessage } from '../../src/client/consumer.js';
import { KafkaError } from '../../src/client/errors.js';
import { partitionForKey } from '../../src/client/partitioner.js';
import { type CompressionName, Producer } from '../../src/client/producer.js';
import { stringSerde } from '../../src/client/serializers.js';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import { RecordBatchView, splitRecordBatches } from '../../src/protocol/record-batch.js';
import { type TestBroker, startTestBroker, uniqueTopic } from './test-broker.js';

/** Reads `count` records from the start of every partition of a topic with a manually assigned consumer. */
async function readAll(bootstrap: string, topic: string, partitions: number, count: number): Promise<Array<ConsumerMessage<string | null, string | null>>> {
  const consumer = new Consumer({ bootstrapServers: bootstrap, keyDeserializer: stringSerde(), valueDeserializer: stringSerde(), fetchMaxWaitMs: 50 });
  consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 'earliest' as const })));
  const out: Array<ConsumerMessage<string | null, string | null>> = [];
  try {
    for await (const m of consumer) {
      out.push(m);
      if (out.length === count) break;
    }
  } finally {
    await consumer.close();
  }
  return out;
}

describe('producer against a real broker', () => {
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

  for (const compression of ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as CompressionName[]) {
    test(`records compressed with ${compression} come back intact: keys, values, headers, timestamps`, async () => {
      const topic = uniqueTopic(`codec-${compression}`);
      await admin.createTopics([{ name: topic, partitions: 1 }]);
      const producer = new Producer({ bootstrapServers: tb.bootstrap, compression, keySerializer: stringSerde(), valueSerializer: stringSerde(), lingerMs: 20 });
      // Recent timestamps: older ones would fall to the default 7-day retention during the test.
      const base = Date.now() - 3_600_000;
      const sent = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          producer.send({
            topic,
            key: i % 10 === 0 ? null : `k${i}`,
            value: i % 17 === 0 ? null : `value ${i} `.repeat(i % 7),
            headers: { trace: `t${i}`, empty: null },
            timestamp: base + i,
          }),
        ),
      );
      await producer.close();
      assert.deepEqual(
        sent.map((s) => s.offset),
        Array.from({ length: 200 }, (_, i) => BigInt(i)),
      );
      // The broker stores the batches as produced: their codec is the one asked for.
      const stored = await readRawBatches(tb, topic);
      assert.ok(stored.length < 200, 'records were batched');
      for (const b of stored) assert.equal(b.compression, ['none', 'gzip', 'snappy', 'lz4', 'zstd'].indexOf(compression));
      const got = await readAll(tb.bootstrap, topic, 1, 200);
      for (let i = 0; i < 200; i++) {
        const m = got[i]!;
        assert.equal(m.offset, BigInt(i));
        assert.equal(m.key, i % 10 === 0 ? null : `k${i}`);
        assert.equal(m.value, i % 17 === 0 ? null : `value ${i} `.repeat(i % 7));
        assert.equal(m.timestamp, base + i);
        assert.deepEqual(
          m.headers.map((h) => [h.key, h.value?.toString() ?? null]),
          [
            ['trace', `t${i}`],
            ['empty', null],
          ],
        );
      }
    });
  }

  test('equal keys land in the partition murmur2 predicts; an explicit partition wins', async () => {
    const topic = uniqueTopic('keys');
    await admin.createTopics([{ name: topic, partitions: 7 }]);
    const producer = new Producer({ bootstrapServers: tb.bootstrap, keySerializer: stringSerde(), valueSerializer: stringSerde() });
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => producer.send({ topic, key: `user-${i % 25}`, value: `${i}` })));
    results.forEach((r, i) => assert.equal(r.partition, partitionForKey(Buffer.from(`user-${i % 25}`), 7), `user-${i % 25}`));
    const pinned = await producer.send({ topic, key: 'user-0', value: 'pinned', partition: 6 });
    assert.equal(pinned.partition, 6);
    await assert.rejects(producer.send({ topic, value: 'x', partition: 7 }), (e: unknown) => e instanceof KafkaError && e.errorName === 'UNKNOWN_TOPIC_OR_PARTITION');
    await producer.close();
    const got = await readAll(tb.bootstrap, topic, 7, 101);
    for (const m of got) {
      if (m.value === 'pinned') assert.equal(m.partition, 6);
      else assert.equal(m.partition, partitionForKey(Buffer.from(m.key!), 7));
    }
  });

  for (const acks of [0, 1, 'all'] as const) {
    test(`acks=${acks}: records are stored${acks === 0 ? ' (offsets unknown to the producer)' : ' and their offsets reported'}`, async () => {
      const topic = uniqueTopic(`acks-${acks}`);
      await admin.createTopics([{ name: topic, partitions: 1 }]);
      const producer = new Producer({ bootstrapServers: tb.bootstrap, acks, valueSerializer: stringSerde() });
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => producer.send({ topic, value: `m${i}` })));
      await producer.close();
      if (acks === 0) for (const r of results) assert.equal(r.offset, -1n);
      else assert.deepEqual(results.map((r) => Number(r.offset)), Array.from({ length: 50 }, (_, i) => i));
      const got = await readAll(tb.bootstrap, topic, 1, 50);
      assert.deepEqual(got.map((m) => m.value), Array.from({ length: 50 }, (_, i) => `m${i}`));
    });
  }

  test('a full buffer makes queue() wait until the broker acknowledges earlier records', async () => {
    const topic = uniqueTopic('buffer');
    await admin.createTopics([{ name: topic, partitions: 1 }]);
    const bufferBytesMax = 64 * 1024;
    const producer = new Producer({ bootstrapServers: tb.bootstrap, bufferBytesMax, batchBytes: 16 * 1024, lingerMs: 0 });
    const value = Buffer.alloc(1000, 7);
    let highest = 0;
    const deliveries: Array<Promise<unknown>> = [];
    for (let i = 0; i < 1000; i++) {
      deliveries.push((await producer.queue({ topic, value })).delivered);
      highest = Math.max(highest, producer.bufferedBytesNow);
      assert.ok(producer.bufferedBytesNow <= bufferBytesMax, `buffered ${producer.bufferedBytesNow} > ${bufferBytesMax}`);
    }
    await Promise.all(deliveries);
    assert.ok(highest > bufferBytesMax / 2, 'the buffer did fill up, so queue() had to wait');
    assert.equal(producer.bufferedBytesNow, 0);
    // A record that cannot fit in the buffer at all is refused instead of waiting forever.
    await assert.rejects(producer.send({ topic, value: Buffer.alloc(bufferBytesMax + 1) }), (e: unknown) => e instanceof KafkaError && e.code === ErrorCode.MESSAGE_TOO_LARGE);
    await producer.close();
    const end = await admin.listOffsets(topic, 'latest');
    assert.equal(end[0]!.offset, 1000n);
  });

  test('producing to a topic that does not exist yet retries until auto-creation makes it', async () => {
    const topic = uniqueTopic('auto');
    const producer = new Producer({ bootstrapServers: tb.bootstrap, valueSerializer: stringSerde() });
    const r = await producer.send({ topic, value: 'first' });
    assert.equal(r.offset, 0n);
    await producer.close();
    assert.deepEqual(await admin.listTopics().then((l) => l.includes(topic)), true);
  });

  test('without auto-creation, a record waits for its topic to be created, and fails after maxBlockMs if it never is', async () => {
    const withoutAutoCreate = await startTestBroker({ 'auto.create.topics.enable': false });
    try {
      const producer = new Producer({ bootstrapServers: withoutAutoCreate.bootstrap, maxBlockMs: 300, retryBackoffMs: 20 });
      const started = Date.now();
      await assert.rejects(producer.send({ topic: 'missing', value: 'x' }), (e: unknown) => e instanceof KafkaError && e.errorName === 'UNKNOWN_TOPIC_OR_PARTITION' && e.retriable);
      assert.ok(Date.now() - started < 5000, 'gave up within maxBlockMs, give or take a retry');
      await producer.close();

      const patient = new Producer({ bootstrapServers: withoutAutoCreate.bootstrap, maxBlockMs: 20_000, retryBackoffMs: 20, retryBackoffMaxMs: 100 });
      const pending = patient.send({ topic: 'late', value: 'x' });
      await new Promise((r) => setTimeout(r, 300));
      const otherAdmin = new Admin({ bootstrapServers: withoutAutoCreate.bootstrap });
      await otherAdmin.createTopics([{ name: 'late', partitions: 2 }]);
      await otherAdmin.close();
      const r = await pending;
      assert.equal(r.offset, 0n);
      await patient.close();
    } finally {
      await withoutAutoCreate.close();
    }
  });

  test('a broker restart under load: batches in flight are retried over a new connection, none lost or repeated', async () => {
    const { startBroker } = await import('../../src/broker/broker.js');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dataDir = mkdtempSync(join(tmpdir(), 'ferry-restart-'));
    let broker = await startBroker({ port: 0, dataDir, log: () => undefined });
    const port = broker.port;
    try {
      const producer = new Producer({ bootstrapServers: `127.0.0.1:${port}`, valueSerializer: stringSerde(), retryBackoffMs: 50, requestTimeoutMs: 5000 });
      const first = await Promise.all(Array.from({ length: 20 }, (_, i) => producer.send({ topic: 'restart', value: `a${i}` })));
      await broker.close();
      const during = Array.from({ length: 20 }, (_, i) => producer.send({ topic: 'restart', value: `b${i}` }));
      await new Promise((r) => setTimeout(r, 200));
      broker = await startBroker({ port, dataDir, log: () => undefined });
      const second = await Promise.all(during);
      assert.deepEqual(first.map((r) => Number(r.offset)), Array.from({ length: 20 }, (_, i) => i));
      assert.deepEqual(second.map((r) => Number(r.offset)), Array.from({ length: 20 }, (_, i) => 20 + i));
      await producer.close();
      const got = await readAll(`127.0.0.1:${port}`, 'restart', 1, 40);
      assert.deepEqual(got.map((m) => m.value), [...Array.from({ length: 20 }, (_, i) => `a${i}`), ...Array.from({ length: 20 }, (_, i) => `b${i}`)]);
    } finally {
      await broker.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('several batches of a partition are in flight at once, and a broker restart under them keeps every record, in order', async () => {
    const { startBroker } = await import('../../src/broker/broker.js');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dataDir = mkdtempSync(join(tmpdir(), 'ferry-pipeline-'));
    let broker = await startBroker({ port: 0, dataDir, log: () => undefined });
    const port = broker.port;
    try {
      const producer = new Producer({ bootstrapServers: `127.0.0.1:${port}`, valueSerializer: stringSerde(), batchBytes: 2048, lingerMs: 0, retryBackoffMs: 50, requestTimeoutMs: 5000 });
      await producer.send({ topic: 'pipeline', value: 'first' });
      const queues = (producer as unknown as { queues: Map<string, { inFlight: unknown[] }> }).queues;
      let mostInFlight = 0;
      const sample = setInterval(() => {
        for (const q of queues.values()) mostInFlight = Math.max(mostInFlight, q.inFlight.length);
      }, 0);
      const deliveries: Array<Promise<unknown>> = [];
      const pad = 'x'.repeat(400);
      let restarted: Promise<void> | null = null;
      for (let i = 0; i < 600; i++) {
        deliveries.push((await producer.queue({ topic: 'pipeline', value: `${i} ${pad}` })).delivered);
        if (i === 300) {
          restarted = broker.close().then(async () => {
            await new Promise((r) => setTimeout(r, 100));
            broker = await startBroker({ port, dataDir, log: () => undefined });
          });
        }
        if (i % 50 === 0) await new Promise((r) => setImmediate(r));
      }
      const results = (await Promise.all(deliveries)) as Array<{ offset: bigint }>;
      await restarted;
      clearInterval(sample);
      assert.ok(mostInFlight > 1, `at most ${mostInFlight} batch in flight`);
      await producer.close();
      // Offsets follow the order of queue(): a retried batch went before the ones behind it.
      const offsets = results.map((r) => Number(r.offset));
      for (let i = 1; i < offsets.length; i++) assert.ok(offsets[i]! > offsets[i - 1]!, `record ${i} at ${offsets[i]}, after ${offsets[i - 1]}`);
      // Without idempotence a batch the broker appended just before it went down may be
      // appended again (at least once): the log may hold extra copies, but each record is at
      // the offset the producer reported.
      const end = offsets[offsets.length - 1]! + 1;
      const got = await readAll(`127.0.0.1:${port}`, 'pipeline', 1, end);
      results.forEach((r, i) => assert.equal(Number(got[Number(r.offset)]!.value!.split(' ')[0]), i));
    } finally {
      await broker.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('a record is copied when queued: the caller may reuse its buffers at once', async () => {
    const topic = uniqueTopic('copied');
    await admin.createTopics([{ name: topic, partitions: 1 }]);
    const producer = new Producer({ bootstrapServers: tb.bootstrap, lingerMs: 20 });
    const key = Buffer.from('key-0');
    const value = Buffer.from('value-0');
    const deliveries: Array<Promise<unknown>> = [];
    for (let i = 0; i < 5; i++) {
      key.write(`key-${i}`);
      value.write(`value-${i}`);
      deliveries.push((await producer.queue({ topic, key, value, headers: { n: `${i}` } })).delivered);
    }
    await Promise.all(deliveries);
    await producer.close();
    const got = await readAll(tb.bootstrap, topic, 1, 5);
    assert.deepEqual(
      got.map((m) => [m.key, m.value, m.headers[0]?.value?.toString()]),
      Array.from({ length: 5 }, (_, i) => [`key-${i}`, `value-${i}`, `${i}`]),
    );
  });

  test('options: maxInFlightPerPartition must be a positive integer; close() twice returns one promise', async () => {
    assert.throws(() => new Producer({ bootstrapServers: tb.bootstrap, maxInFlightPerPartition: 0 }), TypeError);
    const producer = new Producer({ bootstrapServers: tb.bootstrap, maxInFlightPerPartition: 1 });
    await producer.send({ topic: uniqueTopic('inflight1'), value: 'x' });
    const first = producer.close();
    assert.equal(producer.close(), first);
    await first;
    await producer.flush();
  });

  test('a batch larger than the broker allows is split and delivered', async () => {
    const small = await startTestBroker({ 'message.max.bytes': 20_000 });
    try {
      const producer = new Producer({ bootstrapServers: small.bootstrap, batchBytes: 200_000, lingerMs: 50 });
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => producer.send({ topic: 'split', value: Buffer.alloc(1000, i) })));
      assert.deepEqual(results.map((r) => Number(r.offset)).sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
      // Records whose promise is asked for only after their batch was split learn their own offsets too.
      const queued = [];
      for (let i = 0; i < 100; i++) queued.push(await producer.queue({ topic: 'split', value: Buffer.alloc(1000, i) }));
      await producer.flush();
      const late = await Promise.all(queued.map((q) => q.delivered));
      await producer.close();
      const got = await readAll(small.bootstrap, 'split', 1, 200);
      for (const [i, r] of [...results, ...late].entries()) assert.equal(got[Number(r.offset)]!.value!.charCodeAt(0), i % 100);
    } finally {
      await small.close();
    }
  });

  test('flush sends lingering records at once; send after close fails', async () => {
    const topic = uniqueTopic('flush');
    await admin.createTopics([{ name: topic, partitions: 1 }]);
    const producer = new Producer({ bootstrapServers: tb.bootstrap, lingerMs: 60_000 });
    const queued = await producer.queue({ topic, value: 'lingering' });
    const started = Date.now();
    await producer.flush();
    assert.ok(Date.now() - started < 5000, 'flush did not wait for lingerMs');
    assert.equal((await queued.delivered).offset, 0n);
    await producer.close();
    await assert.rejects(producer.send({ topic, value: 'late' }), /closed/);
  });
});

/** The stored batches of partition 0, read with a raw fetch through the client connection. */
async function readRawBatches(tb: TestBroker, topic: string): Promise<RecordBatchView[]> {
  const { Cluster } = await import('../../src/client/cluster.js');
  const { FetchApi } = await import('../../src/protocol/messages/index.js');
  const cluster = new Cluster({ bootstrapServers: tb.bootstrap });
  try {
    const connection = await cluster.anyConnection();
    const response = await connection.request(
      FetchApi,
      {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 10 << 20,
        isolationLevel: 0,
        topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 10 << 20, currentLeaderEpoch: -1 }] }],
      },
      { version: 4 },
    );
    return splitRecordBatches(response.responses[0]!.partitions[0]!.records!).batches;
  } finally {
    await cluster.close();
  }
}

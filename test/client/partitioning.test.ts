import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { murmur2, toPositive } from '../../src/client/murmur2.js';
import { DefaultPartitioner, RoundRobinPartitioner, partitionForKey } from '../../src/client/partitioner.js';
import { bytesSerde, jsonSerde, stringSerde } from '../../src/client/serializers.js';

const require = createRequire(import.meta.url);

describe('murmur2', () => {
  test('matches the hashes of Java Utils.murmur2 (Kafka UtilsTest and librdkafka vectors)', () => {
    // Values from Kafka's clients UtilsTest.testMurmur2 and librdkafka's rdmurmur2.c unit test.
    const known: Record<string, number> = {
      '21': -973932308,
      foobar: -790332482,
      'a-little-bit-long-string': -985981536,
      'a-little-bit-longer-string': -1486304829,
      lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8: -58897971,
      abc: 479470107,
      kafka: -798503068,
      '1': -1993445489,
      '12': 126087238,
      '123': -267702483,
      '1234': -1614185708,
      '12345': -1188365604,
    };
    for (const [key, hash] of Object.entries(known)) assert.equal(murmur2(Buffer.from(key)), hash, key);
    assert.equal(murmur2(Buffer.alloc(0)), 275646681);
  });

  test('agrees with kafkajs DefaultPartitioner for keys of every length and byte value', () => {
    const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer) => number;
    for (let length = 0; length < 64; length++) {
      for (let round = 0; round < 20; round++) {
        const key = Buffer.alloc(length);
        for (let i = 0; i < length; i++) key[i] = (length * 31 + round * 17 + i * 7) & 0xff;
        assert.equal(murmur2(key), kafkajsMurmur2(key), key.toString('hex'));
      }
    }
  });

  test('toPositive clears the sign bit as Java does, unlike Math.abs', () => {
    assert.equal(toPositive(-1), 0x7fffffff);
    assert.equal(toPositive(-2147483648), 0);
    assert.equal(toPositive(5), 5);
  });

  test('keyed records go to toPositive(murmur2(key)) % partitions, as kafkajs computes', () => {
    const { Partitioners } = require('kafkajs') as { Partitioners: { DefaultPartitioner: () => (a: unknown) => number } };
    const kafkajsPartition = Partitioners.DefaultPartitioner();
    const partitioner = new DefaultPartitioner();
    for (let i = 0; i < 500; i++) {
      const key = Buffer.from(`key-${i}`);
      const count = (i % 12) + 1;
      const expected = kafkajsPartition({
        topic: 't',
        partitionMetadata: Array.from({ length: count }, (_, p) => ({ partitionId: p, leader: 0 })),
        message: { key },
      });
      assert.equal(partitionForKey(key, count), expected);
      assert.equal(partitioner.partition({ topic: 't', key, valueBytes: 10, partitionCount: count }), expected);
    }
  });

  test('keyless records stick to a partition for about a batch, then move on round-robin', () => {
    const partitioner = new DefaultPartitioner({ stickyBytes: 100 });
    const chosen = Array.from({ length: 40 }, () => partitioner.partition({ topic: 't', key: null, valueBytes: 9, partitionCount: 4 }));
    // 10 bytes a record: ten records per partition, then the next partition.
    for (let i = 0; i < 40; i++) assert.equal(chosen[i], (chosen[0]! + Math.floor(i / 10)) % 4, `record ${i}`);
    const rr = new RoundRobinPartitioner();
    assert.deepEqual(
      Array.from({ length: 5 }, () => rr.partition({ topic: 't', key: null, valueBytes: 1, partitionCount: 3 })),
      [0, 1, 2, 0, 1],
    );
  });
});

describe('serializers', () => {
  test('string, JSON and bytes round-trip and keep null as null', () => {
    const s = stringSerde();
    assert.equal(s.deserialize(s.serialize('héllo', 't'), 't'), 'héllo');
    assert.equal(s.serialize(null, 't'), null);
    assert.equal(s.deserialize(null, 't'), null);
    const j = jsonSerde<{ a: number[] }>();
    assert.deepEqual(j.deserialize(j.serialize({ a: [1, 2] }, 't'), 't'), { a: [1, 2] });
    assert.equal(j.serialize(null, 't'), null);
    assert.throws(() => j.deserialize(Buffer.from('{nope'), 'topic-x'), /topic-x is not JSON/);
    const b = bytesSerde();
    assert.deepEqual(b.serialize('ab', 't'), Buffer.from('ab'));
    assert.equal(b.serialize(undefined, 't'), null);
  });
});

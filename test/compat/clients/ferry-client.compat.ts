/**
 * Ferry's TypeScript client beside librdkafka: records written by Ferry's producer are read
 * intact by kcat and confluent-kafka-python, and records those clients write (with the
 * murmur2 partitioner, Java's default) are read intact by Ferry's consumer, each key in the
 * partition murmur2 gives it, whichever client wrote it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { Admin } from '../../../src/client/admin.js';
import { Consumer } from '../../../src/client/consumer.js';
import { partitionForKey } from '../../../src/client/partitioner.js';
import { Producer } from '../../../src/client/producer.js';
import { stringSerde } from '../../../src/client/serializers.js';
import { FerryProcess, runProcess, SYSTEM_PYTHON } from './harness.js';

const PARTITIONS = 6;
const COUNT = 300;

interface Seen {
  partition: number;
  key: string;
  value: string;
  header: string;
}

/** confluent-kafka: reads a whole topic (prints JSON lines) or writes keyed lines from stdin. */
const PYTHON = String.raw`
import json, sys, confluent_kafka
mode, bootstrap, topic, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
print(json.dumps({"version": confluent_kafka.version()[0], "librdkafka": confluent_kafka.libversion()[0]}), flush=True)
if mode == "consume":
    c = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "xc-" + topic, "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    seen = 0
    while seen < count:
        m = c.poll(10.0)
        if m is None:
            sys.exit("timed out after %d records" % seen)
        if m.error():
            sys.exit(str(m.error()))
        h = dict(m.headers() or [])
        print(json.dumps({"partition": m.partition(), "key": m.key().decode(), "value": m.value().decode(), "header": h.get("n", b"").decode()}), flush=True)
        seen += 1
    c.close()
else:
    p = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random"})
    for i in range(count):
        p.produce(topic, key=("key-%d" % (i % 37)).encode(), value=("py-%d" % i).encode(), headers=[("n", str(i).encode())])
    if p.flush(30) != 0:
        sys.exit("records left unsent")
`;

describe("Ferry's client beside kcat and confluent-kafka (librdkafka)", () => {
  let f: FerryProcess;
  let admin: Admin;

  before(async () => {
    f = await FerryProcess.start({ 'group.initial.rebalance.delay.ms': 0 });
    admin = new Admin({ bootstrapServers: f.bootstrap });
  });

  after(async () => {
    await admin.close();
    await f.stop();
  });

  test("records written by Ferry's producer are read intact by kcat and confluent-kafka, keys where murmur2 puts them", { timeout: 120_000 }, async (t) => {
    const topic = 'from-ferry';
    await admin.createTopics([{ name: topic, partitions: PARTITIONS }]);
    const producer = new Producer({ bootstrapServers: f.bootstrap, acks: 'all' });
    const sent: Seen[] = [];
    for (let i = 0; i < COUNT; i++) {
      const key = `key-${i % 37}`;
      await producer.queue({ topic, key, value: `ferry-${i}`, headers: { n: String(i) } });
      sent.push({ partition: partitionForKey(Buffer.from(key), PARTITIONS), key, value: `ferry-${i}`, header: String(i) });
    }
    await producer.flush();
    await producer.close();
    const expected = [...sent].sort(byValue);

    t.diagnostic(`kcat ${/^Version (.*)$/m.exec(execFileSync('kcat', ['-V'], { encoding: 'utf8' }))?.[1] ?? '?'}`);
    const kcat = await runProcess('kcat', ['-C', '-b', f.bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p\t%k\t%s\t%h\n'], { timeoutMs: 30_000 });
    assert.equal(kcat.code, 0, kcat.stderr);
    const byKcat = kcat.stdout
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const [partition, key, value, headers] = l.split('\t');
        return { partition: Number(partition), key: key!, value: value!, header: /(?:^|,)n=([^,]*)/.exec(headers ?? '')?.[1] ?? '' };
      });
    assert.deepEqual(byKcat.sort(byValue), expected);

    const py = await runProcess(SYSTEM_PYTHON, ['-c', PYTHON, 'consume', f.bootstrap, topic, String(COUNT)], { timeoutMs: 60_000 });
    assert.equal(py.code, 0, py.stderr);
    const [version, ...lines] = py.stdout.toString('utf8').trim().split('\n');
    t.diagnostic(`confluent-kafka ${version}`);
    assert.deepEqual(lines.map((l) => JSON.parse(l) as Seen).sort(byValue), expected);
  });

  test("records written by kcat and confluent-kafka (murmur2_random) are read intact by Ferry's consumer, in the same partitions", { timeout: 120_000 }, async () => {
    const topic = 'to-ferry';
    await admin.createTopics([{ name: topic, partitions: PARTITIONS }]);
    const lines = Array.from({ length: COUNT }, (_, i) => `key-${i % 37}:kcat-${i}`).join('\n') + '\n';
    const kcat = await runProcess('kcat', ['-P', '-b', f.bootstrap, '-t', topic, '-K', ':', '-H', 'n=kcat', '-X', 'partitioner=murmur2_random'], { input: lines, timeoutMs: 30_000 });
    assert.equal(kcat.code, 0, kcat.stderr);
    const py = await runProcess(SYSTEM_PYTHON, ['-c', PYTHON, 'produce', f.bootstrap, topic, String(COUNT)], { timeoutMs: 60_000 });
    assert.equal(py.code, 0, py.stderr);

    const consumer = new Consumer<string | null, string | null>({ bootstrapServers: f.bootstrap, keyDeserializer: stringSerde(), valueDeserializer: stringSerde() });
    consumer.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, offset: 'earliest' as const })));
    const got: Seen[] = [];
    try {
      for await (const m of consumer) {
        got.push({ partition: m.partition, key: m.key!, value: m.value!, header: m.headers.find((h) => h.key === 'n')?.value?.toString() ?? '' });
        if (got.length === 2 * COUNT) break;
      }
    } finally {
      await consumer.close();
    }
    const expected: Seen[] = [];
    for (let i = 0; i < COUNT; i++) {
      const key = `key-${i % 37}`;
      const partition = partitionForKey(Buffer.from(key), PARTITIONS);
      expected.push({ partition, key, value: `kcat-${i}`, header: 'kcat' }, { partition, key, value: `py-${i}`, header: String(i) });
    }
    assert.deepEqual(got.sort(byValue), expected.sort(byValue));
  });
});

function byValue(a: Seen, b: Seen): number {
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

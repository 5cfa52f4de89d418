import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Broker, startBroker } from '../../src/broker/broker.js';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import { decodeMessageSet } from '../../src/protocol/legacy-message-set.js';
import { ApiVersionsApi, FetchApi, FindCoordinatorApi, ListOffsetsApi, MetadataApi, ProduceApi } from '../../src/protocol/messages/index.js';
import { RecordBatchView, buildUncompressedRecordBatch, readRecords, splitRecordBatches } from '../../src/protocol/record-batch.js';
import { readBufferPool } from '../../src/storage/buffer-pool.js';
import { WireClient } from './wire-client.js';

function batch(values: string[], timestampMs = Date.now()): Buffer {
  return buildUncompressedRecordBatch({
    records: values.map((v, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(v), headers: [{ key: 'h', value: Buffer.from('x') }] })),
    baseTimestamp: BigInt(timestampMs),
  });
}

function produce(topic: string, partition: number, records: Buffer, acks = 1) {
  return { transactionalId: null, acks, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] };
}

function fetchReq(topic: string, offset: bigint, opts: { maxWaitMs?: number; minBytes?: number; maxBytes?: number } = {}) {
  return {
    replicaId: -1,
    maxWaitMs: opts.maxWaitMs ?? 0,
    minBytes: opts.minBytes ?? 0,
    maxBytes: opts.maxBytes ?? 1 << 20,
    isolationLevel: 0,
    topics: [{ topic, partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 }] }],
  };
}

describe('broker over real TCP', () => {
  let dir: string;
  let broker: Broker;
  let client: WireClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-broker-'));
    broker = await startBroker({ port: 0, dataDir: dir, log: () => undefined, settings: { 'message.max.bytes': 10_000 } });
    client = await WireClient.connect(broker.port);
  });

  after(async () => {
    client.close();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('ApiVersions lists the served APIs from v0; an unknown version gets the v0 fallback', async () => {
    const r = await client.send(ApiVersionsApi, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' });
    assert.equal(r.errorCode, 0);
    const produceEntry = r.apiKeys.find((k) => k.apiKey === 0)!;
    assert.deepEqual([produceEntry.minVersion, produceEntry.maxVersion], [0, 11]);
    for (const k of r.apiKeys) assert.equal(k.minVersion, 0, `API ${k.apiKey} must start at v0`);
    // A version this broker does not know: the answer is an ApiVersions v0 body.
    const raw = connect(broker.port, '127.0.0.1');
    const got = new Promise<Buffer>((resolve) => raw.once('data', (d: Buffer) => resolve(d)));
    raw.write(Buffer.from([0, 0, 0, 12, 0, 18, 0, 99, 0, 0, 0, 5, 0, 2, 0x61, 0x62]));
    const resp = await got;
    assert.equal(resp.readInt32BE(4), 5, 'correlation id');
    assert.equal(resp.readInt16BE(8), ErrorCode.UNSUPPORTED_VERSION);
    assert.ok(resp.readInt32BE(10) >= 5, 'the supported API list follows');
    raw.destroy();
  });

  test('Metadata: null = all topics (v1+), empty = none (v1+) but all (v0), auto-creation, invalid names', async () => {
    const created = await client.send(MetadataApi, 9, { topics: [{ name: 'auto-created' }], allowAutoTopicCreation: true });
    assert.equal(created.topics[0]!.errorCode, 0);
    assert.equal(created.topics[0]!.partitions.length, 1);
    assert.equal(created.controllerId, broker.config.nodeId);
    assert.equal(created.brokers[0]!.port, broker.port);
    const none = await client.send(MetadataApi, 1, { topics: [] });
    assert.equal(none.topics.length, 0);
    const all = await client.send(MetadataApi, 1, { topics: null });
    assert.ok(all.topics.some((t) => t.name === 'auto-created'));
    const v0 = await client.send(MetadataApi, 0, { topics: [] });
    assert.ok(v0.topics.some((t) => t.name === 'auto-created'));
    const bad = await client.send(MetadataApi, 9, { topics: [{ name: 'bad name!' }], allowAutoTopicCreation: true });
    assert.equal(bad.topics[0]!.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
    const noAuto = await client.send(MetadataApi, 9, { topics: [{ name: 'never-created' }], allowAutoTopicCreation: false });
    assert.equal(noAuto.topics[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const v10 = await client.send(MetadataApi, 12, { topics: [{ name: 'auto-created', topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    assert.equal(v10.topics[0]!.topicId!.length, 22);
    assert.notEqual(v10.topics[0]!.topicId, 'AAAAAAAAAAAAAAAAAAAAAA');
  });

  test('Produce acks=1 and acks=all assign consecutive offsets; Fetch returns the same bytes', async () => {
    await client.send(MetadataApi, 9, { topics: [{ name: 'events' }], allowAutoTopicCreation: true });
    const a = await client.send(ProduceApi, 9, produce('events', 0, batch(['a', 'b', 'c']), 1));
    const b = await client.send(ProduceApi, 9, produce('events', 0, batch(['d']), -1));
    assert.equal(a.responses[0]!.partitionResponses[0]!.errorCode, 0);
    assert.equal(a.responses[0]!.partitionResponses[0]!.baseOffset, 0n);
    assert.equal(b.responses[0]!.partitionResponses[0]!.baseOffset, 3n);
    const f = await client.send(FetchApi, 11, fetchReq('events', 1n));
    const p = f.responses[0]!.partitions[0]!;
    assert.equal(p.errorCode, 0);
    assert.equal(p.highWatermark, 4n);
    assert.equal(p.lastStableOffset, 4n);
    assert.equal(p.preferredReadReplica, -1);
    const { batches } = splitRecordBatches(p.records!);
    const records = (await Promise.all(batches.map((x) => readRecords(x, 1 << 20)))).flat();
    assert.deepEqual(records.map((r) => [Number(r.offset), r.value!.toString()]), [[0, 'a'], [1, 'b'], [2, 'c'], [3, 'd']]);
  });

  test('Produce errors: too large, corrupt CRC, unknown topic, bad acks', async () => {
    await client.send(MetadataApi, 9, { topics: [{ name: 'strict' }], allowAutoTopicCreation: true });
    const big = await client.send(ProduceApi, 9, produce('strict', 0, batch(['x'.repeat(20_000)])));
    assert.equal(big.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.MESSAGE_TOO_LARGE);
    const corrupt = batch(['hello']);
    corrupt[corrupt.length - 1] ^= 0xff;
    const c = await client.send(ProduceApi, 9, produce('strict', 0, corrupt));
    assert.equal(c.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.CORRUPT_MESSAGE);
    const u = await client.send(ProduceApi, 9, produce('no-such-topic', 0, batch(['x'])));
    assert.equal(u.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const k = await client.send(ProduceApi, 9, produce('strict', 0, batch(['x']), 2));
    assert.equal(k.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.INVALID_REQUIRED_ACKS);
    const after = await client.send(ListOffsetsApi, 5, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'strict', partitions: [{ partitionIndex: 0, timestamp: -1n, currentLeaderEpoch: -1 }] }] });
    assert.equal(after.topics[0]!.partitions[0]!.offset, 0n, 'nothing was appended');
  });

  test('acks=0 gets no response frame; the next request is answered in order', async () => {
    await client.send(MetadataApi, 9, { topics: [{ name: 'fire' }], allowAutoTopicCreation: true });
    client.sendOneWay(ProduceApi, 9, produce('fire', 0, batch(['1']), 0));
    const r = await client.send(ListOffsetsApi, 5, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'fire', partitions: [{ partitionIndex: 0, timestamp: -1n, currentLeaderEpoch: -1 }] }] });
    assert.equal(r.topics[0]!.partitions[0]!.offset, 1n);
  });

  test('Fetch long-polls until an append arrives, and honours max_wait_ms otherwise', async () => {
    await client.send(MetadataApi, 9, { topics: [{ name: 'poll' }], allowAutoTopicCreation: true });
    const other = await WireClient.connect(broker.port);
    const started = Date.now();
    const waiting = client.send(FetchApi, 11, fetchReq('poll', 0n, { maxWaitMs: 10_000, minBytes: 1 }));
    await new Promise((r) => setTimeout(r, 100));
    await other.send(ProduceApi, 9, produce('poll', 0, batch(['wake'])));
    const f = await waiting;
    assert.ok(f.responses[0]!.partitions[0]!.records!.length > 0);
    assert.ok(Date.now() - started < 5000, 'woken by the append, not the timeout');
    const t0 = Date.now();
    const empty = await client.send(FetchApi, 11, fetchReq('poll', 1n, { maxWaitMs: 200, minBytes: 1 }));
    assert.equal(empty.responses[0]!.partitions[0]!.records!.length, 0, 'an empty record set, never null');
    assert.ok(Date.now() - t0 >= 150, 'waited for max_wait_ms');
    other.close();
  });

  test('Fetch out of range; Fetch v2 and v0 get magic 1 and magic 0 message sets', async () => {
    await client.send(MetadataApi, 9, { topics: [{ name: 'old' }], allowAutoTopicCreation: true });
    await client.send(ProduceApi, 9, produce('old', 0, batch(['x', 'y'])));
    const oor = await client.send(FetchApi, 11, fetchReq('old', 99n));
    assert.equal(oor.responses[0]!.partitions[0]!.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
    for (const [version, magic] of [[2, 1], [0, 0]] as const) {
      const f = await client.send(FetchApi, version, fetchReq('old', 0n));
      const set = f.responses[0]!.partitions[0]!.records!;
      const { records } = await decodeMessageSet(set, 1 << 20);
      assert.deepEqual(records.map((r) => [Number(r.offset), r.value!.toString(), r.magic]), [[0, 'x', magic], [1, 'y', magic]]);
    }
  });

  test('ListOffsets: earliest, latest, by timestamp, max timestamp; v0 shape', async () => {
    await client.send(MetadataApi, 9, { topics: [{ name: 'times' }], allowAutoTopicCreation: true });
    const t = 1_700_000_000_000;
    await client.send(ProduceApi, 9, produce('times', 0, batch(['a'], t)));
    await client.send(ProduceApi, 9, produce('times', 0, batch(['b'], t + 1000)));
    await client.send(ProduceApi, 9, produce('times', 0, batch(['c'], t + 500)));
    const ask = (timestamp: bigint, version = 7) =>
      client.send(ListOffsetsApi, version, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'times', partitions: [{ partitionIndex: 0, timestamp, currentLeaderEpoch: -1, maxNumOffsets: 1 }] }] });
    assert.equal((await ask(-2n)).topics[0]!.partitions[0]!.offset, 0n);
    assert.equal((await ask(-1n)).topics[0]!.partitions[0]!.offset, 3n);
    assert.equal((await ask(BigInt(t + 400))).topics[0]!.partitions[0]!.offset, 1n);
    assert.equal((await ask(BigInt(t + 2000))).topics[0]!.partitions[0]!.offset, -1n);
    const max = (await ask(-3n)).topics[0]!.partitions[0]!;
    assert.deepEqual([max.offset, max.timestamp], [1n, BigInt(t + 1000)]);
    assert.deepEqual((await ask(-1n, 0)).topics[0]!.partitions[0]!.oldStyleOffsets, [3n]);
  });

  test('a malformed or oversized frame closes only its own connection', async () => {
    const bad = await WireClient.connect(broker.port);
    bad.writeRaw(Buffer.from([0, 0, 0, 6, 0, 3, 0, 1, 0, 0])); // Metadata v1 header cut short
    await bad.whenClosed();
    const huge = await WireClient.connect(broker.port);
    huge.writeRaw(Buffer.from([0x7f, 0xff, 0xff, 0xff]));
    await huge.whenClosed();
    const garbage = await WireClient.connect(broker.port);
    garbage.writeRaw(Buffer.concat([Buffer.from([0, 0, 0, 40, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0]), Buffer.alloc(30, 0xff)]));
    await garbage.whenClosed();
    const ok = await client.send(MetadataApi, 1, { topics: [] });
    assert.equal(ok.topics.length, 0);
  });
});

test('topics and data survive a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-restart-'));
  try {
    let broker = await startBroker({ port: 0, dataDir: dir, log: () => undefined, settings: { 'num.partitions': 3 } });
    let c = await WireClient.connect(broker.port);
    const md = await c.send(MetadataApi, 12, { topics: [{ name: 'kept', topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }], allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false });
    const id = md.topics[0]!.topicId;
    await c.send(ProduceApi, 9, produce('kept', 2, batch(['persist']), -1));
    c.close();
    await broker.close();
    broker = await startBroker({ port: 0, dataDir: dir, log: () => undefined });
    c = await WireClient.connect(broker.port);
    const again = await c.send(MetadataApi, 12, { topics: [{ name: 'kept', topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    assert.equal(again.topics[0]!.topicId, id);
    assert.equal(again.topics[0]!.partitions.length, 3);
    const f = await c.send(FetchApi, 11, { ...fetchReq('kept', 0n), topics: [{ topic: 'kept', partitions: [{ partition: 2, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] }] });
    const view = new RecordBatchView(f.responses[0]!.partitions[0]!.records!, 0);
    assert.equal((await readRecords(view, 1 << 20))[0]!.value!.toString(), 'persist');
    c.close();
    await broker.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ferry start prints its listening line and exits 0 on SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-cli-'));
  try {
    const child = spawn(process.execPath, ['bin/ferry.js', 'start', '--port', '0', '--data-dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no listening line: ${out}`)), 10_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /ferry listening on ([\d.]+):(\d+)\n/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[0]);
        }
      });
    });
    const port = Number(/:(\d+)/.exec(line)![1]);
    const c = await WireClient.connect(port);
    const r = await c.send(ApiVersionsApi, 0, {});
    assert.equal(r.errorCode, 0);
    c.close();
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', (c2) => resolve(c2));
      child.kill('SIGTERM');
    });
    assert.equal(code, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('FindCoordinator names this broker for groups and transactions, one key or many (v4)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-coord-'));
  const broker = await startBroker({ port: 0, dataDir: dir, log: () => undefined });
  try {
    const c = await WireClient.connect(broker.port);
    const v0 = await c.send(FindCoordinatorApi, 0, { key: 'g' });
    assert.deepEqual([v0.errorCode, v0.nodeId, v0.host, v0.port], [0, broker.config.nodeId, '127.0.0.1', broker.port]);
    const txn = await c.send(FindCoordinatorApi, 3, { key: 't', keyType: 1 });
    assert.equal(txn.errorCode, 0);
    const bad = await c.send(FindCoordinatorApi, 3, { key: 't', keyType: 7 });
    assert.equal(bad.errorCode, ErrorCode.INVALID_REQUEST);
    const many = await c.send(FindCoordinatorApi, 4, { keyType: 0, coordinatorKeys: ['a', 'b'] });
    assert.deepEqual(many.coordinators!.map((x) => [x.key, x.nodeId, x.errorCode]), [['a', 0, 0], ['b', 0, 0]]);
    c.close();
  } finally {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('limits: max.connections, connections.max.idle.ms; LogAppendTime topics stamp batches', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-limits-'));
  const broker = await startBroker({
    port: 0,
    dataDir: dir,
    log: () => undefined,
    settings: { 'max.connections': 2, 'connections.max.idle.ms': 300, 'log.message.timestamp.type': 'LogAppendTime' },
  });
  try {
    const a = await WireClient.connect(broker.port);
    const b = await WireClient.connect(broker.port);
    await a.send(ApiVersionsApi, 0, {});
    await b.send(ApiVersionsApi, 0, {});
    const c = await WireClient.connect(broker.port);
    await c.whenClosed();
    assert.ok(c.closed, 'the third connection is refused');
    // Idle connections are closed; one in use is not.
    const started = Date.now();
    await a.whenClosed();
    assert.ok(Date.now() - started < 5000);
    b.close();

    const d = await WireClient.connect(broker.port);
    await d.send(MetadataApi, 9, { topics: [{ name: 'stamped' }], allowAutoTopicCreation: true });
    const before = Date.now();
    const r = await d.send(ProduceApi, 9, produce('stamped', 0, batch(['x'], 1000)));
    const appendTime = r.responses[0]!.partitionResponses[0]!.logAppendTimeMs!;
    assert.ok(appendTime >= BigInt(before - 1000), `log append time ${appendTime} is the broker's clock`);
    const f = await d.send(FetchApi, 11, fetchReq('stamped', 0n));
    const view = new RecordBatchView(f.responses[0]!.partitions[0]!.records!, 0);
    assert.equal(view.timestampType, 1, 'LogAppendTime');
    assert.equal(view.maxTimestamp, appendTime);
    assert.ok(view.isCrcValid(), 'the CRC was recomputed after stamping');
    d.close();
  } finally {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Fetch max_bytes across partitions: the first batch always, later ones only if they fit', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-budget-'));
  const broker = await startBroker({ port: 0, dataDir: dir, log: () => undefined, settings: { 'num.partitions': 12 } });
  try {
    const c = await WireClient.connect(broker.port);
    await c.send(MetadataApi, 9, { topics: [{ name: 'wide' }], allowAutoTopicCreation: true });
    for (let p = 0; p < 12; p++) await c.send(ProduceApi, 9, produce('wide', p, batch(['y'.repeat(3000)])));
    const size = batch(['y'.repeat(3000)]).length;
    const partitions = Array.from({ length: 12 }, (_, p) => ({ partition: p, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }));
    const f = await c.send(FetchApi, 11, { ...fetchReq('wide', 0n, { maxBytes: size * 3 + 10 }), topics: [{ topic: 'wide', partitions }] });
    const sizes = f.responses[0]!.partitions.map((p) => p.records!.length);
    assert.deepEqual(sizes, [size, size, size, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const tiny = await c.send(FetchApi, 11, { ...fetchReq('wide', 0n, { maxBytes: 10 }), topics: [{ topic: 'wide', partitions }] });
    assert.deepEqual(tiny.responses[0]!.partitions.map((p) => p.records!.length), [size, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 'KIP-74: one batch past the limit');
    c.close();
  } finally {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fetches from segment files: responses keep their bytes while read buffers are reused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-pool-'));
  // Batches of distinct 200 KB values; each fetch returns one (partitionMaxBytes is small).
  const values = (p: number, i: number): string[] => [String.fromCharCode(97 + ((p * 7 + i) % 26)).repeat(200_000), `${p}/${i}`];
  try {
    let broker = await startBroker({ port: 0, dataDir: dir, log: () => undefined, settings: { 'num.partitions': 3 } });
    let c = await WireClient.connect(broker.port);
    await c.send(MetadataApi, 9, { topics: [{ name: 'pooled' }], allowAutoTopicCreation: true });
    for (let i = 0; i < 20; i++) for (let p = 0; p < 3; p++) await c.send(ProduceApi, 9, produce('pooled', p, batch(values(p, i))));
    c.close();
    await broker.close();
    // After a restart the tail cache is empty: every fetch reads the segment files.
    broker = await startBroker({ port: 0, dataDir: dir, log: () => undefined });
    try {
      const check = async (client: WireClient, p: number, i: number): Promise<void> => {
        const f = await client.send(FetchApi, 11, {
          ...fetchReq('pooled', 0n),
          topics: [{ topic: 'pooled', partitions: [{ partition: p, fetchOffset: BigInt(2 * i), partitionMaxBytes: 100 }] }],
        });
        const records = await readRecords(new RecordBatchView(f.responses[0]!.partitions[0]!.records!, 0), 1 << 20);
        assert.deepEqual(
          records.map((r) => r.value!.toString()),
          values(p, i),
          `partition ${p} batch ${i}`,
        );
      };
      // A client that does not read while its fetches are answered: the broker's socket
      // fills, and responses wait, read but unsent, while other clients' reads take buffers.
      const slow = await WireClient.connect(broker.port);
      slow.socket.pause();
      const slowChecks = Array.from({ length: 60 }, (_, i) => check(slow, i % 3, i % 20));
      await new Promise((resolve) => setTimeout(resolve, 200));
      const clients = await Promise.all([0, 1].map(() => WireClient.connect(broker.port)));
      for (let round = 0; round < 2; round++) {
        await Promise.all(clients.map((client, k) => Promise.all(Array.from({ length: 20 }, (_, i) => check(client, (k + i) % 3, i)))));
      }
      slow.socket.resume();
      await Promise.all(slowChecks);
      for (const client of [slow, ...clients]) client.close();
      await new Promise((resolve) => setImmediate(resolve));
      assert.ok(readBufferPool.retainedBytes > 0, 'written responses gave their read buffers back');
    } finally {
      await broker.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

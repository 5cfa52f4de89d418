import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type CliBroker, ferry, ferryOk, startCliBroker, unique } from './cli-harness.js';

interface BenchJson {
  mode: string;
  topic: string;
  partitions: number;
  records: number;
  recordSize: number;
  acks: string;
  compression: string;
  seconds: number;
  msgPerSec: number;
  mbPerSec: number;
  latency: string;
  latencyMs: { p50: number; p99: number; p999: number; max: number };
}

function checkFigures(r: BenchJson, mode: string, records: number, recordSize: number): void {
  assert.equal(r.mode, mode);
  assert.equal(r.records, records);
  assert.equal(r.recordSize, recordSize);
  assert.ok(r.seconds > 0 && r.msgPerSec > 0 && r.mbPerSec > 0, JSON.stringify(r));
  assert.ok(Math.abs(r.msgPerSec * r.seconds - records) / records < 0.01, 'msg/s × seconds = records');
  assert.ok(Math.abs(r.mbPerSec - (r.msgPerSec * recordSize) / 1e6) / r.mbPerSec < 0.01, 'MB/s = msg/s × record size');
  const l = r.latencyMs;
  assert.ok(l.p50 >= 0 && l.p50 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max, JSON.stringify(l));
}

describe('ferry bench', () => {
  let b: CliBroker;
  before(async () => {
    b = await startCliBroker();
  });
  after(async () => {
    await b.close();
  });

  test('bench produce --json: throughput and latency percentiles; the topic holds the records', async () => {
    const topic = unique('bench');
    const args = ['bench', 'produce', '--json', '--topic', topic, '--partitions', '2', '--records', '3000', '--record-size', '200', '--acks', '1', '--compression', 'lz4', '--linger-ms', '2', '--batch-bytes', '65536'];
    const r = JSON.parse(await ferryOk([...args, ...b.at])) as BenchJson;
    checkFigures(r, 'produce', 3000, 200);
    assert.equal(r.partitions, 2);
    assert.equal(r.acks, '1');
    assert.equal(r.compression, 'lz4');
    assert.equal(r.latency, 'send to acknowledgement');
    const d = JSON.parse(await ferryOk(['topic', 'describe', topic, '--json', ...b.at])) as { partitions: Array<{ endOffset: number }> };
    assert.equal(d.partitions.length, 2);
    assert.equal(d.partitions.reduce((n, p) => n + p.endOffset, 0), 3000);
  });

  test('bench produce prints its figures for people; --progress shows the live line on stderr', async () => {
    const r = await ferry(['bench', 'produce', '--topic', unique('bench'), '--records', '20000', '--record-size', '100', '--rate', '10000', '--progress', ...b.at]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^bench produce: 20,000 records of 100 B, topic \S+ \(3 partitions\), acks=all, compression none, linger 5 ms, batch 262,144 B$/m);
    assert.match(r.stdout, /^throughput {2}[\d,]+ msg\/s {2}[\d.]+ MB\/s {2}\([\d.]+ s\)$/m);
    assert.match(r.stdout, /^latency {5}p50 [\d.]+ ms {2}p99 [\d.]+ ms {2}p99\.9 [\d.]+ ms {2}max [\d.]+ ms {2}\(send to acknowledgement\)$/m);
    // --rate 10000 makes the run last about 2 s, long enough for progress lines every second.
    assert.match(r.stderr, /^produce: [\d,]+\/20,000 records \(\d+%\), [\d,]+ msg\/s, [\d.]+ MB\/s, [\d.]+ s$/m);
  });

  test('bench consume reads the records back (filling the topic first) and bench e2e measures send-to-arrival', async () => {
    const topic = unique('bench');
    const consumed = JSON.parse(await ferryOk(['bench', 'consume', '--json', '--topic', topic, '--records', '2000', '--record-size', '300', ...b.at])) as BenchJson;
    checkFigures(consumed, 'consume', 2000, 300);
    assert.equal(consumed.latency, 'wait for each fetched batch');
    const e2e = JSON.parse(await ferryOk(['bench', 'e2e', '--json', '--topic', topic, '--records', '2000', '--record-size', '300', '--acks', '1', ...b.at])) as BenchJson;
    checkFigures(e2e, 'e2e', 2000, 300);
    assert.equal(e2e.latency, 'send to arrival at the consumer');
    const d = JSON.parse(await ferryOk(['topic', 'describe', topic, '--json', ...b.at])) as { partitions: Array<{ endOffset: number }> };
    assert.equal(d.partitions.reduce((n, p) => n + p.endOffset, 0), 4000, 'consume filled 2000, e2e added 2000');
  });
});

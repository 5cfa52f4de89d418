import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildUncompressedRecordBatch } from '../../src/protocol/record-batch.js';
import { ManualClock } from '../../src/storage/clock.js';
import { LogManager, parsePartitionDirName, partitionDirName } from '../../src/storage/log-manager.js';
import { MemoryFileSystem } from './memory-file-system.js';

function batch(value: string, timestampMs: number): Buffer {
  return buildUncompressedRecordBatch({ records: [{ key: null, value: Buffer.from(value) }], baseTimestamp: BigInt(timestampMs) });
}

test('partition directory names: the partition follows the last dash', () => {
  assert.equal(partitionDirName('my-topic', 3), 'my-topic-3');
  assert.deepEqual(parsePartitionDirName('my-topic-3'), { topic: 'my-topic', partition: 3 });
  assert.deepEqual(parsePartitionDirName('a-b-c-12'), { topic: 'a-b-c', partition: 12 });
  assert.equal(parsePartitionDirName('no_partition'), null);
  assert.equal(parsePartitionDirName('t-99999999999'), null);
});

test('logs are found again on restart; deleting a topic removes exactly its files', async () => {
  const fs = new MemoryFileSystem();
  const clock = new ManualClock();
  let m = await LogManager.open('/data', { fs, clock });
  for (const [t, p] of [['orders', 0], ['orders', 1], ['orders-eu', 0]] as const) {
    const log = await m.getOrCreate(t, p);
    await log.append(batch(`${t}/${p}`, clock.nowMs()), { durable: true });
  }
  await m.close();

  m = await LogManager.open('/data', { fs, clock });
  assert.deepEqual([...m.all().keys()].sort(), ['orders-0', 'orders-1', 'orders-eu-0']);
  assert.equal(m.get('orders', 1)!.logEndOffset, 1);
  assert.equal(await m.deleteTopic('orders'), 2);
  assert.deepEqual([...m.all().keys()], ['orders-eu-0']);
  assert.ok(fs.listFiles('/data').every((f) => f.startsWith('/data/orders-eu-0/')), fs.listFiles('/data').join(','));
  await m.close();
});

test('a deletion interrupted by a crash is finished at the next start', async () => {
  const fs = new MemoryFileSystem();
  const clock = new ManualClock();
  const m = await LogManager.open('/data', { fs, clock });
  await (await m.getOrCreate('t', 0)).append(batch('x', clock.nowMs()), { durable: true });
  await m.close();
  // What deleteTopic leaves if it dies between the rename and the removal.
  await fs.rename('/data/t-0', '/data/t-0.1-5.deleting');
  await fs.syncDir('/data');
  fs.crash({ tornWrites: false });
  const again = await LogManager.open('/data', { fs, clock });
  assert.equal(again.all().size, 0);
  assert.deepEqual(fs.listFiles('/data'), []);
  await again.close();
});

test('retention runs over every log and concurrent getOrCreate opens a log once', async () => {
  const fs = new MemoryFileSystem();
  const clock = new ManualClock();
  const m = await LogManager.open('/data', { fs, clock });
  const [a, b] = await Promise.all([m.getOrCreate('r', 0, { segmentBytes: 200, retentionMs: 1000 }), m.getOrCreate('r', 0)]);
  assert.equal(a, b);
  for (let i = 0; i < 10; i++) await a.append(batch(`v${i}`.padEnd(80, '.'), clock.nowMs()));
  assert.ok(a.segmentCount > 3);
  clock.advance(5000);
  await a.append(batch('fresh'.padEnd(80, '.'), clock.nowMs()));
  const deleted = await m.applyRetention();
  assert.ok(deleted > 0);
  assert.equal(a.logStartOffset, a.segmentBaseOffsets[0]);
  assert.ok(a.logStartOffset > 0);
  assert.equal(a.logEndOffset, 11);
  await m.close();
});

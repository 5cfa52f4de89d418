import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool, readBufferPool } from '../../src/storage/buffer-pool.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { LogOfflineError } from '../../src/storage/storage-errors.js';
import { StorageResources } from '../../src/storage/storage-resources.js';
import { batchForSeq } from './crash-workload.js';
import { MemoryFileSystem } from './memory-file-system.js';

const KiB = 1024;

test('a pool lends buffers of the size asked and reuses them once given back', () => {
  const pool = new BufferPool(256 * KiB);
  const a = pool.take(100_000);
  assert.equal(a.length, 100_000);
  assert.ok(pool.owns(a));
  assert.ok(pool.owns(a.subarray(10, 20)), 'a slice belongs to the pool too');
  assert.equal(pool.lentCount, 1);
  // Giving back a slice gives back the whole buffer; a second give is ignored.
  pool.give(a.subarray(5, 50));
  pool.give(a);
  assert.equal(pool.owns(a), false);
  assert.equal(pool.lentCount, 0);
  assert.equal(pool.retainedBytes, 128 * KiB);
  // The same size class is served from the idle buffer.
  const b = pool.take(70_000);
  assert.equal(b.buffer, a.buffer);
  assert.equal(b.length, 70_000);
  assert.equal(pool.retainedBytes, 0);
  // Buffers not taken from the pool are none of its business.
  const foreign = Buffer.alloc(100);
  pool.give(foreign);
  assert.equal(pool.owns(foreign), false);
  assert.equal(pool.retainedBytes, 0);
  // Reads too large for a class get plain buffers.
  const huge = pool.take(17 * 1024 * KiB);
  assert.equal(pool.owns(huge), false);
  // Idle buffers are kept up to the bound; more are left to the garbage collector.
  const more = [pool.take(128 * KiB), pool.take(128 * KiB)];
  pool.give(b);
  for (const m of more) pool.give(m);
  assert.equal(pool.retainedBytes, 256 * KiB);
  assert.equal(pool.lentCount, 0);
});

test('pooled segment reads lend buffers, and give them back when they fail or find nothing', async () => {
  const fs = new MemoryFileSystem();
  // No tail cache: every read goes to the segment file.
  const resources = new StorageResources({ tailCacheBytesPerLogMax: 0 });
  const config = { segmentBytes: 1 << 20, indexIntervalBytes: 256, segmentMs: Infinity, retentionMs: -1 };
  let log = await PartitionLog.open('/data/t-0', config, { fs, resources, log: () => undefined });
  const batches: Buffer[] = [];
  for (let seq = 0; seq < 8; seq++) {
    const b = batchForSeq(seq);
    batches.push(Buffer.from(b));
    await log.append(b);
  }
  const lentBefore = readBufferPool.lentCount;
  // Without `pooled` a read gets a buffer of its own, which it may keep.
  const plain = await log.read(0, 1);
  assert.equal(readBufferPool.owns(plain.chunks[0]!), false);
  assert.equal(readBufferPool.lentCount, lentBefore);
  const first = await log.read(0, 1, Infinity, { pooled: true });
  assert.equal(first.chunks.length, 1);
  const chunk = first.chunks[0]!;
  assert.ok(readBufferPool.owns(chunk));
  assert.deepEqual(chunk.subarray(12), batches[0]!.subarray(12), 'the first batch (after its base offset and length)');
  readBufferPool.give(chunk);
  // The next read reuses the buffer, with the next batch's bytes in it.
  const second = await log.read(first.nextOffset, 1, Infinity, { pooled: true });
  assert.equal(second.chunks[0]!.buffer, chunk.buffer);
  assert.deepEqual(second.chunks[0]!.subarray(12), batches[1]!.subarray(12));
  readBufferPool.give(second.chunks[0]!);
  assert.equal(readBufferPool.lentCount, lentBefore);
  // At the log end there is nothing to read and nothing stays lent.
  assert.deepEqual((await log.read(log.logEndOffset, 1 << 20, Infinity, { pooled: true })).chunks, []);
  assert.equal(readBufferPool.lentCount, lentBefore);

  // A batch that fails its CRC on the way takes the partition offline; the window goes back.
  await log.close();
  const segment = '/data/t-0/00000000000000000000.log';
  fs.corrupt(segment, batches[0]!.length + batches[1]!.length + 70, 0xff);
  log = await PartitionLog.open('/data/t-0', config, { fs, resources, log: () => undefined });
  await assert.rejects(log.read(0, 1 << 20, Infinity, { pooled: true }), LogOfflineError);
  assert.equal(readBufferPool.lentCount, lentBefore);
});

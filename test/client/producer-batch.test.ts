import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { RecordBuffer } from '../../src/client/producer-batch.js';
import { CompressionCodec } from '../../src/protocol/compression.js';
import { type KafkaRecord, RecordBatchView, type RecordHeader, buildUncompressedRecordBatch, readRecords } from '../../src/protocol/record-batch.js';

interface Input {
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
  timestamp: number;
}

/** Checks the batch as the broker does on produce, then reads its records back. */
async function readBack(batch: Buffer): Promise<{ view: RecordBatchView; records: KafkaRecord[] }> {
  const view = new RecordBatchView(batch, 0);
  assert.equal(view.validate(1 << 30, { fromProducer: true }), null);
  assert.ok(view.isCrcValid());
  return { view, records: await readRecords(view, 1 << 30, { verifyCrc: true, requireContiguousOffsets: true }) };
}

function assertRecords(records: KafkaRecord[], inputs: Input[]): void {
  assert.equal(records.length, inputs.length);
  records.forEach((r, i) => {
    const input = inputs[i]!;
    assert.equal(r.offset, BigInt(i));
    assert.equal(r.timestamp, BigInt(input.timestamp));
    assert.deepEqual(r.key, input.key);
    assert.deepEqual(r.value, input.value);
    assert.deepEqual(
      r.headers.map((h) => [h.key, h.value]),
      input.headers.map((h) => [h.key, h.value]),
    );
  });
}

const inputArb = fc.record({
  key: fc.option(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), { nil: null }),
  value: fc.option(fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a)), { nil: null }),
  headers: fc.array(
    fc.record({ key: fc.string({ maxLength: 20 }), value: fc.option(fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)), { nil: null }) }),
    { maxLength: 3 },
  ),
  // Around now, with deltas of either sign, and now and then very far off.
  timestamp: fc.oneof(fc.integer({ min: 1_700_000_000_000, max: 1_800_000_000_000 }), fc.integer({ min: -1, max: 2 ** 40 })),
});

describe('producer record batches (one buffer per batch)', () => {
  test('records written as they arrive read back exactly, and match the protocol builder byte for byte', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(inputArb, { minLength: 1, maxLength: 40 }), fc.integer({ min: 61, max: 5000 }), async (inputs, capacity) => {
        const rb = new RecordBuffer(capacity);
        inputs.forEach((input, i) => assert.equal(rb.append(input.key, input.value, input.headers, input.timestamp, 1 << 20), i));
        const built = await rb.build(CompressionCodec.None, undefined);
        const { view, records } = await readBack(built);
        assertRecords(records, inputs);
        assert.equal(view.baseTimestamp, BigInt(inputs[0]!.timestamp));
        assert.equal(view.maxTimestamp, BigInt(Math.max(...inputs.map((r) => r.timestamp))));
        const reference = buildUncompressedRecordBatch({
          records: inputs.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: BigInt(r.timestamp) })),
          producerId: -1n,
          producerEpoch: -1,
          baseSequence: -1,
        });
        assert.deepEqual(built, reference);
      }),
      { numRuns: 200 },
    );
  });

  test('a split keeps every record, in order, with offsets renumbered in each half', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(inputArb, { minLength: 2, maxLength: 40 }), fc.nat(), async (inputs, cut) => {
        const rb = new RecordBuffer(100);
        for (const input of inputs) rb.append(input.key, input.value, input.headers, input.timestamp, 1 << 20);
        const at = 1 + (cut % (inputs.length - 1));
        const [first, second] = rb.split(at);
        const a = await readBack(await first.build(CompressionCodec.None, undefined));
        const b = await readBack(await second.build(CompressionCodec.None, undefined));
        assertRecords(a.records, inputs.slice(0, at));
        assertRecords(b.records, inputs.slice(at));
        assert.equal(b.view.maxTimestamp, BigInt(Math.max(...inputs.slice(at).map((r) => r.timestamp))));
      }),
      { numRuns: 200 },
    );
  });

  test('compressed batches carry the codec and decompress to the same records', async () => {
    const inputs: Input[] = Array.from({ length: 50 }, (_, i) => ({
      key: Buffer.from(`k${i}`),
      value: Buffer.from(`value ${i} `.repeat(20)),
      headers: [{ key: 'h', value: null }],
      timestamp: 1_700_000_000_000 + i,
    }));
    for (const codec of [CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4, CompressionCodec.Zstd]) {
      const rb = new RecordBuffer(64);
      for (const input of inputs) rb.append(input.key, input.value, input.headers, input.timestamp, 1 << 20);
      const built = await rb.build(codec, undefined);
      assert.ok(built.length < rb.pos, `${codec} compressed`);
      const { view, records } = await readBack(built);
      assert.equal(view.compression, codec);
      assertRecords(records, inputs);
    }
  });

  test('the buffer grows by doubling up to the cap, and past it only for one large record', () => {
    const rb = new RecordBuffer(100);
    const value = Buffer.alloc(100);
    for (let i = 0; i < 20; i++) rb.append(null, value, [], 0, 1000);
    assert.ok(rb.buf.length <= Math.max(1000, rb.pos), `capacity ${rb.buf.length}`);
    const big = new RecordBuffer(100);
    big.append(null, Buffer.alloc(5000), [], 0, 1000);
    assert.ok(big.buf.length >= big.pos && big.pos > 5000);
  });

  test('a timestamp too far from the batch base for an exact delta does not fit', () => {
    const rb = new RecordBuffer(100);
    assert.ok(rb.fitsTimestamp(2 ** 52));
    rb.append(null, null, [], 0, 1000);
    assert.ok(rb.fitsTimestamp(2 ** 50));
    assert.ok(!rb.fitsTimestamp(2 ** 52));
    assert.ok(!rb.fitsTimestamp(-(2 ** 52)));
  });
});

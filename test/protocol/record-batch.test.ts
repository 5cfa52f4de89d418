import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CompressionCodec } from '../../src/protocol/compression.js';
import { EncodeError, ProtocolError } from '../../src/protocol/protocol-error.js';
import {
  ControlRecordType,
  RECORDS_OFFSET,
  RecordBatchView,
  RecordBatchWalker,
  TimestampType,
  buildControlBatch,
  buildRecordBatch,
  buildUncompressedRecordBatch,
  peekMagic,
  readControlRecord,
  readRecords,
  splitRecordBatches,
  type KafkaRecord,
  type RecordBatchInput,
  type RecordHeader,
} from '../../src/protocol/record-batch.js';

const MAX_UNCOMPRESSED = 16 * 1024 * 1024;

/**
 * A batch written byte by byte from the format description, independent of the builder:
 * baseOffset 42, partitionLeaderEpoch 7, transactional, uncompressed, create time, producer
 * 1000 epoch 5 sequence 10, two records. The CRC was computed with a separate bitwise
 * CRC-32C implementation.
 */
function handBuiltBatch(): Buffer {
  const hex =
    '000000000000002a' + // baseOffset 42
    '00000048' + // batchLength 72 (84 - 12)
    '00000007' + // partitionLeaderEpoch 7
    '02' + // magic
    'd84439e2' + // crc
    '0010' + // attributes: transactional
    '00000001' + // lastOffsetDelta 1
    '0000018bcfe56800' + // baseTimestamp 1700000000000
    '0000018bcfe56805' + // maxTimestamp 1700000000005
    '00000000000003e8' + // producerId 1000
    '0005' + // producerEpoch 5
    '0000000a' + // baseSequence 10
    '00000002' + // recordCount 2
    // record 0: length 15, attributes 0, timestampDelta 0, offsetDelta 0, key "k", value "hello",
    // one header "h" with a null value
    '1e' + '00' + '00' + '00' + '02' + '6b' + '0a' + '68656c6c6f' + '02' + '02' + '68' + '01' +
    // record 1: length 6, attributes 0, timestampDelta 5, offsetDelta 1, null key, empty value, no headers
    '0c' + '00' + '0a' + '02' + '01' + '00' + '00';
  return Buffer.from(hex, 'hex');
}

test('header accessors read every field of a hand-built batch', () => {
  const buf = handBuiltBatch();
  assert.equal(buf.length, 84);
  const view = new RecordBatchView(buf, 0);
  assert.equal(view.baseOffset, 42n);
  assert.equal(view.batchLength, 72);
  assert.equal(view.sizeBytes, 84);
  assert.equal(view.partitionLeaderEpoch, 7);
  assert.equal(view.magic, 2);
  assert.equal(view.crc, 0xd84439e2);
  assert.equal(view.computeCrc(), 0xd84439e2);
  assert.equal(view.isCrcValid(), true);
  assert.equal(view.attributes, 0x10);
  assert.equal(view.compression, CompressionCodec.None);
  assert.equal(view.timestampType, TimestampType.CreateTime);
  assert.equal(view.isTransactional, true);
  assert.equal(view.isControl, false);
  assert.equal(view.hasDeleteHorizon, false);
  assert.equal(view.lastOffsetDelta, 1);
  assert.equal(view.lastOffset, 43n);
  assert.equal(view.nextOffset, 44n);
  assert.equal(view.baseTimestamp, 1700000000000n);
  assert.equal(view.maxTimestamp, 1700000000005n);
  assert.equal(view.producerId, 1000n);
  assert.equal(view.producerEpoch, 5);
  assert.equal(view.baseSequence, 10);
  assert.equal(view.lastSequence, 11);
  assert.equal(view.recordCount, 2);
  assert.equal(view.recordsBytes.length, 84 - RECORDS_OFFSET);
  assert.equal(view.bytes.length, 84);
  assert.equal(view.validate(1000), null);
  assert.equal(peekMagic(buf), 2);
});

test('the view reads a batch at a non-zero offset inside a larger buffer', () => {
  const batch = handBuiltBatch();
  const buf = Buffer.concat([Buffer.from([9, 9, 9]), batch, Buffer.from([7])]);
  const view = new RecordBatchView(buf, 3);
  assert.equal(view.baseOffset, 42n);
  assert.equal(view.isCrcValid(), true);
  assert.deepEqual(view.bytes, batch);
});

test('records of the hand-built batch', async () => {
  const records = await readRecords(handBuiltBatch(), MAX_UNCOMPRESSED, { verifyCrc: true, requireContiguousOffsets: true });
  assert.equal(records.length, 2);
  assert.deepEqual(records[0], {
    offset: 42n,
    timestamp: 1700000000000n,
    key: Buffer.from('k'),
    value: Buffer.from('hello'),
    headers: [{ key: 'h', value: null }],
    control: null,
  });
  assert.deepEqual(records[1], {
    offset: 43n,
    timestamp: 1700000000005n,
    key: null,
    value: Buffer.alloc(0),
    headers: [],
    control: null,
  });
});

test('the builder reproduces the hand-built batch exactly', () => {
  const built = buildUncompressedRecordBatch({
    baseOffset: 42n,
    partitionLeaderEpoch: 7,
    isTransactional: true,
    producerId: 1000n,
    producerEpoch: 5,
    baseSequence: 10,
    records: [
      { key: Buffer.from('k'), value: Buffer.from('hello'), headers: [{ key: 'h', value: null }], timestamp: 1700000000000n },
      { key: null, value: Buffer.alloc(0), timestamp: 1700000000005n },
    ],
  });
  assert.deepEqual(built, handBuiltBatch());
});

test('attribute bits decode independently', () => {
  // An empty batch header with attributes lz4 | log-append | transactional | control | delete horizon.
  const buf = Buffer.alloc(61);
  buf.writeInt32BE(49, 8);
  buf.writeInt8(2, 16);
  buf.writeInt16BE(0x7b, 21);
  const view = new RecordBatchView(buf);
  assert.equal(view.compression, CompressionCodec.Lz4);
  assert.equal(view.timestampType, TimestampType.LogAppendTime);
  assert.equal(view.isTransactional, true);
  assert.equal(view.isControl, true);
  assert.equal(view.hasDeleteHorizon, true);
  buf.writeInt16BE(0x04, 21);
  assert.equal(view.compression, CompressionCodec.Zstd);
  assert.equal(view.timestampType, TimestampType.CreateTime);
  assert.equal(view.isTransactional, false);
  assert.equal(view.isControl, false);
  assert.equal(view.hasDeleteHorizon, false);
});

test('lastSequence wraps past the int32 maximum', () => {
  const buf = handBuiltBatch();
  const view = new RecordBatchView(buf);
  buf.writeInt32BE(0x7fffffff, 53);
  assert.equal(view.lastSequence, 0);
  buf.writeInt32BE(-1, 53);
  assert.equal(view.lastSequence, -1);
});

test('setBaseOffset and setPartitionLeaderEpoch keep the CRC valid', () => {
  const buf = handBuiltBatch();
  const view = new RecordBatchView(buf);
  view.setBaseOffset(9_000_000_000_000n);
  view.setPartitionLeaderEpoch(123456);
  assert.equal(view.baseOffset, 9_000_000_000_000n);
  assert.equal(view.partitionLeaderEpoch, 123456);
  assert.equal(view.lastOffset, 9_000_000_000_001n);
  assert.equal(view.isCrcValid(), true);
  assert.equal(view.crc, 0xd84439e2);
  assert.throws(() => view.setBaseOffset(1n << 63n), EncodeError);
});

test('setMaxTimestamp switches to log-append time and rewrites the CRC', async () => {
  const buf = handBuiltBatch();
  const view = new RecordBatchView(buf);
  view.setMaxTimestamp(TimestampType.LogAppendTime, 1800000000000n);
  assert.equal(view.timestampType, TimestampType.LogAppendTime);
  assert.equal(view.isTransactional, true);
  assert.equal(view.isCrcValid(), true);
  const records = await readRecords(view, MAX_UNCOMPRESSED);
  assert.deepEqual(
    records.map((r) => r.timestamp),
    [1800000000000n, 1800000000000n],
  );
});

test('every single bit flip in the CRC field or the region it covers is detected', () => {
  const original = handBuiltBatch();
  for (let byte = 17; byte < original.length; byte++) {
    for (let bit = 0; bit < 8; bit++) {
      const buf = Buffer.from(original);
      buf[byte] ^= 1 << bit;
      assert.equal(new RecordBatchView(buf).isCrcValid(), false, `byte ${byte} bit ${bit}`);
    }
  }
  // The fields before the CRC (apart from the length) are not covered.
  for (const byte of [0, 7, 12, 15]) {
    const buf = Buffer.from(original);
    buf[byte] ^= 0x80;
    assert.equal(new RecordBatchView(buf).isCrcValid(), true);
  }
});

test('validate reports each kind of problem', () => {
  const fresh = (): { buf: Buffer; view: RecordBatchView } => {
    const buf = handBuiltBatch();
    return { buf, view: new RecordBatchView(buf) };
  };
  assert.equal(fresh().view.validate(84), null);
  assert.equal(fresh().view.validate(83)?.kind, 'too-large');

  let { buf, view } = fresh();
  buf[16] = 1;
  assert.equal(view.validate(1000)?.kind, 'corrupt');

  ({ buf, view } = fresh());
  buf[83] ^= 1;
  assert.match(view.validate(1000)?.reason ?? '', /crc/);

  ({ buf, view } = fresh());
  buf.writeInt16BE(0x15, 21); // codec 5 does not exist
  view.updateCrc();
  assert.equal(view.validate(1000)?.kind, 'corrupt');

  ({ buf, view } = fresh());
  buf.writeInt32BE(2, 23); // lastOffsetDelta no longer matches the count of 2
  view.updateCrc();
  assert.equal(view.validate(1000)?.kind, 'invalid-record');
  assert.equal(view.validate(1000, { fromProducer: false }), null);

  ({ buf, view } = fresh());
  buf.writeInt32BE(3, 57); // three records claimed, two present
  buf.writeInt32BE(2, 23);
  view.updateCrc();
  assert.equal(view.validate(1000)?.kind, 'corrupt');

  ({ buf, view } = fresh());
  buf.writeInt32BE(-1, 53); // idempotent producer without a sequence
  view.updateCrc();
  assert.equal(view.validate(1000)?.kind, 'invalid-record');

  ({ buf, view } = fresh());
  buf.writeBigInt64BE(-1n, 43); // transactional without a producer id
  view.updateCrc();
  assert.equal(view.validate(1000)?.kind, 'invalid-record');

  ({ buf, view } = fresh());
  buf[64] = 0x02; // record 0's offsetDelta 1 instead of 0: both records claim offset 43
  view.updateCrc();
  assert.equal(view.validate(1000)?.kind, 'invalid-record');
  assert.equal(view.validate(1000, { fromProducer: false }), null);

  ({ buf, view } = fresh());
  buf[61] = 0x1c; // record 0 claims 14 bytes but its fields take 15
  view.updateCrc();
  assert.equal(view.validate(1000)?.kind, 'corrupt');
});

test('readRecords refuses gaps only when asked to', async () => {
  const buf = handBuiltBatch();
  buf[80] = 0x04; // record 1's offsetDelta 2 instead of 1, as compaction may leave it
  buf.writeInt32BE(2, 23);
  const view = new RecordBatchView(buf);
  view.updateCrc();
  const records = await readRecords(view, MAX_UNCOMPRESSED);
  assert.deepEqual(
    records.map((r) => r.offset),
    [42n, 44n],
  );
  await assert.rejects(readRecords(view, MAX_UNCOMPRESSED, { requireContiguousOffsets: true }), ProtocolError);
});

test('readRecords with verifyCrc refuses a corrupted batch', async () => {
  const buf = handBuiltBatch();
  buf[70] ^= 4;
  await assert.rejects(readRecords(buf, MAX_UNCOMPRESSED, { verifyCrc: true }), ProtocolError);
});

test('the view constructor refuses short buffers and impossible lengths', () => {
  const buf = handBuiltBatch();
  assert.throws(() => new RecordBatchView(buf.subarray(0, 60)), ProtocolError);
  assert.throws(() => new RecordBatchView(buf.subarray(0, 83)), ProtocolError);
  const short = Buffer.from(buf);
  short.writeInt32BE(48, 8);
  assert.throws(() => new RecordBatchView(short), ProtocolError);
  assert.throws(() => new RecordBatchView(buf, 1), ProtocolError);
});

test('builder input errors are EncodeErrors', async () => {
  assert.throws(() => buildUncompressedRecordBatch({ records: [] }), EncodeError);
  assert.throws(
    () =>
      buildUncompressedRecordBatch({
        records: [
          { key: null, value: null, offsetDelta: 1 },
          { key: null, value: null, offsetDelta: 1 },
        ],
      }),
    EncodeError,
  );
  assert.throws(() => buildUncompressedRecordBatch({ records: [{ key: null, value: null }], producerEpoch: 40000 }), EncodeError);
  assert.throws(() => buildUncompressedRecordBatch({ records: [{ key: null, value: null }], compression: CompressionCodec.Gzip }), EncodeError);
  await assert.rejects(buildRecordBatch({ records: [{ key: null, value: null }], compression: 6 as CompressionCodec }), EncodeError);
});

test('decompression beyond the limit is a ProtocolError', async () => {
  const batch = await buildRecordBatch({
    records: [{ key: null, value: Buffer.alloc(100_000), timestamp: 1n }],
    compression: CompressionCodec.Gzip,
  });
  assert.ok(batch.length < 10_000);
  await assert.rejects(readRecords(batch, 50_000), ProtocolError);
  assert.equal((await readRecords(batch, 200_000)).length, 1);
});

// ---- properties --------------------------------------------------------------------------------

const bytesArb = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
const nullableBytesArb = fc.option(bytesArb, { nil: null, freq: 4 });
/** Timestamps whose differences still fit in an int64, as the format requires. */
const halfInt64Arb = fc.bigInt(-(1n << 62n) + 1n, (1n << 62n) - 1n);
const timestampArb = fc.oneof(fc.bigInt(-1n, 1n << 42n), fc.constant(-1n));
const headerArb = fc.record({ key: fc.string({ unit: 'grapheme', maxLength: 20 }), value: nullableBytesArb }, { noNullPrototype: true });
const recordArb = fc.record({
  key: nullableBytesArb,
  value: nullableBytesArb,
  headers: fc.array(headerArb, { maxLength: 4 }),
  timestamp: timestampArb,
});
const codecArb = fc.constantFrom(
  CompressionCodec.None,
  CompressionCodec.Gzip,
  CompressionCodec.Snappy,
  CompressionCodec.Lz4,
  CompressionCodec.Zstd,
);
const batchInputArb = fc.record({
  records: fc.array(recordArb, { minLength: 1, maxLength: 12 }),
  baseOffset: fc.bigInt(0n, 1n << 50n),
  compression: codecArb,
  timestampType: fc.constantFrom(TimestampType.CreateTime, TimestampType.LogAppendTime),
  isTransactional: fc.boolean(),
  producerId: fc.oneof(fc.constant(-1n), fc.bigInt(0n, 1n << 40n)),
  producerEpoch: fc.integer({ min: -1, max: 0x7fff }),
  baseSequence: fc.integer({ min: 0, max: 0x7fffffff }),
  partitionLeaderEpoch: fc.integer({ min: -1, max: 0x7fffffff }),
}) satisfies fc.Arbitrary<RecordBatchInput>;

interface GeneratedBatch {
  records: Array<{ key: Buffer | null; value: Buffer | null; headers: RecordHeader[]; timestamp: bigint }>;
  baseOffset: bigint;
  timestampType: TimestampType;
}

function expectedRecords(input: GeneratedBatch): KafkaRecord[] {
  const maxTimestamp = input.records.reduce((m, r) => (r.timestamp > m ? r.timestamp : m), input.records[0]!.timestamp);
  return input.records.map((r, i) => ({
    offset: input.baseOffset + BigInt(i),
    timestamp: input.timestampType === TimestampType.LogAppendTime ? maxTimestamp : r.timestamp,
    key: r.key,
    value: r.value,
    headers: r.headers,
    control: null,
  }));
}

test('build then read returns the same records for every codec', async () => {
  await fc.assert(
    fc.asyncProperty(batchInputArb, async (input) => {
      const buf = await buildRecordBatch(input);
      const view = new RecordBatchView(buf);
      assert.equal(view.sizeBytes, buf.length);
      assert.equal(view.compression, input.compression);
      assert.equal(view.timestampType, input.timestampType);
      assert.equal(view.isTransactional, input.isTransactional);
      assert.equal(view.producerId, input.producerId);
      assert.equal(view.producerEpoch, input.producerEpoch);
      assert.equal(view.baseSequence, input.baseSequence);
      assert.equal(view.partitionLeaderEpoch, input.partitionLeaderEpoch);
      assert.equal(view.recordCount, input.records.length);
      assert.equal(view.lastOffset, input.baseOffset + BigInt(input.records.length - 1));
      assert.equal(view.baseTimestamp, input.records[0]!.timestamp);
      if (input.isTransactional && input.producerId < 0n) {
        assert.equal(view.validate(buf.length)?.kind, 'invalid-record');
        assert.equal(view.validate(buf.length, { fromProducer: false }), null);
      } else {
        assert.equal(view.validate(buf.length), null);
      }
      const records = await readRecords(view, MAX_UNCOMPRESSED, { verifyCrc: true, requireContiguousOffsets: true });
      assert.deepEqual(records, expectedRecords(input));
    }),
    { numRuns: 150 },
  );
});

test('extreme timestamps and explicit offset deltas round trip', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ timestamp: halfInt64Arb, gap: fc.integer({ min: 1, max: 1000 }) }), { minLength: 1, maxLength: 6 }),
      async (specs) => {
        let offsetDelta = -1;
        const records = specs.map((s) => ({ key: null, value: null, timestamp: s.timestamp, offsetDelta: (offsetDelta += s.gap) }));
        const buf = buildUncompressedRecordBatch({ records });
        const view = new RecordBatchView(buf);
        assert.equal(view.lastOffsetDelta, offsetDelta);
        const read = await readRecords(view, MAX_UNCOMPRESSED);
        assert.deepEqual(
          read.map((r) => [r.offset, r.timestamp]),
          records.map((r) => [BigInt(r.offsetDelta), r.timestamp]),
        );
      },
    ),
    { numRuns: 100 },
  );
});

test('the walker finds every batch of a concatenation and reports a partial tail', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(batchInputArb, { minLength: 1, maxLength: 5 }), fc.nat(), async (inputs, cutSeed) => {
      const batches = await Promise.all(inputs.map((input) => buildRecordBatch(input)));
      const all = Buffer.concat(batches);
      const walked = splitRecordBatches(all);
      assert.equal(walked.partial, null);
      assert.equal(walked.batches.length, batches.length);
      let offset = 0;
      for (let i = 0; i < batches.length; i++) {
        const view = walked.batches[i]!;
        assert.equal(view.offset, offset);
        assert.equal(view.sizeBytes, batches[i]!.length);
        assert.deepEqual(await readRecords(view, MAX_UNCOMPRESSED), expectedRecords(inputs[i]!));
        offset += batches[i]!.length;
      }

      // Cutting anywhere leaves the batches before the cut and the cut one as a partial tail.
      const cut = cutSeed % (all.length + 1);
      const truncated = all.subarray(0, cut);
      const split = splitRecordBatches(truncated);
      let complete = 0;
      let boundary = 0;
      while (complete < batches.length && boundary + batches[complete]!.length <= cut) boundary += batches[complete++]!.length;
      assert.equal(split.batches.length, complete);
      if (boundary === cut) assert.equal(split.partial, null);
      else {
        assert.equal(split.partial?.offset, boundary);
        assert.equal(split.partial?.availableBytes, cut - boundary);
        assert.equal(split.partial?.declaredBytes, cut - boundary >= 12 ? batches[complete]!.length : -1);
      }
    }),
    { numRuns: 60 },
  );
});

test('the walker works on a sub-range and is iterable', async () => {
  const one = handBuiltBatch();
  const buf = Buffer.concat([Buffer.from([1, 2]), one, one, one.subarray(0, 30), Buffer.from([5])]);
  const walker = new RecordBatchWalker(buf, 2, buf.length - 1);
  const views = [...walker];
  assert.equal(views.length, 2);
  assert.deepEqual(
    views.map((v) => v.offset),
    [2, 86],
  );
  assert.deepEqual(walker.partial, { offset: 170, availableBytes: 30, declaredBytes: 84 });
  assert.throws(() => new RecordBatchWalker(buf, 5, 2), RangeError);
});

test('the walker rejects bytes that cannot start a batch', () => {
  const bad = handBuiltBatch();
  bad.writeInt32BE(10, 8);
  assert.throws(() => splitRecordBatches(bad), ProtocolError);
  const legacy = handBuiltBatch();
  legacy[16] = 1;
  assert.throws(() => splitRecordBatches(legacy), ProtocolError);
  // A short tail is partial even if the magic is not visible yet.
  assert.deepEqual(splitRecordBatches(handBuiltBatch().subarray(0, 16)).partial, { offset: 0, availableBytes: 16, declaredBytes: 84 });
  assert.deepEqual(splitRecordBatches(Buffer.alloc(0)), { batches: [], partial: null });
});

function isExpectedFailure(err: unknown): boolean {
  return err instanceof ProtocolError;
}

test('truncated and mutated batches raise only ProtocolError', async () => {
  await fc.assert(
    fc.asyncProperty(
      batchInputArb,
      fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 }),
      fc.nat(),
      async (input, mutations, cutSeed) => {
        const buf = Buffer.from(await buildRecordBatch(input));
        for (const m of mutations) buf[m.at % buf.length] = m.value;
        const cut = buf.subarray(0, cutSeed % (buf.length + 1));
        for (const candidate of [buf, cut]) {
          let batches: RecordBatchView[] = [];
          try {
            batches = splitRecordBatches(candidate).batches;
          } catch (err) {
            if (!isExpectedFailure(err)) throw err;
          }
          for (const view of batches) {
            // validate() reports problems; it must never throw.
            view.validate(1 << 20);
            view.validate(1 << 20, { fromProducer: false });
            try {
              await readRecords(view, 1 << 20);
            } catch (err) {
              if (!isExpectedFailure(err)) throw err;
            }
          }
          try {
            await readRecords(candidate, 1 << 20);
          } catch (err) {
            if (!isExpectedFailure(err)) throw err;
          }
        }
      },
    ),
    { numRuns: 200 },
  );
});

test('random garbage raises only ProtocolError', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), codecArb, async (bytes, codec) => {
      // Give the garbage a plausible header so that the record parser and decompressors see it.
      const buf = Buffer.alloc(61 + bytes.length);
      buf.writeInt32BE(49 + bytes.length, 8);
      buf[16] = 2;
      buf.writeInt16BE(codec, 21);
      buf.writeInt32BE(bytes.length % 17, 57);
      Buffer.from(bytes).copy(buf, 61);
      try {
        await readRecords(buf, 1 << 20);
      } catch (err) {
        if (!isExpectedFailure(err)) throw err;
      }
      // validate() reports problems; it must never throw.
      new RecordBatchView(buf).validate(1 << 20, { fromProducer: false });
      new RecordBatchView(buf).validate(1 << 20);
    }),
    { numRuns: 300 },
  );
});

test('validate accepts exactly the uncompressed record sections that readRecords parses', async () => {
  // validate() walks records with its own quick reader and falls back to the full parser only
  // when that walk has doubts: damaged sections must get the full parser's verdict and reason.
  await fc.assert(
    fc.asyncProperty(
      batchInputArb,
      fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 3 }),
      async (input, mutations) => {
        const buf = buildUncompressedRecordBatch({ ...input, compression: CompressionCodec.None });
        const section = buf.length - RECORDS_OFFSET;
        for (const m of mutations) if (section > 0) buf[RECORDS_OFFSET + (m.at % section)] = m.value;
        const view = new RecordBatchView(buf);
        view.updateCrc();
        const problem = view.validate(1 << 20, { fromProducer: false });
        let parsed: unknown = null;
        try {
          await readRecords(view, MAX_UNCOMPRESSED);
        } catch (err) {
          parsed = err;
        }
        if (parsed === null) {
          assert.equal(problem, null);
        } else {
          assert.ok(parsed instanceof ProtocolError);
          assert.deepEqual(problem, { kind: 'corrupt', reason: parsed.message });
        }
      },
    ),
    { numRuns: 500 },
  );
});

// ---- control batches ----------------------------------------------------------------------------

test('control batches round trip', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        producerId: fc.bigInt(0n, 1n << 50n),
        producerEpoch: fc.integer({ min: 0, max: 0x7fff }),
        type: fc.constantFrom(ControlRecordType.Abort, ControlRecordType.Commit),
        coordinatorEpoch: fc.integer({ min: -1, max: 0x7fffffff }),
        timestamp: fc.bigInt(0n, 1n << 42n),
        baseOffset: fc.bigInt(0n, 1n << 50n),
        partitionLeaderEpoch: fc.integer({ min: 0, max: 1000 }),
      }),
      async (input) => {
        const buf = buildControlBatch(input);
        const view = new RecordBatchView(buf);
        assert.equal(view.attributes, 0x30);
        assert.equal(view.isControl, true);
        assert.equal(view.isTransactional, true);
        assert.equal(view.producerId, input.producerId);
        assert.equal(view.producerEpoch, input.producerEpoch);
        assert.equal(view.baseSequence, -1);
        assert.equal(view.baseOffset, input.baseOffset);
        assert.equal(view.partitionLeaderEpoch, input.partitionLeaderEpoch);
        assert.equal(view.recordCount, 1);
        assert.equal(view.isCrcValid(), true);
        assert.equal(view.validate(1000)?.kind, 'invalid-record');
        assert.equal(view.validate(1000, { fromProducer: false }), null);
        const [record, ...rest] = await readRecords(view, MAX_UNCOMPRESSED);
        assert.equal(rest.length, 0);
        assert.equal(record!.offset, input.baseOffset);
        assert.equal(record!.timestamp, input.timestamp);
        assert.deepEqual(record!.control, { type: input.type, coordinatorEpoch: input.coordinatorEpoch });
        assert.deepEqual(readControlRecord(record!), record!.control);
        // Key: version 0, type; value: version 0, coordinator epoch.
        assert.deepEqual([...record!.key!], [0, 0, 0, input.type]);
        assert.equal(record!.value!.length, 6);
      },
    ),
    { numRuns: 100 },
  );
});

test('readControlRecord refuses malformed markers and passes other types through', () => {
  assert.throws(() => readControlRecord({ key: null, value: null }), ProtocolError);
  assert.throws(() => readControlRecord({ key: Buffer.from([0, 0, 0]), value: null }), ProtocolError);
  assert.throws(() => readControlRecord({ key: Buffer.from([0xff, 0xff, 0, 1]), value: Buffer.alloc(6) }), ProtocolError);
  assert.throws(() => readControlRecord({ key: Buffer.from([0, 0, 0, 1]), value: Buffer.alloc(5) }), ProtocolError);
  assert.deepEqual(readControlRecord({ key: Buffer.from([0, 0, 0, 2]), value: Buffer.from([1, 2, 3]) }), { type: 2, coordinatorEpoch: -1 });
  // Newer versions that start like version 0 are accepted, as Kafka accepts them.
  assert.deepEqual(readControlRecord({ key: Buffer.from([0, 1, 0, 0, 9]), value: Buffer.from([0, 1, 0, 0, 0, 7, 1]) }), {
    type: ControlRecordType.Abort,
    coordinatorEpoch: 7,
  });
});

test('a control batch with a malformed marker record is a ProtocolError to read', async () => {
  const buf = buildUncompressedRecordBatch({
    records: [{ key: Buffer.from([0, 0]), value: null, timestamp: 5n }],
    isControl: true,
    isTransactional: true,
  });
  await assert.rejects(readRecords(buf, MAX_UNCOMPRESSED), ProtocolError);
  assert.equal(new RecordBatchView(buf).validate(1000, { fromProducer: false })?.kind, 'corrupt');
});

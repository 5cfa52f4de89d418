import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { CompressionCodec, decompress } from '../../src/protocol/compression.js';
import { crc32 } from '../../src/protocol/crc32.js';
import { ProtocolError } from '../../src/protocol/protocol-error.js';
import {
  UnsupportedCompressionError,
  buildMessageSet,
  decodeMessageSet,
  downConvertRecordBatches,
  upConvertMessageSet,
  type LegacyMagic,
  type LegacyRecord,
} from '../../src/protocol/legacy-message-set.js';
import {
  ControlRecordType,
  RecordBatchView,
  TimestampType,
  buildControlBatch,
  buildRecordBatch,
  readRecords,
  splitRecordBatches,
} from '../../src/protocol/record-batch.js';

const MAX_UNCOMPRESSED = 16 * 1024 * 1024;

/**
 * Magic 0, offset 7, key "key", value "value", written from the format description; the CRC
 * was computed with Python's zlib.crc32 over magic .. end.
 */
const MAGIC0_MESSAGE = Buffer.from(
  '0000000000000007' + // offset 7
    '00000016' + // messageSize 22
    '2356c137' + // crc
    '00' + // magic 0
    '00' + // attributes: uncompressed
    '00000003' + '6b6579' + // key "key"
    '00000005' + '76616c7565', // value "value"
  'hex',
);

/** Magic 1, offset 3, create time 1700000000000, null key, value "abc"; CRC from Python's zlib. */
const MAGIC1_MESSAGE = Buffer.from(
  '0000000000000003' + // offset 3
    '00000019' + // messageSize 25
    '1cff7dfc' + // crc
    '01' + // magic 1
    '00' + // attributes: uncompressed, create time
    '0000018bcfe56800' + // timestamp 1700000000000
    'ffffffff' + // null key
    '00000003' + '616263', // value "abc"
  'hex',
);

/** Writes one message entry from the spec, for building inputs the encoder under test did not make. */
function message(offset: bigint, magic: LegacyMagic, attributes: number, timestamp: bigint, key: Buffer | null, value: Buffer | null): Buffer {
  const body = Buffer.concat([
    Buffer.from([magic, attributes]),
    magic === 1 ? int64(timestamp) : Buffer.alloc(0),
    lengthPrefixed(key),
    lengthPrefixed(value),
  ]);
  const head = Buffer.alloc(16);
  head.writeBigInt64BE(offset, 0);
  head.writeInt32BE(body.length + 4, 8);
  head.writeUInt32BE(crc32(body), 12);
  return Buffer.concat([head, body]);
}

function int64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(v);
  return b;
}

function lengthPrefixed(bytes: Buffer | null): Buffer {
  const len = Buffer.alloc(4);
  len.writeInt32BE(bytes === null ? -1 : bytes.length);
  return bytes === null ? len : Buffer.concat([len, bytes]);
}

test('a hand-built magic 0 message decodes', async () => {
  const { records, partial } = await decodeMessageSet(MAGIC0_MESSAGE, MAX_UNCOMPRESSED);
  assert.equal(partial, null);
  assert.deepEqual(records, [
    {
      offset: 7n,
      timestamp: -1n,
      timestampType: TimestampType.NoTimestampType,
      key: Buffer.from('key'),
      value: Buffer.from('value'),
      magic: 0,
      compression: CompressionCodec.None,
    },
  ]);
  assert.deepEqual(message(7n, 0, 0, -1n, Buffer.from('key'), Buffer.from('value')), MAGIC0_MESSAGE);
  assert.deepEqual(await buildMessageSet({ magic: 0, messages: [{ offset: 7n, key: Buffer.from('key'), value: Buffer.from('value') }] }), MAGIC0_MESSAGE);
});

test('a hand-built magic 1 message decodes', async () => {
  const { records } = await decodeMessageSet(MAGIC1_MESSAGE, MAX_UNCOMPRESSED);
  assert.deepEqual(records, [
    {
      offset: 3n,
      timestamp: 1700000000000n,
      timestampType: TimestampType.CreateTime,
      key: null,
      value: Buffer.from('abc'),
      magic: 1,
      compression: CompressionCodec.None,
    },
  ]);
  assert.deepEqual(
    await buildMessageSet({ magic: 1, messages: [{ offset: 3n, timestamp: 1700000000000n, key: null, value: Buffer.from('abc') }] }),
    MAGIC1_MESSAGE,
  );
});

test('a flipped bit anywhere in a message is caught by the CRC or the structure checks', async () => {
  for (const original of [MAGIC0_MESSAGE, MAGIC1_MESSAGE]) {
    for (let byte = 12; byte < original.length; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const buf = Buffer.from(original);
        buf[byte] ^= 1 << bit;
        await assert.rejects(decodeMessageSet(buf, MAX_UNCOMPRESSED), ProtocolError, `byte ${byte} bit ${bit}`);
      }
    }
  }
});

test('several messages and a partial tail', async () => {
  const set = Buffer.concat([MAGIC0_MESSAGE, MAGIC1_MESSAGE, MAGIC1_MESSAGE.subarray(0, 20)]);
  const { records, partial } = await decodeMessageSet(set, MAX_UNCOMPRESSED);
  assert.deepEqual(
    records.map((r) => r.offset),
    [7n, 3n],
  );
  assert.deepEqual(partial, { offset: MAGIC0_MESSAGE.length + MAGIC1_MESSAGE.length, availableBytes: 20, declaredBytes: 37 });
  const tiny = await decodeMessageSet(Buffer.concat([MAGIC0_MESSAGE, MAGIC1_MESSAGE.subarray(0, 5)]), MAX_UNCOMPRESSED);
  assert.deepEqual(tiny.partial, { offset: MAGIC0_MESSAGE.length, availableBytes: 5, declaredBytes: -1 });
  // A producer never sends a partial message, so up-conversion refuses one.
  await assert.rejects(upConvertMessageSet(set, { maxUncompressedBytes: MAX_UNCOMPRESSED }), ProtocolError);
});

test('a hand-built gzip wrapper in magic 1 has relative inner offsets', async () => {
  const inner = Buffer.concat([
    message(0n, 1, 0, 100n, Buffer.from('a'), Buffer.from('1')),
    message(1n, 1, 0, 105n, null, Buffer.from('2')),
    message(2n, 1, 0, 103n, Buffer.from('c'), null),
  ]);
  const wrapper = message(12n, 1, CompressionCodec.Gzip, 105n, null, gzipSync(inner));
  const { records } = await decodeMessageSet(wrapper, MAX_UNCOMPRESSED);
  assert.deepEqual(
    records.map((r) => [r.offset, r.timestamp, r.timestampType, r.key?.toString() ?? null, r.value?.toString() ?? null, r.compression]),
    [
      [10n, 100n, TimestampType.CreateTime, 'a', '1', CompressionCodec.Gzip],
      [11n, 105n, TimestampType.CreateTime, null, '2', CompressionCodec.Gzip],
      [12n, 103n, TimestampType.CreateTime, 'c', null, CompressionCodec.Gzip],
    ],
  );

  // With log-append time on the wrapper, its timestamp replaces the inner ones.
  const appended = message(12n, 1, CompressionCodec.Gzip | 0x08, 999n, null, gzipSync(inner));
  const appendedRecords = (await decodeMessageSet(appended, MAX_UNCOMPRESSED)).records;
  assert.deepEqual(
    appendedRecords.map((r) => [r.timestamp, r.timestampType]),
    [
      [999n, TimestampType.LogAppendTime],
      [999n, TimestampType.LogAppendTime],
      [999n, TimestampType.LogAppendTime],
    ],
  );
});

test('a hand-built gzip wrapper in magic 0 keeps absolute inner offsets', async () => {
  const inner = Buffer.concat([message(20n, 0, 0, -1n, null, Buffer.from('x')), message(21n, 0, 0, -1n, null, Buffer.from('y'))]);
  const wrapper = message(21n, 0, CompressionCodec.Gzip, -1n, null, gzipSync(inner));
  const { records } = await decodeMessageSet(Buffer.concat([MAGIC0_MESSAGE, wrapper]), MAX_UNCOMPRESSED);
  assert.deepEqual(
    records.map((r) => [r.offset, r.timestamp, r.value?.toString()]),
    [
      [7n, -1n, 'value'],
      [20n, -1n, 'x'],
      [21n, -1n, 'y'],
    ],
  );
});

test('malformed wrappers are ProtocolErrors', async () => {
  const plain = message(0n, 1, 0, 1n, null, Buffer.from('v'));
  const cases: Array<[string, Buffer]> = [
    ['nested compression', message(0n, 1, 1, 1n, null, gzipSync(message(0n, 1, 1, 1n, null, gzipSync(plain))))],
    ['inner magic differs', message(0n, 1, 1, 1n, null, gzipSync(message(0n, 0, 0, -1n, null, Buffer.from('v'))))],
    ['null wrapper value', message(0n, 1, 1, 1n, null, null)],
    ['zstd below magic 2', message(0n, 1, 4, 1n, null, Buffer.from('whatever'))],
    ['undefined codec', message(0n, 0, 6, -1n, null, Buffer.from('whatever'))],
    ['not gzip', message(0n, 1, 1, 1n, null, Buffer.from('not gzip at all'))],
    ['empty inner set', message(0n, 1, 1, 1n, null, gzipSync(Buffer.alloc(0)))],
    ['partial inner message', message(0n, 1, 1, 1n, null, gzipSync(plain.subarray(0, plain.length - 1)))],
    ['magic 2', Buffer.concat([plain.subarray(0, 16), Buffer.from([2]), plain.subarray(17)])],
    ['message size below the minimum', Buffer.concat([int64(0n), Buffer.from([0, 0, 0, 13]), Buffer.alloc(13)])],
    ['magic 1 too short for its timestamp', message(0n, 0, 0, -1n, null, null).fill(1, 16, 17)],
  ];
  for (const [name, buf] of cases) await assert.rejects(decodeMessageSet(buf, MAX_UNCOMPRESSED), ProtocolError, name);
  const bomb = message(0n, 1, 1, 1n, null, gzipSync(Buffer.concat([plain, message(1n, 1, 0, 1n, null, Buffer.alloc(100_000))])));
  await assert.rejects(decodeMessageSet(bomb, 10_000), ProtocolError);
});

// ---- properties --------------------------------------------------------------------------------

const bytesArb = fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a));
const nullableBytesArb = fc.option(bytesArb, { nil: null, freq: 4 });
const timestampArb = fc.bigInt(0n, 1n << 42n);
const legacyCodecArb = fc.constantFrom(CompressionCodec.None, CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4);
const magicArb = fc.constantFrom<LegacyMagic>(0, 1);
const messagesArb = fc
  .array(fc.record({ key: nullableBytesArb, value: nullableBytesArb, timestamp: timestampArb, gap: fc.integer({ min: 1, max: 5 }) }), {
    minLength: 1,
    maxLength: 10,
  })
  .chain((specs) =>
    fc.bigInt(0n, 1n << 40n).map((first) => {
      let offset = first - 1n;
      return specs.map((s) => ({ key: s.key, value: s.value, timestamp: s.timestamp, offset: (offset += BigInt(s.gap)) }));
    }),
  );

test('buildMessageSet then decode returns the messages for every legacy codec', async () => {
  await fc.assert(
    fc.asyncProperty(magicArb, legacyCodecArb, messagesArb, async (magic, compression, messages) => {
      const set = await buildMessageSet({ magic, compression, messages });
      const { records, partial } = await decodeMessageSet(set, MAX_UNCOMPRESSED);
      assert.equal(partial, null);
      assert.deepEqual(
        records,
        messages.map(
          (m): LegacyRecord => ({
            offset: m.offset,
            timestamp: magic === 0 ? -1n : m.timestamp,
            timestampType: magic === 0 ? TimestampType.NoTimestampType : TimestampType.CreateTime,
            key: m.key,
            value: m.value,
            magic,
            compression,
          }),
        ),
      );
    }),
    { numRuns: 120 },
  );
});

test('up-conversion keeps keys, values, timestamps and the codec', async () => {
  await fc.assert(
    fc.asyncProperty(magicArb, legacyCodecArb, messagesArb, fc.boolean(), async (magic, compression, messages, preserveOffsets) => {
      const set = await buildMessageSet({ magic, compression, messages });
      const batch = await upConvertMessageSet(set, { maxUncompressedBytes: MAX_UNCOMPRESSED, preserveOffsets });
      const view = new RecordBatchView(batch);
      assert.equal(view.sizeBytes, batch.length);
      assert.equal(view.compression, compression);
      assert.equal(view.timestampType, TimestampType.CreateTime);
      assert.equal(view.validate(batch.length, { fromProducer: !preserveOffsets }), null);
      const records = await readRecords(view, MAX_UNCOMPRESSED, { verifyCrc: true });
      assert.deepEqual(
        records.map((r) => [r.offset, r.timestamp, r.key, r.value, r.headers, r.control]),
        messages.map((m, i) => [preserveOffsets ? m.offset : BigInt(i), magic === 0 ? -1n : m.timestamp, m.key, m.value, [], null]),
      );
    }),
    { numRuns: 120 },
  );
});

test('up-conversion with a log-append time stamps every record', async () => {
  const set = await buildMessageSet({
    magic: 0,
    compression: CompressionCodec.Snappy,
    messages: [
      { offset: 0n, key: null, value: Buffer.from('a') },
      { offset: 1n, key: null, value: Buffer.from('b') },
    ],
  });
  const batch = await upConvertMessageSet(set, { maxUncompressedBytes: MAX_UNCOMPRESSED, logAppendTime: 4242n, compression: CompressionCodec.Zstd });
  const view = new RecordBatchView(batch);
  assert.equal(view.timestampType, TimestampType.LogAppendTime);
  assert.equal(view.maxTimestamp, 4242n);
  assert.equal(view.compression, CompressionCodec.Zstd);
  assert.deepEqual(
    (await readRecords(view, MAX_UNCOMPRESSED)).map((r) => [r.offset, r.timestamp, r.value?.toString()]),
    [
      [0n, 4242n, 'a'],
      [1n, 4242n, 'b'],
    ],
  );
  assert.equal((await upConvertMessageSet(Buffer.alloc(0), { maxUncompressedBytes: 1 })).length, 0);
});

const headerArb = fc.record({ key: fc.string({ maxLength: 8 }), value: nullableBytesArb }, { noNullPrototype: true });
const batchArb = fc.record({
  records: fc.array(
    fc.record({ key: nullableBytesArb, value: nullableBytesArb, timestamp: timestampArb, headers: fc.array(headerArb, { maxLength: 2 }) }),
    { minLength: 1, maxLength: 8 },
  ),
  compression: legacyCodecArb,
  timestampType: fc.constantFrom(TimestampType.CreateTime, TimestampType.LogAppendTime),
  gap: fc.integer({ min: 0, max: 3 }),
});

type BatchSpec = typeof batchArb extends fc.Arbitrary<infer T> ? T : never;

interface ExpectedRecord {
  offset: bigint;
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
  compression: CompressionCodec;
  logAppendTime: boolean;
}

/** Builds consecutive batches (with offset gaps between them, as after compaction) plus what they hold. */
async function buildBatches(specs: BatchSpec[]): Promise<{ buf: Buffer; expected: ExpectedRecord[] }> {
  const parts: Buffer[] = [];
  const expected: ExpectedRecord[] = [];
  let next = 1000n;
  for (const spec of specs) {
    const baseOffset = next + BigInt(spec.gap);
    // Offset deltas with gaps inside the batch too, as the cleaner leaves them.
    const records = spec.records.map((r, i) => ({ ...r, offsetDelta: i * (spec.gap + 1) }));
    parts.push(await buildRecordBatch({ records, baseOffset, compression: spec.compression, timestampType: spec.timestampType }));
    const maxTimestamp = records.reduce((m, r) => (r.timestamp > m ? r.timestamp : m), records[0]!.timestamp);
    for (const r of records) {
      expected.push({
        offset: baseOffset + BigInt(r.offsetDelta),
        timestamp: spec.timestampType === TimestampType.LogAppendTime ? maxTimestamp : r.timestamp,
        key: r.key,
        value: r.value,
        compression: spec.compression,
        logAppendTime: spec.timestampType === TimestampType.LogAppendTime,
      });
    }
    next = baseOffset + BigInt(records[records.length - 1]!.offsetDelta) + 1n;
  }
  return { buf: Buffer.concat(parts), expected };
}

test('down-conversion to magic 1 and 0 keeps offsets, keys, values and codecs', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(batchArb, { minLength: 1, maxLength: 4 }),
      magicArb,
      fc.boolean(),
      async (specs, magic, preserveCompression) => {
        const { buf, expected } = await buildBatches(specs);
        const set = await downConvertRecordBatches(buf, magic, { maxUncompressedBytes: MAX_UNCOMPRESSED, preserveCompression });
        const { records, partial } = await decodeMessageSet(set, MAX_UNCOMPRESSED);
        assert.equal(partial, null);
        assert.deepEqual(
          records,
          expected.map(
            (e): LegacyRecord => ({
              offset: e.offset,
              timestamp: magic === 0 ? -1n : e.timestamp,
              timestampType:
                magic === 0 ? TimestampType.NoTimestampType : e.logAppendTime ? TimestampType.LogAppendTime : TimestampType.CreateTime,
              key: e.key,
              value: e.value,
              magic,
              compression: preserveCompression ? e.compression : CompressionCodec.None,
            }),
          ),
        );

        // Up-converting what was down-converted gives back the same records (headers aside).
        if (magic === 1) {
          const again = await upConvertMessageSet(set, { maxUncompressedBytes: MAX_UNCOMPRESSED, preserveOffsets: true });
          const roundTrip = await readRecords(again, MAX_UNCOMPRESSED);
          assert.deepEqual(
            roundTrip.map((r) => [r.offset, r.key, r.value]),
            expected.map((e) => [e.offset, e.key, e.value]),
          );
        }
      },
    ),
    { numRuns: 100 },
  );
});

test('down-conversion skips control batches, drops a partial tail and refuses zstd', async () => {
  const data = await buildRecordBatch({
    baseOffset: 5n,
    records: [{ key: null, value: Buffer.from('a'), headers: [{ key: 'h', value: Buffer.from('dropped') }], timestamp: 10n }],
  });
  const marker = buildControlBatch({ producerId: 1n, producerEpoch: 0, type: ControlRecordType.Commit, coordinatorEpoch: 0, timestamp: 11n, baseOffset: 6n });
  const zstd = await buildRecordBatch({ baseOffset: 7n, compression: CompressionCodec.Zstd, records: [{ key: null, value: Buffer.from('z'), timestamp: 12n }] });
  const tail = data.subarray(0, 40);

  const set = await downConvertRecordBatches(Buffer.concat([data, marker, tail]), 1, { maxUncompressedBytes: MAX_UNCOMPRESSED });
  assert.deepEqual(
    (await decodeMessageSet(set, MAX_UNCOMPRESSED)).records.map((r) => [r.offset, r.timestamp, r.value?.toString()]),
    [[5n, 10n, 'a']],
  );

  await assert.rejects(downConvertRecordBatches(Buffer.concat([data, zstd]), 1, { maxUncompressedBytes: MAX_UNCOMPRESSED }), (err: unknown) => {
    assert.ok(err instanceof UnsupportedCompressionError);
    assert.equal(err.codec, CompressionCodec.Zstd);
    assert.equal(err.magic, 1);
    return true;
  });
  const relaxed = await downConvertRecordBatches(Buffer.concat([data, zstd]), 0, {
    maxUncompressedBytes: MAX_UNCOMPRESSED,
    preserveCompression: false,
  });
  assert.deepEqual(
    (await decodeMessageSet(relaxed, MAX_UNCOMPRESSED)).records.map((r) => [r.offset, r.value?.toString(), r.compression]),
    [
      [5n, 'a', CompressionCodec.None],
      [7n, 'z', CompressionCodec.None],
    ],
  );
  assert.equal((await downConvertRecordBatches(Buffer.alloc(0), 1, { maxUncompressedBytes: 1 })).length, 0);
  await assert.rejects(downConvertRecordBatches(MAGIC1_MESSAGE, 1, { maxUncompressedBytes: MAX_UNCOMPRESSED }), ProtocolError);
});

test('down-converted lz4 in magic 0 uses the legacy frame checksum, magic 1 the standard one', async () => {
  const batch = await buildRecordBatch({ compression: CompressionCodec.Lz4, records: [{ key: null, value: Buffer.alloc(50, 1), timestamp: 1n }] });
  const frames: Buffer[] = [];
  for (const magic of [0, 1] as const) {
    const set = await downConvertRecordBatches(batch, magic, { maxUncompressedBytes: MAX_UNCOMPRESSED });
    // The wrapper's value (the LZ4 frame) follows the entry header and the message header.
    const frame = set.subarray(12 + (magic === 0 ? 14 : 22));
    assert.equal(frame.readUInt32LE(0), 0x184d2204);
    frames.push(frame);
    const records = (await decodeMessageSet(set, MAX_UNCOMPRESSED)).records;
    assert.equal(records.length, 1);
    assert.equal(records[0]!.compression, CompressionCodec.Lz4);
    assert.deepEqual(records[0]!.value, Buffer.alloc(50, 1));
  }
  // Only magic 0's frame needs the decoder's allowance for the legacy header checksum.
  const [legacy, standard] = frames as [Buffer, Buffer];
  await assert.rejects(decompress(CompressionCodec.Lz4, legacy, MAX_UNCOMPRESSED), ProtocolError);
  await decompress(CompressionCodec.Lz4, legacy, MAX_UNCOMPRESSED, { lz4LegacyChecksum: true });
  await decompress(CompressionCodec.Lz4, standard, MAX_UNCOMPRESSED);
});

test('random garbage and mutated message sets raise only ProtocolError', async () => {
  await fc.assert(
    fc.asyncProperty(
      magicArb,
      legacyCodecArb,
      messagesArb,
      fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 }),
      fc.uint8Array({ maxLength: 120 }),
      async (magic, compression, messages, mutations, garbage) => {
        const set = Buffer.from(await buildMessageSet({ magic, compression, messages }));
        for (const m of mutations) set[m.at % set.length] = m.value;
        for (const candidate of [set, Buffer.from(garbage), Buffer.concat([MAGIC1_MESSAGE, Buffer.from(garbage)])]) {
          for (const operation of [
            () => decodeMessageSet(candidate, 1 << 20),
            () => upConvertMessageSet(candidate, { maxUncompressedBytes: 1 << 20 }),
          ]) {
            try {
              await operation();
            } catch (err) {
              if (!(err instanceof ProtocolError)) throw err;
            }
          }
        }
      },
    ),
    { numRuns: 200 },
  );
});

test('down-converting mutated batches raises only ProtocolError', async () => {
  await fc.assert(
    fc.asyncProperty(
      batchArb,
      fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 3 }),
      magicArb,
      async (spec, mutations, magic) => {
        const { buf } = await buildBatches([spec]);
        const mutated = Buffer.from(buf);
        // Leave the walker's length and magic alone half the time, so the records get parsed.
        for (const m of mutations) mutated[m.at % 2 === 0 ? 61 + (m.at % (mutated.length - 61)) : m.at % mutated.length] = m.value;
        try {
          splitRecordBatches(mutated);
          await downConvertRecordBatches(mutated, magic, { maxUncompressedBytes: 1 << 20 });
        } catch (err) {
          // A mutated codec field can turn into zstd, which is refused without being malformed.
          if (!(err instanceof ProtocolError) && !(err instanceof UnsupportedCompressionError)) throw err;
        }
      },
    ),
    { numRuns: 200 },
  );
});

test('garbage behind a valid CRC, plain or inside a gzip wrapper, raises only ProtocolError', async () => {
  await fc.assert(
    fc.asyncProperty(magicArb, fc.uint8Array({ maxLength: 80 }), fc.boolean(), async (magic, garbage, wrap) => {
      // A message body of random bytes after the magic, with a CRC that matches it.
      const body = Buffer.concat([Buffer.from([magic]), Buffer.from(garbage)]);
      const head = Buffer.alloc(16);
      head.writeInt32BE(body.length + 4, 8);
      head.writeUInt32BE(crc32(body), 12);
      const entry = Buffer.concat([head, body]);
      const set = wrap ? message(5n, magic, CompressionCodec.Gzip, 1n, null, gzipSync(entry)) : entry;
      try {
        await decodeMessageSet(set, 1 << 20);
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
      }
    }),
    { numRuns: 300 },
  );
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ByteReader } from '../../src/protocol/byte-reader.js';
import { ByteWriter, REFERENCE_BYTES_MIN, uvarintSize, varintSize, varlongSize } from '../../src/protocol/byte-writer.js';
import { ProtocolError } from '../../src/protocol/protocol-error.js';

function written(size: number, write: (w: ByteWriter) => void): Buffer {
  const w = new ByteWriter();
  w.allocate(size);
  write(w);
  return w.finishOne();
}

test('varints: Kafka/protobuf known encodings', () => {
  assert.deepEqual([...written(1, (w) => w.uvarint(0))], [0]);
  assert.deepEqual([...written(2, (w) => w.uvarint(300))], [0xac, 0x02]);
  assert.deepEqual([...written(5, (w) => w.uvarint(0xffffffff))], [0xff, 0xff, 0xff, 0xff, 0x0f]);
  assert.deepEqual([...written(1, (w) => w.varint(-1))], [1]);
  assert.deepEqual([...written(1, (w) => w.varint(1))], [2]);
  assert.deepEqual([...written(5, (w) => w.varint(-2147483648))], [0xff, 0xff, 0xff, 0xff, 0x0f]);
  assert.deepEqual([...written(10, (w) => w.varlong(-9223372036854775808n))], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
});

test('varints round trip and their sizes are exact', () => {
  fc.assert(
    fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.nat(), (i, l, u) => {
      const buf = written(varintSize(i) + varlongSize(l) + uvarintSize(u), (w) => {
        w.varint(i);
        w.varlong(l);
        w.uvarint(u);
      });
      const r = new ByteReader(buf);
      assert.equal(r.varint(), i);
      assert.equal(r.varlong(), l);
      assert.equal(r.uvarint(), u);
      r.done('varints');
    }),
  );
});

test('over-long varints are rejected', () => {
  const r = new ByteReader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f]));
  r.uvarint();
  assert.throws(() => r.check('x'), ProtocolError);
  const l = new ByteReader(Buffer.alloc(11, 0xff));
  l.varlong();
  assert.throws(() => l.check('x'), ProtocolError);
});

test('a length claiming 2 GB in a 100-byte frame fails before allocating', () => {
  const frame = Buffer.alloc(100);
  frame.writeInt32BE(0x7fffffff, 0);
  for (const read of [(r: ByteReader) => r.bytes(), (r: ByteReader) => r.arrayLength(1), (r: ByteReader) => r.nullableArrayLength(0)]) {
    const r = new ByteReader(frame);
    read(r);
    assert.equal(r.failed, true);
    assert.throws(() => r.check('hostile'), ProtocolError);
  }
  const compact = Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 0x07]), Buffer.alloc(95)]);
  const r = new ByteReader(compact);
  r.compactArrayLength(4);
  assert.equal(r.failed, true);
});

test('the error flag is sticky: later reads return zero values and the first failure is kept', () => {
  const r = new ByteReader(Buffer.from([0, 1]));
  assert.equal(r.int32(), 0);
  assert.equal(r.int16(), 0);
  assert.equal(r.string(), '');
  assert.match(r.failure, /truncated int32/);
  assert.equal(r.failedAt, 0);
});

test('null is rejected where the field is not nullable', () => {
  const r = new ByteReader(Buffer.from([0xff, 0xff]));
  r.string();
  assert.throws(() => r.check('x'), /non-nullable/);
  assert.equal(new ByteReader(Buffer.from([0xff, 0xff])).nullableString(), null);
});

test('large record payloads are referenced, not copied', () => {
  const payload = Buffer.alloc(REFERENCE_BYTES_MIN * 2, 7);
  const w = new ByteWriter();
  const size = 2 + 4 + w.sizeRecords(payload) + 2;
  w.allocate(size);
  w.int16(1);
  w.records(payload);
  w.int16(2);
  const chunks = w.finish();
  assert.equal(chunks.length, 3);
  assert.equal(chunks[1], payload, 'the same Buffer object, not a copy');
  assert.deepEqual([...chunks[0]!], [0, 1, 0, 0, 8, 0]);
  assert.deepEqual([...chunks[2]!], [0, 2]);
});

test('a size pass that disagrees with the write pass is caught', () => {
  const w = new ByteWriter();
  w.allocate(4);
  w.int16(1);
  assert.throws(() => w.finish(), /disagreed/);
});

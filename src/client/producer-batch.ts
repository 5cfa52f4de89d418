/**
 * The producer's record batches, written as records arrive: each record is encoded into
 * the batch's one buffer (key and value copied in) when the producer accepts it, so a
 * batch costs one allocation and no per-record objects, and sending it only fills in the
 * 61-byte header (counts, timestamps, CRC). Timestamps stay numbers (milliseconds) until
 * the header is written; the record encoding is magic 2's (KIP-98).
 */
import { compress, type CompressionCodec } from '../protocol/compression.js';
import { crc32c } from '../protocol/crc32c.js';
import {
  ATTRIBUTES_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_LENGTH_OFFSET,
  CRC_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD_BYTES,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORD_BATCH_MAGIC,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  type RecordHeader,
} from '../protocol/record-batch.js';

/**
 * Timestamps further than this from a batch's base timestamp start a new batch: their
 * zigzag-encoded delta must stay an exact integer in a double (below 2^53).
 */
export const MAX_TIMESTAMP_DELTA = 2 ** 51;

const EMPTY = Buffer.alloc(0);

/** The records of one batch in one buffer; `buf[0, RECORDS_OFFSET)` is left for the header. */
export class RecordBuffer {
  buf: Buffer;
  /** The end of the last record written. */
  pos = RECORDS_OFFSET;
  count = 0;
  baseTimestamp = 0;
  maxTimestamp = 0;

  /** A buffer of `capacity` bytes, or `reuse` (a pooled buffer whose old contents are ignored). */
  constructor(capacity: number, reuse?: Buffer) {
    this.buf = reuse ?? Buffer.allocUnsafe(Math.max(capacity, RECORDS_OFFSET));
  }

  /** Drops the buffer (the batch is settled); counts and timestamps stay readable. */
  release(): void {
    this.buf = EMPTY;
  }

  /** Whether a record with this timestamp can join (its delta to the base is encodable). */
  fitsTimestamp(timestamp: number): boolean {
    return this.count === 0 || Math.abs(timestamp - this.baseTimestamp) < MAX_TIMESTAMP_DELTA;
  }

  /**
   * Appends a record and returns its offset delta (its index). `maxBytes` caps how far the
   * buffer grows beyond what this record needs.
   */
  append(key: Buffer | null, value: Buffer | null, headers: RecordHeader[], timestamp: number, maxBytes: number): number {
    const index = this.count;
    if (index === 0) {
      this.baseTimestamp = timestamp;
      this.maxTimestamp = timestamp;
    } else if (timestamp > this.maxTimestamp) {
      this.maxTimestamp = timestamp;
    }
    const delta = zigzag(timestamp - this.baseTimestamp);
    let body = 1 + uvarintSize(delta) + uvarintSize(index * 2) + varBytesSize(key) + varBytesSize(value) + uvarintSize(headers.length * 2);
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i]!;
      const keyBytes = Buffer.byteLength(h.key, 'utf8');
      body += uvarintSize(keyBytes * 2) + keyBytes + varBytesSize(h.value);
    }
    const total = uvarintSize(body * 2) + body;
    this.reserve(total, maxBytes);
    const buf = this.buf;
    let pos = writeUVarint(buf, this.pos, body * 2);
    buf[pos++] = 0; // attributes
    pos = writeUVarint(buf, pos, delta);
    pos = writeUVarint(buf, pos, index * 2);
    pos = writeVarBytes(buf, pos, key);
    pos = writeVarBytes(buf, pos, value);
    pos = writeUVarint(buf, pos, headers.length * 2);
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i]!;
      const keyBytes = Buffer.byteLength(h.key, 'utf8');
      pos = writeUVarint(buf, pos, keyBytes * 2);
      pos += buf.write(h.key, pos, keyBytes, 'utf8');
      pos = writeVarBytes(buf, pos, h.value);
    }
    this.pos = pos;
    this.count = index + 1;
    return index;
  }

  /** Room for `bytes` more, growing the buffer (doubling, up to `maxBytes` unless one record needs more). */
  private reserve(bytes: number, maxBytes: number): void {
    const needed = this.pos + bytes;
    if (needed <= this.buf.length) return;
    const capacity = Math.max(needed, Math.min(this.buf.length * 2, maxBytes));
    const grown = Buffer.allocUnsafe(capacity);
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  /**
   * The batch as sent: the header filled in (and the records compressed if asked), CRC
   * included. Uncompressed batches are a view of the buffer, so nothing is copied.
   */
  async build(codec: CompressionCodec, compressionLevel: number | undefined): Promise<Buffer> {
    if (codec === 0) {
      const out = this.buf.subarray(0, this.pos);
      writeHeader(out, this, 0);
      return out;
    }
    const section = this.buf.subarray(RECORDS_OFFSET, this.pos);
    const compressed = await compress(codec, section, compressionLevel === undefined ? { snappyFraming: 'xerial' } : { snappyFraming: 'xerial', level: compressionLevel });
    const out = Buffer.allocUnsafe(RECORDS_OFFSET + compressed.length);
    compressed.copy(out, RECORDS_OFFSET);
    writeHeader(out, this, codec);
    return out;
  }

  /**
   * Splits the records in two at `at` (a batch the broker found too large): the halves keep
   * this batch's base timestamp, so only each record's offset delta is rewritten.
   */
  split(at: number): [RecordBuffer, RecordBuffer] {
    const first = new RecordBuffer(this.pos);
    const second = new RecordBuffer(this.pos);
    first.baseTimestamp = second.baseTimestamp = this.baseTimestamp;
    const buf = this.buf;
    let pos = RECORDS_OFFSET;
    for (let i = 0; i < this.count; i++) {
      const length = readUVarint(buf, pos) / 2;
      const bodyStart = readEnd;
      const end = bodyStart + length;
      const deltaStart = bodyStart + 1;
      const delta = unzigzag(readUVarint(buf, deltaStart));
      const deltaEnd = readEnd;
      readUVarint(buf, deltaEnd); // the old offset delta
      const restStart = readEnd;
      const into = i < at ? first : second;
      const index = into.count;
      const timestamp = this.baseTimestamp + delta;
      if (index === 0 || timestamp > into.maxTimestamp) into.maxTimestamp = timestamp;
      const body = 1 + (deltaEnd - deltaStart) + uvarintSize(index * 2) + (end - restStart);
      let w = writeUVarint(into.buf, into.pos, body * 2);
      into.buf[w++] = buf[bodyStart]!;
      w += buf.copy(into.buf, w, deltaStart, deltaEnd);
      w = writeUVarint(into.buf, w, index * 2);
      w += buf.copy(into.buf, w, restStart, end);
      into.pos = w;
      into.count = index + 1;
      pos = end;
    }
    return [first, second];
  }
}

function writeHeader(out: Buffer, records: RecordBuffer, codec: number): void {
  out.writeInt32BE(0, 0); // base offset: the broker assigns it
  out.writeInt32BE(0, 4);
  out.writeInt32BE(out.length - LOG_OVERHEAD_BYTES, BATCH_LENGTH_OFFSET);
  out.writeInt32BE(-1, PARTITION_LEADER_EPOCH_OFFSET);
  out[MAGIC_OFFSET] = RECORD_BATCH_MAGIC;
  out.writeInt16BE(codec, ATTRIBUTES_OFFSET);
  out.writeInt32BE(records.count - 1, LAST_OFFSET_DELTA_OFFSET);
  out.writeBigInt64BE(BigInt(records.baseTimestamp), BASE_TIMESTAMP_OFFSET);
  out.writeBigInt64BE(BigInt(records.maxTimestamp), MAX_TIMESTAMP_OFFSET);
  out.writeInt32BE(-1, PRODUCER_ID_OFFSET); // no producer id (-1 as int64)
  out.writeInt32BE(-1, PRODUCER_ID_OFFSET + 4);
  out.writeInt16BE(-1, PRODUCER_EPOCH_OFFSET);
  out.writeInt32BE(-1, BASE_SEQUENCE_OFFSET);
  out.writeInt32BE(records.count, RECORD_COUNT_OFFSET);
  out.writeUInt32BE(crc32c(out.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
}

// ---- varints on plain numbers (exact up to 2^53) ----------------------------------------------------

function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

function unzigzag(u: number): number {
  return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
}

function uvarintSize(v: number): number {
  let size = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    size++;
  }
  return size;
}

function varBytesSize(b: Buffer | null): number {
  return b === null ? 1 : uvarintSize(b.length * 2) + b.length;
}

function writeUVarint(buf: Buffer, pos: number, v: number): number {
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v = v < 0x1_0000_0000 ? v >>> 7 : Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

function writeVarBytes(buf: Buffer, pos: number, b: Buffer | null): number {
  if (b === null) {
    buf[pos] = 1; // zigzag(-1)
    return pos + 1;
  }
  pos = writeUVarint(buf, pos, b.length * 2);
  buf.set(b, pos);
  return pos + b.length;
}

/** Where the last readUVarint stopped (module state, so reading allocates nothing). */
let readEnd = 0;

/** An unsigned varint this module wrote; its end goes to readEnd. */
function readUVarint(buf: Buffer, pos: number): number {
  let value = 0;
  let scale = 1;
  for (;;) {
    const b = buf[pos++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) break;
    scale *= 128;
  }
  readEnd = pos;
  return value;
}

import { EncodeError } from './protocol-error.js';

/**
 * Encoders size first and allocate once.
 *
 * A message is encoded in two passes over the same object: a size pass, which returns the
 * exact byte count and tells this writer (through `sizeRecords`) which record payloads will
 * be referenced rather than copied, and a write pass into one allocation. Record payloads
 * of at least REFERENCE_BYTES_MIN bytes are never copied: the output is a list of chunks
 * (slices of the one allocation interleaved with the caller's record buffers), ready for
 * `socket.cork()` + `write()` or `writev`.
 */
export const REFERENCE_BYTES_MIN = 1024;

export class ByteWriter {
  buf: Buffer = EMPTY_BUF;
  pos = 0;
  /** Bytes of record payloads that the write pass will reference instead of copying. */
  referencedBytes = 0;
  private readonly chunks: Buffer[] = [];
  private sliceStart = 0;

  /** Allocates room for a message whose size pass returned `totalBytes`, plus a prefix. */
  allocate(totalBytes: number, prefixBytes = 0): void {
    this.buf = Buffer.allocUnsafe(totalBytes + prefixBytes - this.referencedBytes);
    this.pos = 0;
    this.sliceStart = 0;
    this.chunks.length = 0;
  }

  /** The encoded bytes as chunks in wire order. */
  finish(): Buffer[] {
    if (this.pos !== this.buf.length) {
      throw new EncodeError(`encoder size pass disagreed with write pass: ${this.pos} != ${this.buf.length}`);
    }
    if (this.pos > this.sliceStart || this.chunks.length === 0) this.chunks.push(this.buf.subarray(this.sliceStart, this.pos));
    return this.chunks;
  }

  /** The encoded bytes as one buffer (copies only when record payloads were referenced). */
  finishOne(): Buffer {
    const chunks = this.finish();
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }

  // ---- size pass helpers -------------------------------------------------------------

  /** Size of a records field's payload (without its length prefix); notes a reference. */
  sizeRecords(records: Buffer | null): number {
    if (records === null) return 0;
    if (records.length >= REFERENCE_BYTES_MIN) this.referencedBytes += records.length;
    return records.length;
  }

  // ---- write pass -----------------------------------------------------------------------

  int8(v: number): void {
    this.buf.writeInt8(v, this.pos);
    this.pos += 1;
  }

  uint8(v: number): void {
    this.buf[this.pos++] = v;
  }

  bool(v: boolean): void {
    this.buf[this.pos++] = v ? 1 : 0;
  }

  int16(v: number): void {
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
  }

  uint16(v: number): void {
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }

  int32(v: number): void {
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }

  uint32(v: number): void {
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }

  int64(v: bigint): void {
    this.buf.writeBigInt64BE(v, this.pos);
    this.pos += 8;
  }

  float64(v: number): void {
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }

  uvarint(v: number): void {
    const buf = this.buf;
    let pos = this.pos;
    while (v >= 0x80) {
      buf[pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    buf[pos++] = v;
    this.pos = pos;
  }

  varint(v: number): void {
    this.uvarint(((v << 1) ^ (v >> 31)) >>> 0);
  }

  varlong(v: bigint): void {
    let u = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
    const buf = this.buf;
    while (u >= 0x80n) {
      buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    buf[this.pos++] = Number(u);
  }

  uuid(v: string): void {
    const written = this.buf.write(v, this.pos, 16, 'base64url');
    if (written !== 16 || v.length !== 22) throw new EncodeError(`invalid uuid ${JSON.stringify(v)}`);
    this.pos += 16;
  }

  raw(b: Buffer): void {
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }

  string(v: string): void {
    const len = Buffer.byteLength(v);
    if (len > 0x7fff) throw new EncodeError(`string of ${len} bytes is longer than 32767`);
    this.int16(len);
    this.pos += this.buf.write(v, this.pos, len, 'utf8');
  }

  nullableString(v: string | null): void {
    if (v === null) this.int16(-1);
    else this.string(v);
  }

  compactString(v: string): void {
    const len = Buffer.byteLength(v);
    this.uvarint(len + 1);
    this.pos += this.buf.write(v, this.pos, len, 'utf8');
  }

  compactNullableString(v: string | null): void {
    if (v === null) this.uvarint(0);
    else this.compactString(v);
  }

  bytes(v: Buffer): void {
    this.int32(v.length);
    this.raw(v);
  }

  nullableBytes(v: Buffer | null): void {
    if (v === null) this.int32(-1);
    else this.bytes(v);
  }

  compactBytes(v: Buffer): void {
    this.uvarint(v.length + 1);
    this.raw(v);
  }

  compactNullableBytes(v: Buffer | null): void {
    if (v === null) this.uvarint(0);
    else this.compactBytes(v);
  }

  /** Writes a records payload (after its length prefix), referencing large payloads. */
  recordsPayload(v: Buffer | null): void {
    if (v === null) return;
    if (v.length < REFERENCE_BYTES_MIN) {
      this.raw(v);
      return;
    }
    if (this.pos > this.sliceStart) this.chunks.push(this.buf.subarray(this.sliceStart, this.pos));
    this.chunks.push(v);
    this.sliceStart = this.pos;
  }

  records(v: Buffer | null): void {
    this.int32(v === null ? -1 : v.length);
    this.recordsPayload(v);
  }

  compactRecords(v: Buffer | null): void {
    this.uvarint(v === null ? 0 : v.length + 1);
    this.recordsPayload(v);
  }
}

const EMPTY_BUF = Buffer.alloc(0);

// ---- sizes -------------------------------------------------------------------------------

export function uvarintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  return 5;
}

export function varintSize(v: number): number {
  return uvarintSize(((v << 1) ^ (v >> 31)) >>> 0);
}

export function varlongSize(v: bigint): number {
  let u = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
  let n = 1;
  while (u >= 0x80n) {
    u >>= 7n;
    n++;
  }
  return n;
}

export function stringSize(v: string): number {
  return 2 + Buffer.byteLength(v);
}

export function nullableStringSize(v: string | null): number {
  return v === null ? 2 : 2 + Buffer.byteLength(v);
}

export function compactStringSize(v: string): number {
  const len = Buffer.byteLength(v);
  return uvarintSize(len + 1) + len;
}

export function compactNullableStringSize(v: string | null): number {
  return v === null ? 1 : compactStringSize(v);
}

export function compactBytesSize(v: Buffer): number {
  return uvarintSize(v.length + 1) + v.length;
}

export function compactNullableBytesSize(v: Buffer | null): number {
  return v === null ? 1 : compactBytesSize(v);
}

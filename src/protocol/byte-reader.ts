import { ProtocolError } from './protocol-error.js';

/**
 * A cursor over untrusted bytes with a sticky error flag.
 *
 * Every read checks the bounds once; a read that would pass the end marks the reader as
 * failed, moves the cursor to the end and returns a zero value, so straight-line decoders
 * need no per-field branches and every later read fails cheaply too. Lengths are checked
 * against the bytes that remain before anything is allocated, so a frame that claims a
 * 2 GB string or a billion array elements costs nothing. Decoders call `done()` (or
 * `check()`) once at the end to turn the flag into a ProtocolError.
 */
export class ByteReader {
  failed = false;
  failure = '';
  failedAt = -1;

  constructor(
    readonly buf: Buffer,
    public pos = 0,
    readonly end = buf.length,
  ) {}

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(why: string): void {
    if (!this.failed) {
      this.failed = true;
      this.failure = why;
      this.failedAt = this.pos;
    }
    this.pos = this.end;
  }

  /** Throws the typed error if any read failed. */
  check(what: string): void {
    if (this.failed) throw new ProtocolError(`${what}: ${this.failure}`, this.failedAt);
  }

  /** Throws unless every read succeeded and every byte was consumed. */
  done(what: string): void {
    this.check(what);
    if (this.pos !== this.end) {
      throw new ProtocolError(`${what}: ${this.end - this.pos} trailing bytes`, this.pos);
    }
  }

  private short(n: number, what: string): boolean {
    if (this.end - this.pos >= n) return false;
    this.fail(`truncated ${what} at offset ${this.pos}`);
    return true;
  }

  skipBytes(n: number): void {
    if (n < 0 || this.short(n, 'skip')) return;
    this.pos += n;
  }

  int8(): number {
    if (this.short(1, 'int8')) return 0;
    return this.buf.readInt8(this.pos++);
  }

  uint8(): number {
    if (this.short(1, 'uint8')) return 0;
    return this.buf[this.pos++]!;
  }

  bool(): boolean {
    if (this.short(1, 'bool')) return false;
    return this.buf[this.pos++] !== 0;
  }

  int16(): number {
    if (this.short(2, 'int16')) return 0;
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  uint16(): number {
    if (this.short(2, 'uint16')) return 0;
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    if (this.short(4, 'int32')) return 0;
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint32(): number {
    if (this.short(4, 'uint32')) return 0;
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  int64(): bigint {
    if (this.short(8, 'int64')) return 0n;
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  float64(): number {
    if (this.short(8, 'float64')) return 0;
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Unsigned LEB128 varint of at most 32 bits (5 bytes), as Kafka uses for lengths and tags. */
  uvarint(): number {
    const buf = this.buf;
    let pos = this.pos;
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (pos >= this.end) {
        this.fail(`truncated varint at offset ${this.pos}`);
        return 0;
      }
      const b = buf[pos++]!;
      if (shift === 28 && b > 0x0f) break;
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) {
        this.pos = pos;
        return value;
      }
    }
    this.fail(`varint longer than 32 bits at offset ${this.pos}`);
    return 0;
  }

  /** Zigzag-encoded signed 32-bit varint. */
  varint(): number {
    const u = this.uvarint();
    return (u >>> 1) ^ -(u & 1);
  }

  /** Zigzag-encoded signed 64-bit varint (at most 10 bytes). */
  varlong(): bigint {
    const buf = this.buf;
    let pos = this.pos;
    let lo = 0;
    let hi = 0n;
    for (let i = 0; i < 10; i++) {
      if (pos >= this.end) {
        this.fail(`truncated varlong at offset ${this.pos}`);
        return 0n;
      }
      const b = buf[pos++]!;
      if (i < 4) lo += (b & 0x7f) * 2 ** (7 * i);
      else hi |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) {
        if (i === 9 && b > 1) break;
        this.pos = pos;
        const u = (hi | BigInt(lo)) & 0xffffffffffffffffn;
        return (u >> 1n) ^ -(u & 1n);
      }
    }
    this.fail(`varlong longer than 64 bits at offset ${this.pos}`);
    return 0n;
  }

  uuid(): string {
    if (this.short(16, 'uuid')) return ZERO_UUID;
    const s = this.buf.toString('base64url', this.pos, this.pos + 16);
    this.pos += 16;
    return s;
  }

  private text(len: number): string {
    if (this.short(len, 'string')) return '';
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  private slice(len: number): Buffer {
    if (this.short(len, 'bytes')) return EMPTY;
    const b = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }

  string(): string {
    const len = this.int16();
    if (len < 0) {
      this.fail(`null or negative length ${len} for a non-nullable string`);
      return '';
    }
    return this.text(len);
  }

  nullableString(): string | null {
    const len = this.int16();
    if (len === -1) return null;
    if (len < 0) {
      this.fail(`invalid string length ${len}`);
      return null;
    }
    return this.text(len);
  }

  compactString(): string {
    const n = this.uvarint();
    if (n === 0) {
      this.fail('null for a non-nullable compact string');
      return '';
    }
    return this.text(n - 1);
  }

  compactNullableString(): string | null {
    const n = this.uvarint();
    if (n === 0) return null;
    return this.text(n - 1);
  }

  /** Zero-copy: the result is a view of the input buffer. */
  bytes(): Buffer {
    const len = this.int32();
    if (len < 0) {
      this.fail(`null or negative length ${len} for non-nullable bytes`);
      return EMPTY;
    }
    return this.slice(len);
  }

  nullableBytes(): Buffer | null {
    const len = this.int32();
    if (len === -1) return null;
    if (len < 0) {
      this.fail(`invalid bytes length ${len}`);
      return null;
    }
    return this.slice(len);
  }

  compactBytes(): Buffer {
    const n = this.uvarint();
    if (n === 0) {
      this.fail('null for non-nullable compact bytes');
      return EMPTY;
    }
    return this.slice(n - 1);
  }

  compactNullableBytes(): Buffer | null {
    const n = this.uvarint();
    if (n === 0) return null;
    return this.slice(n - 1);
  }

  private count(n: number, minElementBytes: number): number {
    // Each element occupies at least minElementBytes (at least 1 is assumed), so a count
    // larger than the remaining bytes cannot be honest: refuse it before allocating.
    if (n * Math.max(1, minElementBytes) > this.end - this.pos) {
      this.fail(`array of ${n} elements does not fit in the ${this.end - this.pos} remaining bytes`);
      return 0;
    }
    return n;
  }

  arrayLength(minElementBytes: number): number {
    const n = this.int32();
    if (n < 0) {
      this.fail(`null or negative length ${n} for a non-nullable array`);
      return 0;
    }
    return this.count(n, minElementBytes);
  }

  /** Returns -1 for null. */
  nullableArrayLength(minElementBytes: number): number {
    const n = this.int32();
    if (n === -1) return -1;
    if (n < 0) {
      this.fail(`invalid array length ${n}`);
      return 0;
    }
    return this.count(n, minElementBytes);
  }

  compactArrayLength(minElementBytes: number): number {
    const n = this.uvarint();
    if (n === 0) {
      this.fail('null for a non-nullable compact array');
      return 0;
    }
    return this.count(n - 1, minElementBytes);
  }

  /** Returns -1 for null. */
  compactNullableArrayLength(minElementBytes: number): number {
    const n = this.uvarint();
    if (n === 0) return -1;
    return this.count(n - 1, minElementBytes);
  }

  /** Number of tagged fields that follow; each takes at least two bytes. */
  taggedFieldCount(): number {
    return this.count(this.uvarint(), 2);
  }

  /**
   * Reads a tagged field's size and returns the offset where its value must end, or -1
   * when the size does not fit.
   */
  taggedFieldEnd(): number {
    const size = this.uvarint();
    if (size > this.end - this.pos) {
      this.fail(`tagged field of ${size} bytes does not fit`);
      return -1;
    }
    return this.pos + size;
  }

  /** Checks that a known tagged field's value consumed exactly its declared size. */
  taggedFieldDone(end: number, tag: number): void {
    if (!this.failed && this.pos !== end) this.fail(`tagged field ${tag} size does not match its value`);
  }

  /** Skips all tagged fields (used where none are known). */
  skipTaggedFields(): void {
    const n = this.taggedFieldCount();
    for (let i = 0; i < n; i++) {
      this.uvarint();
      this.skipBytes(this.uvarint());
    }
  }
}

export const EMPTY: Buffer = Buffer.alloc(0);
export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';

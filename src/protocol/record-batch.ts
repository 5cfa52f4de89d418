/**
 * Kafka record batches (message format v2, "magic 2"), as clients produce them, as the log
 * stores them and as Fetch returns them.
 *
 * The broker treats a batch as an opaque slice of bytes. It reads the fixed-size header at
 * fixed offsets, rewrites `baseOffset` (and `partitionLeaderEpoch`) in place when appending,
 * and never builds per-record objects on the hot path. Both in-place edits are safe because
 * those fields lie before `attributes`, outside the bytes the CRC covers.
 *
 * Batch layout (all integers big-endian):
 *
 *   offset  size  field
 *   ------  ----  -----------------------------------------------------------------------
 *        0     8  baseOffset            int64   offset of the first record
 *        8     4  batchLength           int32   bytes after this field (total = batchLength + 12)
 *       12     4  partitionLeaderEpoch  int32
 *       16     1  magic                 int8    always 2
 *       17     4  crc                   uint32  CRC-32C of bytes 21 .. end
 *       21     2  attributes            int16   bits 0-2 compression codec (0 none, 1 gzip,
 *                                                2 snappy, 3 lz4, 4 zstd), bit 3 timestamp
 *                                                type (0 create, 1 log-append), bit 4
 *                                                transactional, bit 5 control, bit 6 delete
 *                                                horizon present (baseTimestamp is it)
 *       23     4  lastOffsetDelta       int32   offset of the last record minus baseOffset
 *       27     8  baseTimestamp         int64
 *       35     8  maxTimestamp          int64
 *       43     8  producerId            int64   -1 when not idempotent
 *       51     2  producerEpoch         int16
 *       53     4  baseSequence          int32
 *       57     4  recordCount           int32
 *       61     -  records               recordCount records, the whole section compressed
 *                                       as one stream when the codec is not none
 *
 * Record layout (varint = zigzag LEB128 signed 32-bit, varlong = the 64-bit form):
 *
 *   length          varint   bytes that follow in this record
 *   attributes      int8     unused, 0
 *   timestampDelta  varlong  timestamp minus baseTimestamp
 *   offsetDelta     varint   offset minus baseOffset
 *   keyLength       varint   -1 for a null key
 *   key             bytes
 *   valueLength     varint   -1 for a null value
 *   value           bytes
 *   headerCount     varint
 *   headers         headerCount times: keyLength varint, key (UTF-8), valueLength varint
 *                   (-1 for null), value
 *
 * Control batches (transaction markers, KIP-98) have the transactional and control bits set
 * (attributes 0x30) and hold one record whose key is version int16 (0) + type int16
 * (0 abort, 1 commit) and whose value is version int16 (0) + coordinatorEpoch int32.
 *
 * Decoding functions raise ProtocolError, and nothing else, for malformed input; encoding
 * functions raise EncodeError for values the format cannot carry.
 */
import { ByteReader } from './byte-reader.js';
import { ByteWriter, varintSize, varlongSize } from './byte-writer.js';
import { CompressionCodec, compress, decompress } from './compression.js';
import { crc32c } from './crc32c.js';
import { EncodeError, ProtocolError } from './protocol-error.js';

// ---- header layout -------------------------------------------------------------------------

export const BASE_OFFSET_OFFSET = 0;
export const BATCH_LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const BASE_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const PRODUCER_ID_OFFSET = 43;
export const PRODUCER_EPOCH_OFFSET = 51;
export const BASE_SEQUENCE_OFFSET = 53;
export const RECORD_COUNT_OFFSET = 57;
export const RECORDS_OFFSET = 61;

/** Bytes before batchLength's count starts: baseOffset and batchLength themselves. */
export const LOG_OVERHEAD_BYTES = 12;
/** The whole header; also the size of a batch with no records. */
export const RECORD_BATCH_HEADER_BYTES = RECORDS_OFFSET;
/** The smallest legal batchLength: the header after the batchLength field. */
export const MIN_BATCH_LENGTH = RECORD_BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES;
/** A record with no key, value or headers takes 7 bytes; no record can be shorter. */
export const MIN_RECORD_BYTES = 7;

export const RECORD_BATCH_MAGIC = 2;

export const ATTRIBUTE_COMPRESSION_MASK = 0x07;
export const ATTRIBUTE_TIMESTAMP_TYPE = 0x08;
export const ATTRIBUTE_TRANSACTIONAL = 0x10;
export const ATTRIBUTE_CONTROL = 0x20;
export const ATTRIBUTE_DELETE_HORIZON = 0x40;

export const NO_TIMESTAMP = -1n;
export const NO_PRODUCER_ID = -1n;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;

/** The highest codec id Kafka defines (zstd); ids 5-7 are invalid. */
const MAX_COMPRESSION_CODEC = 4;

export enum TimestampType {
  /** Legacy magic 0 messages carry no timestamp. */
  NoTimestampType = -1,
  CreateTime = 0,
  LogAppendTime = 1,
}

/** The type field of a control record's key. */
export enum ControlRecordType {
  Abort = 0,
  Commit = 1,
}

/** The magic byte of the first batch (or legacy message) in `buf` at `offset`, or -1 when too short. */
export function peekMagic(buf: Buffer, offset = 0): number {
  return offset + MAGIC_OFFSET < buf.length ? buf.readInt8(offset + MAGIC_OFFSET) : -1;
}

// ---- zero-copy view ------------------------------------------------------------------------

/**
 * Why a batch was refused, sorted into the Kafka error the broker should answer with:
 * `corrupt` → CORRUPT_MESSAGE, `too-large` → MESSAGE_TOO_LARGE, `invalid-record` →
 * INVALID_RECORD.
 */
export interface BatchProblem {
  kind: 'corrupt' | 'too-large' | 'invalid-record';
  reason: string;
}

export interface ValidateOptions {
  /**
   * Apply the rules Kafka enforces on batches arriving from producers (the default): at least
   * one record, lastOffsetDelta === recordCount - 1, contiguous offset deltas in uncompressed
   * batches, no control batches, a producer id on transactional batches, and a sequence number
   * when there is a producer id. Turn off
   * for batches read back from the log, which compaction may have thinned out.
   */
  fromProducer?: boolean;
}

/**
 * A record batch inside a larger buffer, read in place. The constructor checks only that the
 * header and the declared length fit in the buffer; `validate()` checks the rest.
 */
export class RecordBatchView {
  constructor(
    readonly buf: Buffer,
    readonly offset = 0,
  ) {
    if (!Number.isInteger(offset) || offset < 0 || buf.length - offset < RECORD_BATCH_HEADER_BYTES) {
      throw new ProtocolError(
        `record batch header needs ${RECORD_BATCH_HEADER_BYTES} bytes, ${Math.max(0, buf.length - offset)} available`,
        offset,
      );
    }
    const batchLength = buf.readInt32BE(offset + BATCH_LENGTH_OFFSET);
    if (batchLength < MIN_BATCH_LENGTH) {
      throw new ProtocolError(`record batch length ${batchLength} is shorter than its header`, offset);
    }
    if (batchLength + LOG_OVERHEAD_BYTES > buf.length - offset) {
      throw new ProtocolError(
        `record batch of ${batchLength + LOG_OVERHEAD_BYTES} bytes overruns the ${buf.length - offset} available`,
        offset,
      );
    }
  }

  get baseOffset(): bigint {
    return this.buf.readBigInt64BE(this.offset + BASE_OFFSET_OFFSET);
  }

  get batchLength(): number {
    return this.buf.readInt32BE(this.offset + BATCH_LENGTH_OFFSET);
  }

  get partitionLeaderEpoch(): number {
    return this.buf.readInt32BE(this.offset + PARTITION_LEADER_EPOCH_OFFSET);
  }

  get magic(): number {
    return this.buf.readInt8(this.offset + MAGIC_OFFSET);
  }

  get crc(): number {
    return this.buf.readUInt32BE(this.offset + CRC_OFFSET);
  }

  get attributes(): number {
    return this.buf.readInt16BE(this.offset + ATTRIBUTES_OFFSET);
  }

  /** The codec id; 5-7 are invalid and `validate()` reports them. */
  get compression(): CompressionCodec {
    return (this.attributes & ATTRIBUTE_COMPRESSION_MASK) as CompressionCodec;
  }

  get timestampType(): TimestampType {
    return this.attributes & ATTRIBUTE_TIMESTAMP_TYPE ? TimestampType.LogAppendTime : TimestampType.CreateTime;
  }

  get isTransactional(): boolean {
    return (this.attributes & ATTRIBUTE_TRANSACTIONAL) !== 0;
  }

  get isControl(): boolean {
    return (this.attributes & ATTRIBUTE_CONTROL) !== 0;
  }

  /** When set, baseTimestamp holds the time after which the cleaner may drop tombstones and markers. */
  get hasDeleteHorizon(): boolean {
    return (this.attributes & ATTRIBUTE_DELETE_HORIZON) !== 0;
  }

  get lastOffsetDelta(): number {
    return this.buf.readInt32BE(this.offset + LAST_OFFSET_DELTA_OFFSET);
  }

  get baseTimestamp(): bigint {
    return this.buf.readBigInt64BE(this.offset + BASE_TIMESTAMP_OFFSET);
  }

  get maxTimestamp(): bigint {
    return this.buf.readBigInt64BE(this.offset + MAX_TIMESTAMP_OFFSET);
  }

  get producerId(): bigint {
    return this.buf.readBigInt64BE(this.offset + PRODUCER_ID_OFFSET);
  }

  get producerEpoch(): number {
    return this.buf.readInt16BE(this.offset + PRODUCER_EPOCH_OFFSET);
  }

  get baseSequence(): number {
    return this.buf.readInt32BE(this.offset + BASE_SEQUENCE_OFFSET);
  }

  /** The sequence number of the last record, wrapping past 2^31 - 1 to 0 as Kafka does. */
  get lastSequence(): number {
    const base = this.baseSequence;
    if (base === NO_SEQUENCE) return NO_SEQUENCE;
    const delta = this.lastOffsetDelta;
    return base > 0x7fffffff - delta ? delta - (0x7fffffff - base) - 1 : base + delta;
  }

  get recordCount(): number {
    return this.buf.readInt32BE(this.offset + RECORD_COUNT_OFFSET);
  }

  get lastOffset(): bigint {
    return this.baseOffset + BigInt(this.lastOffsetDelta);
  }

  /** The offset that follows this batch: where the next batch's baseOffset must start. */
  get nextOffset(): bigint {
    return this.lastOffset + 1n;
  }

  get sizeBytes(): number {
    return this.batchLength + LOG_OVERHEAD_BYTES;
  }

  /** The whole batch, sharing memory with the underlying buffer. */
  get bytes(): Buffer {
    return this.buf.subarray(this.offset, this.offset + this.sizeBytes);
  }

  /** The records section (compressed when the codec is not none), sharing memory. */
  get recordsBytes(): Buffer {
    return this.buf.subarray(this.offset + RECORDS_OFFSET, this.offset + this.sizeBytes);
  }

  /** Rewrites baseOffset in place; the CRC does not cover it, so it stays valid. */
  setBaseOffset(baseOffset: bigint): void {
    this.buf.writeBigInt64BE(checkInt64('baseOffset', baseOffset), this.offset + BASE_OFFSET_OFFSET);
  }

  /** Rewrites partitionLeaderEpoch in place; the CRC does not cover it, so it stays valid. */
  setPartitionLeaderEpoch(partitionLeaderEpoch: number): void {
    this.buf.writeInt32BE(checkInt32('partitionLeaderEpoch', partitionLeaderEpoch), this.offset + PARTITION_LEADER_EPOCH_OFFSET);
  }

  /**
   * Sets the timestamp type bit and maxTimestamp, as a broker does for topics with
   * message.timestamp.type=LogAppendTime, and rewrites the CRC because both are covered.
   */
  setMaxTimestamp(timestampType: TimestampType.CreateTime | TimestampType.LogAppendTime, maxTimestamp: bigint): void {
    const attributes = this.attributes;
    const updated =
      timestampType === TimestampType.LogAppendTime
        ? attributes | ATTRIBUTE_TIMESTAMP_TYPE
        : attributes & ~ATTRIBUTE_TIMESTAMP_TYPE;
    this.buf.writeInt16BE(updated, this.offset + ATTRIBUTES_OFFSET);
    this.buf.writeBigInt64BE(checkInt64('maxTimestamp', maxTimestamp), this.offset + MAX_TIMESTAMP_OFFSET);
    this.updateCrc();
  }

  /** The CRC-32C of the bytes from attributes to the end of the batch. */
  computeCrc(): number {
    return crc32c(this.buf.subarray(this.offset + ATTRIBUTES_OFFSET, this.offset + this.sizeBytes));
  }

  isCrcValid(): boolean {
    return this.computeCrc() === this.crc;
  }

  /** Stores the CRC of the current contents. */
  updateCrc(): void {
    this.buf.writeUInt32BE(this.computeCrc(), this.offset + CRC_OFFSET);
  }

  /**
   * Checks the batch the way a broker must before appending it, returning why it is refused or
   * null when it is acceptable. The cheap header checks run first and the CRC last but one;
   * uncompressed record sections are then walked (without allocating records) so a batch
   * whose CRC matches but whose records do not parse cannot reach the log.
   */
  validate(maxBatchBytes: number, options: ValidateOptions = {}): BatchProblem | null {
    const fromProducer = options.fromProducer ?? true;
    const magic = this.magic;
    if (magic !== RECORD_BATCH_MAGIC) return corrupt(`magic ${magic}, expected ${RECORD_BATCH_MAGIC}`);
    const sizeBytes = this.sizeBytes;
    if (sizeBytes > maxBatchBytes) {
      return { kind: 'too-large', reason: `batch of ${sizeBytes} bytes exceeds the limit of ${maxBatchBytes}` };
    }
    const codec = this.compression;
    if (codec > MAX_COMPRESSION_CODEC) return corrupt(`unknown compression codec ${codec}`);
    const recordCount = this.recordCount;
    const lastOffsetDelta = this.lastOffsetDelta;
    if (recordCount < 0) return corrupt(`negative record count ${recordCount}`);
    if (lastOffsetDelta < 0) return corrupt(`negative lastOffsetDelta ${lastOffsetDelta}`);
    if (recordCount * MIN_RECORD_BYTES > sizeBytes - RECORDS_OFFSET && codec === CompressionCodec.None) {
      return corrupt(`${recordCount} records cannot fit in ${sizeBytes - RECORDS_OFFSET} bytes`);
    }
    if (fromProducer) {
      if (recordCount === 0) return invalid('batch has no records');
      if (lastOffsetDelta !== recordCount - 1) {
        return invalid(`lastOffsetDelta ${lastOffsetDelta} is inconsistent with ${recordCount} records`);
      }
      if (this.isControl) return invalid('clients may not write control batches');
      if (this.isTransactional && this.producerId < 0n) return invalid('transactional batch without a producer id');
      if (this.producerId >= 0n && this.baseSequence < 0) {
        return invalid(`invalid sequence number ${this.baseSequence} for producer id ${this.producerId}`);
      }
    } else if (recordCount > lastOffsetDelta + 1) {
      return corrupt(`${recordCount} records do not fit in an offset range of ${lastOffsetDelta + 1}`);
    }
    if (!this.isCrcValid()) return corrupt(`crc mismatch: stored ${this.crc}, computed ${this.computeCrc()}`);
    if (codec === CompressionCodec.None) {
      // The quick walk accepts only what decodeRecords accepts; anything else (and control
      // records, whose markers it does not parse) goes to decodeRecords for the verdict and
      // its precise reason.
      let walk = this.isControl ? RECORDS_MALFORMED : walkRecords(this.buf, this.offset + RECORDS_OFFSET, this.offset + sizeBytes, recordCount);
      if (walk === RECORDS_MALFORMED) {
        try {
          walk = decodeRecords(this, this.buf, this.offset + RECORDS_OFFSET, this.offset + sizeBytes, null) ? RECORDS_CONTIGUOUS : RECORDS_GAPPED;
        } catch (err) {
          if (err instanceof ProtocolError) return corrupt(err.message);
          throw err;
        }
      }
      if (fromProducer && walk !== RECORDS_CONTIGUOUS) return invalid('record offset deltas are not 0, 1, 2, ...');
    }
    return null;
  }
}

function corrupt(reason: string): BatchProblem {
  return { kind: 'corrupt', reason };
}

function invalid(reason: string): BatchProblem {
  return { kind: 'invalid-record', reason };
}

// ---- walking a records buffer ----------------------------------------------------------------

/**
 * A batch cut off at the end of a buffer. Fetch responses may legally end with one (the broker
 * sends whole log segments' bytes up to the size limit); consumers skip it, and when it is the
 * only thing in the response, `declaredBytes` tells them how large a fetch they need.
 */
export interface PartialBatch {
  /** Where the partial batch starts in the buffer. */
  offset: number;
  availableBytes: number;
  /** The full size its header declares, or -1 when even the length field is cut off. */
  declaredBytes: number;
}

/**
 * Walks a buffer of concatenated batches, yielding each complete batch as a view. A trailing
 * partial batch ends the walk and is reported in `partial`; bytes that cannot be the start of a
 * magic 2 batch raise ProtocolError.
 */
export class RecordBatchWalker implements Iterable<RecordBatchView> {
  pos: number;
  partial: PartialBatch | null = null;
  /** The buffer cut at `end` (same memory), so views cannot see bytes past the range. */
  private readonly bounded: Buffer;

  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > buf.length || start > end) {
      throw new RangeError(`invalid range [${start}, ${end}) in a buffer of ${buf.length} bytes`);
    }
    this.pos = start;
    this.bounded = end === buf.length ? buf : buf.subarray(0, end);
  }

  /** The next complete batch, or null at the end (check `partial` afterwards). */
  next(): RecordBatchView | null {
    const start = this.pos;
    const available = this.end - start;
    if (available === 0) return null;
    if (available < LOG_OVERHEAD_BYTES) {
      this.partial = { offset: start, availableBytes: available, declaredBytes: -1 };
      this.pos = this.end;
      return null;
    }
    const batchLength = this.buf.readInt32BE(start + BATCH_LENGTH_OFFSET);
    if (batchLength < MIN_BATCH_LENGTH) {
      throw new ProtocolError(`record batch length ${batchLength} is shorter than its header`, start);
    }
    if (available > MAGIC_OFFSET) {
      const magic = this.buf.readInt8(start + MAGIC_OFFSET);
      if (magic !== RECORD_BATCH_MAGIC) throw new ProtocolError(`record batch magic ${magic}, expected 2`, start);
    }
    const sizeBytes = batchLength + LOG_OVERHEAD_BYTES;
    if (sizeBytes > available) {
      this.partial = { offset: start, availableBytes: available, declaredBytes: sizeBytes };
      this.pos = this.end;
      return null;
    }
    this.pos = start + sizeBytes;
    return new RecordBatchView(this.bounded, start);
  }

  *[Symbol.iterator](): Iterator<RecordBatchView> {
    for (let batch = this.next(); batch !== null; batch = this.next()) yield batch;
  }
}

export interface RecordBatchSplit {
  batches: RecordBatchView[];
  partial: PartialBatch | null;
}

/** All complete batches in `buf[start, end)`, plus the trailing partial batch if there is one. */
export function splitRecordBatches(buf: Buffer, start = 0, end = buf.length): RecordBatchSplit {
  const walker = new RecordBatchWalker(buf, start, end);
  const batches: RecordBatchView[] = [];
  for (let batch = walker.next(); batch !== null; batch = walker.next()) batches.push(batch);
  return { batches, partial: walker.partial };
}

// ---- records -------------------------------------------------------------------------------

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface ControlRecord {
  /** ControlRecordType for transaction markers; KRaft uses further types. */
  type: number;
  /** The transaction coordinator's epoch for markers, -1 for other control types. */
  coordinatorEpoch: number;
}

/** One decoded record. Keys, values and header values share memory with the (decompressed) batch. */
export interface KafkaRecord {
  offset: bigint;
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
  /** The parsed marker for records of control batches, null otherwise. */
  control: ControlRecord | null;
}

export interface ReadRecordsOptions {
  /** Check the CRC first (a consumer's check.crcs); the broker validates on append instead. */
  verifyCrc?: boolean;
  /**
   * Require offsetDelta === index for every record, the check Kafka applies to the inner
   * records of compressed batches from producers (validate() does it for uncompressed ones).
   */
  requireContiguousOffsets?: boolean;
}

/**
 * Decompresses a batch if needed and parses every record, returning absolute offsets and
 * timestamps (for log-append-time batches every record gets maxTimestamp, as Kafka defines).
 * A Buffer argument is read as the batch at its start. Malformed batches raise ProtocolError,
 * including decompressed sections larger than `maxUncompressedBytes`.
 */
export async function readRecords(
  batch: RecordBatchView | Buffer,
  maxUncompressedBytes: number,
  options: ReadRecordsOptions = {},
): Promise<KafkaRecord[]> {
  const view = batch instanceof RecordBatchView ? batch : new RecordBatchView(batch, 0);
  const magic = view.magic;
  if (magic !== RECORD_BATCH_MAGIC) throw new ProtocolError(`record batch magic ${magic}, expected 2`, view.offset);
  if (options.verifyCrc === true && !view.isCrcValid()) {
    throw new ProtocolError(`record batch crc mismatch at offset ${view.baseOffset}`, view.offset);
  }
  const codec = view.compression;
  const records: KafkaRecord[] = [];
  let contiguous: boolean;
  if (codec === CompressionCodec.None) {
    contiguous = decodeRecords(view, view.buf, view.offset + RECORDS_OFFSET, view.offset + view.sizeBytes, records);
  } else {
    if (codec > MAX_COMPRESSION_CODEC) throw new ProtocolError(`unknown compression codec ${codec}`, view.offset);
    const section = await decompress(codec, view.recordsBytes, maxUncompressedBytes);
    contiguous = decodeRecords(view, section, 0, section.length, records);
  }
  if (options.requireContiguousOffsets === true && !contiguous) {
    throw new ProtocolError('record offset deltas are not 0, 1, 2, ...', view.offset);
  }
  return records;
}

/**
 * Parses the records of a batch from `buf[start, end)`, appending them to `out`, or only
 * checking their structure when `out` is null. Returns whether every offsetDelta equals its
 * record's index, as producers write them; gaps are not an error because compaction leaves
 * them, but negative deltas are.
 */
function decodeRecords(view: RecordBatchView, buf: Buffer, start: number, end: number, out: KafkaRecord[] | null): boolean {
  const recordCount = view.recordCount;
  if (recordCount < 0 || recordCount * MIN_RECORD_BYTES > end - start) {
    throw new ProtocolError(`record count ${recordCount} cannot fit in ${end - start} bytes`, view.offset);
  }
  const baseOffset = out === null ? 0n : view.baseOffset;
  const baseTimestamp = view.baseTimestamp;
  const logAppendTime = view.timestampType === TimestampType.LogAppendTime ? view.maxTimestamp : null;
  const isControl = view.isControl;
  const r = new ByteReader(buf, start, end);
  let contiguous = true;
  for (let i = 0; i < recordCount; i++) {
    const length = r.varint();
    const bodyStart = r.pos;
    if (r.failed || length < 0 || length > end - bodyStart) {
      throw new ProtocolError(`record ${i}: invalid length ${length}`, bodyStart);
    }
    const recordEnd = bodyStart + length;
    r.int8();
    const timestampDelta = r.varlong();
    const offsetDelta = r.varint();
    const key = readVarBytes(r);
    const value = readVarBytes(r);
    const headerCount = r.varint();
    if (headerCount < 0 || headerCount * 2 > recordEnd - r.pos) {
      r.fail(`invalid header count ${headerCount}`);
    }
    const headers: RecordHeader[] = [];
    for (let h = 0; h < headerCount && !r.failed; h++) {
      const keyLength = r.varint();
      if (keyLength < 0) {
        r.fail(`invalid header key length ${keyLength}`);
        break;
      }
      const keyStart = r.pos;
      r.skipBytes(keyLength);
      const headerValue = readVarBytes(r);
      if (out !== null && !r.failed) headers.push({ key: buf.toString('utf8', keyStart, keyStart + keyLength), value: headerValue });
    }
    r.check(`record ${i}`);
    if (r.pos !== recordEnd) {
      throw new ProtocolError(`record ${i}: fields take ${r.pos - bodyStart} bytes, length says ${length}`, bodyStart);
    }
    if (offsetDelta < 0) throw new ProtocolError(`record ${i}: negative offset delta ${offsetDelta}`, bodyStart);
    if (offsetDelta !== i) contiguous = false;
    if (out === null) {
      if (isControl) readControlRecord({ key, value });
    } else {
      const record: KafkaRecord = {
        offset: baseOffset + BigInt(offsetDelta),
        timestamp: logAppendTime ?? BigInt.asIntN(64, baseTimestamp + timestampDelta),
        key,
        value,
        headers,
        control: null,
      };
      if (isControl) record.control = readControlRecord(record);
      out.push(record);
    }
  }
  if (r.pos !== end) throw new ProtocolError(`${end - r.pos} bytes after the last of ${recordCount} records`, r.pos);
  return contiguous;
}

/** Outcomes of walkRecords. */
const RECORDS_CONTIGUOUS = 1;
const RECORDS_GAPPED = 0;
const RECORDS_MALFORMED = -1;

/** Where walkUvarint stopped: a module-level cursor, so the hot loop allocates nothing. */
let walkPos = 0;

/** An unsigned varint of at most 32 bits at walkPos, advancing it; -1 when truncated or longer. */
function walkUvarint(buf: Buffer, end: number): number {
  let pos = walkPos;
  if (pos >= end) return -1;
  let b = buf[pos++]!;
  if (b < 0x80) {
    walkPos = pos;
    return b;
  }
  let value = b & 0x7f;
  // Bits 7-27 with shifts (below 2^28, so no sign); the fifth byte holds the top 4 bits.
  for (let shift = 7; shift < 28; shift += 7) {
    if (pos >= end) return -1;
    b = buf[pos++]!;
    value |= (b & 0x7f) << shift;
    if (b < 0x80) {
      walkPos = pos;
      return value;
    }
  }
  if (pos >= end) return -1;
  b = buf[pos++]!;
  if (b > 0x0f) return -1;
  walkPos = pos;
  return value + b * 0x1000_0000;
}

/** A zigzag varint at walkPos; NaN when truncated or longer than 32 bits. */
function walkVarint(buf: Buffer, end: number): number {
  const u = walkUvarint(buf, end);
  return u < 0 ? NaN : (u >>> 1) ^ -(u & 1);
}

/** Skips a zigzag varlong (at most 10 bytes, the last one 0 or 1); false when malformed. */
function walkSkipVarlong(buf: Buffer, end: number): boolean {
  let pos = walkPos;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) return false;
    const b = buf[pos++]!;
    if (b < 0x80) {
      if (i === 9 && b > 1) return false;
      walkPos = pos;
      return true;
    }
  }
  return false;
}

/** Skips a varint-length-prefixed byte string (-1 = null); false when malformed. */
function walkSkipVarBytes(buf: Buffer, end: number): boolean {
  const length = walkVarint(buf, end);
  if (length === -1) return true;
  if (!(length >= 0) || length > end - walkPos) return false;
  walkPos += length;
  return true;
}

/**
 * Checks the structure of the uncompressed records in `buf[start, end)` the way decodeRecords
 * does when it builds nothing, but with plain integer reads: no reader object, no BigInt for
 * timestamp deltas and no slices for keys and values, which had made the walk cost several
 * times the CRC of the same bytes. It is at least as strict as decodeRecords (any doubt answers
 * RECORDS_MALFORMED, and the caller asks decodeRecords for the verdict); it does not look
 * into control records.
 */
function walkRecords(buf: Buffer, start: number, end: number, recordCount: number): number {
  if (recordCount < 0 || recordCount * MIN_RECORD_BYTES > end - start) return RECORDS_MALFORMED;
  let contiguous = true;
  walkPos = start;
  for (let i = 0; i < recordCount; i++) {
    const length = walkVarint(buf, end);
    const bodyStart = walkPos;
    if (!(length >= 0) || length > end - bodyStart) return RECORDS_MALFORMED;
    const recordEnd = bodyStart + length;
    // attributes (int8), then timestampDelta and offsetDelta.
    if (bodyStart >= end) return RECORDS_MALFORMED;
    walkPos = bodyStart + 1;
    if (!walkSkipVarlong(buf, end)) return RECORDS_MALFORMED;
    const offsetDelta = walkVarint(buf, end);
    if (!(offsetDelta >= 0)) return RECORDS_MALFORMED;
    if (!walkSkipVarBytes(buf, end) || !walkSkipVarBytes(buf, end)) return RECORDS_MALFORMED;
    const headerCount = walkVarint(buf, end);
    if (!(headerCount >= 0) || headerCount * 2 > recordEnd - walkPos) return RECORDS_MALFORMED;
    for (let h = 0; h < headerCount; h++) {
      const keyLength = walkVarint(buf, end);
      if (!(keyLength >= 0) || keyLength > end - walkPos) return RECORDS_MALFORMED;
      walkPos += keyLength;
      if (!walkSkipVarBytes(buf, end)) return RECORDS_MALFORMED;
    }
    if (walkPos !== recordEnd) return RECORDS_MALFORMED;
    if (offsetDelta !== i) contiguous = false;
  }
  if (walkPos !== end) return RECORDS_MALFORMED;
  return contiguous ? RECORDS_CONTIGUOUS : RECORDS_GAPPED;
}

/** A varint-length-prefixed byte string (-1 = null), sharing memory with the reader's buffer. */
function readVarBytes(r: ByteReader): Buffer | null {
  const length = r.varint();
  if (length === -1) return null;
  if (length < -1) {
    r.fail(`invalid length ${length}`);
    return null;
  }
  const start = r.pos;
  r.skipBytes(length);
  return r.failed ? null : r.buf.subarray(start, start + length);
}

/**
 * Parses a control record's key and value. Transaction markers (abort, commit) must carry a
 * coordinator epoch; other control types (KRaft's) are returned with coordinatorEpoch -1.
 * Newer key and value versions are accepted as long as they start like version 0, as Kafka does.
 */
export function readControlRecord(record: { key: Buffer | null; value: Buffer | null }): ControlRecord {
  const key = record.key;
  if (key === null || key.length < 4) throw new ProtocolError('control record key must hold a version and a type');
  const keyVersion = key.readInt16BE(0);
  if (keyVersion < 0) throw new ProtocolError(`invalid control record key version ${keyVersion}`);
  const type = key.readInt16BE(2);
  if (type !== ControlRecordType.Abort && type !== ControlRecordType.Commit) return { type, coordinatorEpoch: -1 };
  const value = record.value;
  if (value === null || value.length < 6) {
    throw new ProtocolError('transaction marker value must hold a version and a coordinator epoch');
  }
  const valueVersion = value.readInt16BE(0);
  if (valueVersion < 0) throw new ProtocolError(`invalid transaction marker version ${valueVersion}`);
  return { type, coordinatorEpoch: value.readInt32BE(2) };
}

// ---- building --------------------------------------------------------------------------------

export interface RecordInput {
  key: Buffer | null;
  value: Buffer | null;
  headers?: RecordHeader[];
  /** Defaults to the batch's baseTimestamp, or the current time when that is not given. */
  timestamp?: bigint;
  /** Defaults to the record's index; must increase strictly. */
  offsetDelta?: number;
}

export interface RecordBatchInput {
  records: RecordInput[];
  baseOffset?: bigint;
  /** Defaults to the first record's timestamp. */
  baseTimestamp?: bigint;
  compression?: CompressionCodec;
  /** Codec-specific level passed to the compressor. */
  compressionLevel?: number;
  timestampType?: TimestampType.CreateTime | TimestampType.LogAppendTime;
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
  isTransactional?: boolean;
  isControl?: boolean;
  partitionLeaderEpoch?: number;
}

/**
 * Builds a batch. The records section is sized first and written into one allocation; when
 * compressing, that section is compressed and the header is written in front of the result.
 */
export async function buildRecordBatch(input: RecordBatchInput): Promise<Buffer> {
  const codec = input.compression ?? CompressionCodec.None;
  if (codec === CompressionCodec.None) return buildUncompressedRecordBatch(input);
  if (!Number.isInteger(codec) || codec < 0 || codec > MAX_COMPRESSION_CODEC) {
    throw new EncodeError(`unknown compression codec ${codec}`);
  }
  const plan = planRecords(input);
  const w = new ByteWriter();
  w.allocate(plan.recordsBytes);
  writeRecords(w, input.records, plan);
  const section = w.finishOne();
  const options = input.compressionLevel === undefined ? { snappyFraming: 'xerial' as const } : { snappyFraming: 'xerial' as const, level: input.compressionLevel };
  const compressed = await compress(codec, section, options);
  const sizeBytes = RECORDS_OFFSET + compressed.length;
  checkBatchSize(sizeBytes);
  const buf = Buffer.allocUnsafe(sizeBytes);
  compressed.copy(buf, RECORDS_OFFSET);
  writeHeader(buf, input, plan, codec);
  return buf;
}

/** Builds an uncompressed batch synchronously, in one allocation. */
export function buildUncompressedRecordBatch(input: RecordBatchInput): Buffer {
  const codec = input.compression ?? CompressionCodec.None;
  if (codec !== CompressionCodec.None) throw new EncodeError('buildUncompressedRecordBatch cannot compress; use buildRecordBatch');
  const plan = planRecords(input);
  const sizeBytes = RECORDS_OFFSET + plan.recordsBytes;
  checkBatchSize(sizeBytes);
  const w = new ByteWriter();
  w.allocate(sizeBytes);
  w.pos = RECORDS_OFFSET;
  writeRecords(w, input.records, plan);
  const buf = w.finishOne();
  writeHeader(buf, input, plan, CompressionCodec.None);
  return buf;
}

export interface ControlBatchInput {
  producerId: bigint;
  producerEpoch: number;
  type: ControlRecordType;
  coordinatorEpoch: number;
  timestamp: bigint;
  baseOffset?: bigint;
  partitionLeaderEpoch?: number;
}

/** Builds a transaction marker batch: transactional + control, one uncompressed record. */
export function buildControlBatch(input: ControlBatchInput): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(checkInt16('type', input.type), 2);
  const value = Buffer.alloc(6);
  value.writeInt16BE(0, 0);
  value.writeInt32BE(checkInt32('coordinatorEpoch', input.coordinatorEpoch), 2);
  const batch: RecordBatchInput = {
    records: [{ key, value, timestamp: input.timestamp }],
    baseTimestamp: input.timestamp,
    producerId: input.producerId,
    producerEpoch: input.producerEpoch,
    baseSequence: NO_SEQUENCE,
    isTransactional: true,
    isControl: true,
  };
  if (input.baseOffset !== undefined) batch.baseOffset = input.baseOffset;
  if (input.partitionLeaderEpoch !== undefined) batch.partitionLeaderEpoch = input.partitionLeaderEpoch;
  return buildUncompressedRecordBatch(batch);
}

/** What the size pass learned, so the write pass does not recompute it. */
interface RecordsPlan {
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  lastOffsetDelta: number;
  timestamps: bigint[];
  offsetDeltas: number[];
  bodySizes: number[];
  recordsBytes: number;
}

const MAX_BATCH_BYTES = 0x7fffffff;

function planRecords(input: RecordBatchInput): RecordsPlan {
  const records = input.records;
  if (records.length === 0) throw new EncodeError('a record batch needs at least one record');
  const fallbackTimestamp = input.baseTimestamp ?? BigInt(Date.now());
  const baseTimestamp = checkInt64('baseTimestamp', input.baseTimestamp ?? records[0]!.timestamp ?? fallbackTimestamp);
  let maxTimestamp = NO_TIMESTAMP;
  const timestamps: bigint[] = new Array<bigint>(records.length);
  const offsetDeltas: number[] = new Array<number>(records.length);
  const bodySizes: number[] = new Array<number>(records.length);
  let recordsBytes = 0;
  let previousOffsetDelta = -1;
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    const timestamp = checkInt64('timestamp', record.timestamp ?? fallbackTimestamp);
    const timestampDelta = timestamp - baseTimestamp;
    if (BigInt.asIntN(64, timestampDelta) !== timestampDelta) {
      throw new EncodeError(`record ${i}: timestamp ${timestamp} is too far from the base timestamp ${baseTimestamp}`);
    }
    const offsetDelta = record.offsetDelta ?? i;
    if (!Number.isInteger(offsetDelta) || offsetDelta <= previousOffsetDelta || offsetDelta > 0x7fffffff) {
      throw new EncodeError(`record ${i}: offset delta ${offsetDelta} must be an int32 above ${previousOffsetDelta}`);
    }
    previousOffsetDelta = offsetDelta;
    if (i === 0 || timestamp > maxTimestamp) maxTimestamp = timestamp;
    let body = 1 + varlongSize(timestampDelta) + varintSize(offsetDelta) + varBytesSize(record.key) + varBytesSize(record.value);
    const headers = record.headers ?? [];
    body += varintSize(headers.length);
    for (const header of headers) {
      const keyBytes = Buffer.byteLength(header.key, 'utf8');
      body += varintSize(keyBytes) + keyBytes + varBytesSize(header.value);
    }
    if (body > MAX_BATCH_BYTES) throw new EncodeError(`record ${i} of ${body} bytes is too large`);
    timestamps[i] = timestamp;
    offsetDeltas[i] = offsetDelta;
    bodySizes[i] = body;
    recordsBytes += varintSize(body) + body;
  }
  checkBatchSize(RECORDS_OFFSET + recordsBytes);
  return { baseTimestamp, maxTimestamp, lastOffsetDelta: previousOffsetDelta, timestamps, offsetDeltas, bodySizes, recordsBytes };
}

function writeRecords(w: ByteWriter, records: RecordInput[], plan: RecordsPlan): void {
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    w.varint(plan.bodySizes[i]!);
    w.int8(0);
    w.varlong(plan.timestamps[i]! - plan.baseTimestamp);
    w.varint(plan.offsetDeltas[i]!);
    writeVarBytes(w, record.key);
    writeVarBytes(w, record.value);
    const headers = record.headers ?? [];
    w.varint(headers.length);
    for (const header of headers) {
      const keyBytes = Buffer.byteLength(header.key, 'utf8');
      w.varint(keyBytes);
      w.pos += w.buf.write(header.key, w.pos, keyBytes, 'utf8');
      writeVarBytes(w, header.value);
    }
  }
}

function writeHeader(buf: Buffer, input: RecordBatchInput, plan: RecordsPlan, codec: CompressionCodec): void {
  let attributes: number = codec;
  if (input.timestampType === TimestampType.LogAppendTime) attributes |= ATTRIBUTE_TIMESTAMP_TYPE;
  if (input.isTransactional === true) attributes |= ATTRIBUTE_TRANSACTIONAL;
  if (input.isControl === true) attributes |= ATTRIBUTE_CONTROL;
  buf.writeBigInt64BE(checkInt64('baseOffset', input.baseOffset ?? 0n), BASE_OFFSET_OFFSET);
  buf.writeInt32BE(buf.length - LOG_OVERHEAD_BYTES, BATCH_LENGTH_OFFSET);
  buf.writeInt32BE(checkInt32('partitionLeaderEpoch', input.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH), PARTITION_LEADER_EPOCH_OFFSET);
  buf.writeInt8(RECORD_BATCH_MAGIC, MAGIC_OFFSET);
  buf.writeInt16BE(attributes, ATTRIBUTES_OFFSET);
  buf.writeInt32BE(plan.lastOffsetDelta, LAST_OFFSET_DELTA_OFFSET);
  buf.writeBigInt64BE(plan.baseTimestamp, BASE_TIMESTAMP_OFFSET);
  buf.writeBigInt64BE(plan.maxTimestamp, MAX_TIMESTAMP_OFFSET);
  buf.writeBigInt64BE(checkInt64('producerId', input.producerId ?? NO_PRODUCER_ID), PRODUCER_ID_OFFSET);
  buf.writeInt16BE(checkInt16('producerEpoch', input.producerEpoch ?? NO_PRODUCER_EPOCH), PRODUCER_EPOCH_OFFSET);
  buf.writeInt32BE(checkInt32('baseSequence', input.baseSequence ?? NO_SEQUENCE), BASE_SEQUENCE_OFFSET);
  buf.writeInt32BE(input.records.length, RECORD_COUNT_OFFSET);
  buf.writeUInt32BE(crc32c(buf.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
}

function varBytesSize(value: Buffer | null): number {
  return value === null ? 1 : varintSize(value.length) + value.length;
}

function writeVarBytes(w: ByteWriter, value: Buffer | null): void {
  if (value === null) {
    w.varint(-1);
    return;
  }
  w.varint(value.length);
  w.raw(value);
}

function checkBatchSize(sizeBytes: number): void {
  if (sizeBytes > MAX_BATCH_BYTES) throw new EncodeError(`record batch of ${sizeBytes} bytes is too large`);
}

function checkInt16(name: string, value: number): number {
  if (!Number.isInteger(value) || value < -0x8000 || value > 0x7fff) throw new EncodeError(`${name} ${value} is not an int16`);
  return value;
}

function checkInt32(name: string, value: number): number {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) throw new EncodeError(`${name} ${value} is not an int32`);
  return value;
}

function checkInt64(name: string, value: bigint): bigint {
  if (BigInt.asIntN(64, value) !== value) throw new EncodeError(`${name} ${value} is not an int64`);
  return value;
}

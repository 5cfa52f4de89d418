/**
 * The legacy message formats, magic 0 (Kafka 0.8-0.9) and magic 1 (0.10), which old clients
 * still speak: Produce v0-v2 carry them and Fetch v0-v3 must answer with them (v0-v1 with
 * magic 0, v2-v3 with magic 1). The broker stores only magic 2 batches, so this module
 * decodes legacy message sets, up-converts them into one record batch on produce, and
 * down-converts stored batches on fetch.
 *
 * A message set is a plain concatenation of entries (integers big-endian):
 *
 *   offset       int64
 *   messageSize  int32    bytes of the message that follows
 *   message:
 *     crc        uint32   IEEE CRC-32 of magic .. end of value
 *     magic      int8     0 or 1
 *     attributes int8     bits 0-2 compression (0 none, 1 gzip, 2 snappy, 3 lz4; zstd does not
 *                         exist below magic 2), bit 3 timestamp type (magic 1 only:
 *                         0 create time, 1 log-append time)
 *     timestamp  int64    magic 1 only
 *     key        int32 length (-1 = null) + bytes
 *     value      int32 length (-1 = null) + bytes
 *
 * So a magic 0 message has 14 bytes of overhead and a magic 1 message 22, plus 12 for the
 * entry's offset and size. The magic byte sits at offset 16 of an entry, exactly where a
 * record batch keeps it, which is how readers tell the formats apart.
 *
 * A compressed message (a "wrapper") has a null key and a value that is a whole inner message
 * set, compressed; inner messages are never compressed themselves and have the wrapper's
 * magic. In magic 1 the inner offsets are relative (0 .. n-1) and the wrapper's offset is the
 * absolute offset of the last inner message, so inner absolute offset = wrapper offset -
 * last inner offset + inner offset; a wrapper with log-append time gives its timestamp to all
 * inner messages. In magic 0 the inner offsets are absolute. Snappy is xerial-framed, as the
 * Java client writes it; LZ4 in magic 0 uses the old, wrong frame header checksum (KAFKA-3160),
 * which the compression module accepts and writes when asked for the legacy checksum.
 */
import { CompressionCodec, compress, compressionCodecName, decompress } from './compression.js';
import { crc32 } from './crc32.js';
import { EncodeError, ProtocolError } from './protocol-error.js';
import {
  NO_TIMESTAMP,
  RecordBatchWalker,
  TimestampType,
  buildRecordBatch,
  readRecords,
  type KafkaRecord,
  type PartialBatch,
  type RecordBatchView,
  type RecordInput,
} from './record-batch.js';

// ---- layout --------------------------------------------------------------------------------

export const MESSAGE_OFFSET_OFFSET = 0;
export const MESSAGE_SIZE_OFFSET = 8;
export const MESSAGE_CRC_OFFSET = 12;
export const MESSAGE_MAGIC_OFFSET = 16;
export const MESSAGE_ATTRIBUTES_OFFSET = 17;
/** Magic 1 only; in magic 0 the key length is here. */
export const MESSAGE_TIMESTAMP_OFFSET = 18;

/** Entry overhead before the message: offset and messageSize. */
export const MESSAGE_ENTRY_OVERHEAD_BYTES = 12;
/** crc, magic, attributes, key length, value length. */
export const MESSAGE_V0_OVERHEAD_BYTES = 14;
/** crc, magic, attributes, timestamp, key length, value length. */
export const MESSAGE_V1_OVERHEAD_BYTES = 22;

const ATTRIBUTE_COMPRESSION_MASK = 0x07;
const ATTRIBUTE_TIMESTAMP_TYPE = 0x08;
/** lz4 is the highest codec that legacy messages can carry. */
const MAX_LEGACY_CODEC = CompressionCodec.Lz4;

export type LegacyMagic = 0 | 1;

/**
 * Raised when stored batches use a codec that the requested legacy format cannot carry (zstd
 * below magic 2); the broker answers UNSUPPORTED_COMPRESSION_TYPE. It is not a ProtocolError
 * because nothing is malformed.
 */
export class UnsupportedCompressionError extends Error {
  override readonly name = 'UnsupportedCompressionError';

  constructor(
    readonly codec: CompressionCodec,
    readonly magic: number,
  ) {
    super(`${compressionCodecName(codec)} compression cannot be carried by message format ${magic}`);
  }
}

// ---- decoding ------------------------------------------------------------------------------

/** One message after unwrapping compression; key and value share memory with the input or the decompressed set. */
export interface LegacyRecord {
  offset: bigint;
  /** NO_TIMESTAMP (-1) for magic 0. */
  timestamp: bigint;
  /** NoTimestampType for magic 0. */
  timestampType: TimestampType;
  key: Buffer | null;
  value: Buffer | null;
  magic: LegacyMagic;
  /** The codec of the wrapper the message came in, None for a plain message. */
  compression: CompressionCodec;
}

export interface MessageSetDecoding {
  records: LegacyRecord[];
  /** A message cut off at the end, as fetch responses may have; null when the set ends cleanly. */
  partial: PartialBatch | null;
}

/** A message as it appears on the wire, before unwrapping. */
interface RawMessage {
  /** Where the entry starts in its buffer, for error reports. */
  position: number;
  offset: bigint;
  magic: LegacyMagic;
  attributes: number;
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
}

/**
 * Decodes a message set, checking every CRC and unwrapping compressed messages (one level, as
 * the format allows). `maxUncompressedBytes` bounds each wrapper's decompressed size.
 * Malformed input raises ProtocolError; a partial trailing message is reported, not raised.
 */
export async function decodeMessageSet(
  buf: Buffer,
  maxUncompressedBytes: number,
  start = 0,
  end = buf.length,
): Promise<MessageSetDecoding> {
  const outer = parseMessages(buf, start, end, true);
  const records: LegacyRecord[] = [];
  for (const message of outer.messages) {
    const codec = (message.attributes & ATTRIBUTE_COMPRESSION_MASK) as CompressionCodec;
    if (codec === CompressionCodec.None) {
      records.push({
        offset: message.offset,
        timestamp: message.timestamp,
        timestampType: messageTimestampType(message),
        key: message.key,
        value: message.value,
        magic: message.magic,
        compression: CompressionCodec.None,
      });
      continue;
    }
    await unwrap(message, codec, maxUncompressedBytes, records);
  }
  return { records, partial: outer.partial };
}

async function unwrap(wrapper: RawMessage, codec: CompressionCodec, maxUncompressedBytes: number, out: LegacyRecord[]): Promise<void> {
  if (codec > MAX_LEGACY_CODEC) {
    throw new ProtocolError(`compression codec ${codec} is not valid in message format ${wrapper.magic}`, wrapper.position);
  }
  if (wrapper.value === null) throw new ProtocolError('compressed message has a null value', wrapper.position);
  const inner = await decompress(codec, wrapper.value, maxUncompressedBytes, { lz4LegacyChecksum: wrapper.magic === 0 });
  const { messages } = parseMessages(inner, 0, inner.length, false);
  if (messages.length === 0) throw new ProtocolError('compressed message holds no messages', wrapper.position);
  const lastInnerOffset = messages[messages.length - 1]!.offset;
  // Only magic 1 inner offsets are relative; the wrapper carries the last one's absolute offset.
  const offsetBase = wrapper.magic === 1 ? wrapper.offset - lastInnerOffset : 0n;
  const wrapperLogAppendTime = wrapper.magic === 1 && (wrapper.attributes & ATTRIBUTE_TIMESTAMP_TYPE) !== 0;
  for (const message of messages) {
    if (message.magic !== wrapper.magic) {
      throw new ProtocolError(`inner message magic ${message.magic} differs from its wrapper's ${wrapper.magic}`, wrapper.position);
    }
    if ((message.attributes & ATTRIBUTE_COMPRESSION_MASK) !== 0) {
      throw new ProtocolError('compressed message nested inside a compressed message', wrapper.position);
    }
    out.push({
      offset: offsetBase + message.offset,
      timestamp: wrapperLogAppendTime ? wrapper.timestamp : message.timestamp,
      timestampType: wrapperLogAppendTime ? TimestampType.LogAppendTime : messageTimestampType(message),
      key: message.key,
      value: message.value,
      magic: message.magic,
      compression: codec,
    });
  }
}

function messageTimestampType(message: RawMessage): TimestampType {
  if (message.magic === 0) return TimestampType.NoTimestampType;
  return message.attributes & ATTRIBUTE_TIMESTAMP_TYPE ? TimestampType.LogAppendTime : TimestampType.CreateTime;
}

/** Splits `buf[start, end)` into messages, checking sizes and CRCs; see decodeMessageSet. */
function parseMessages(
  buf: Buffer,
  start: number,
  end: number,
  allowPartial: boolean,
): { messages: RawMessage[]; partial: PartialBatch | null } {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > buf.length || start > end) {
    throw new RangeError(`invalid range [${start}, ${end}) in a buffer of ${buf.length} bytes`);
  }
  const messages: RawMessage[] = [];
  let pos = start;
  while (pos < end) {
    const available = end - pos;
    let partial: PartialBatch | null = null;
    if (available < MESSAGE_ENTRY_OVERHEAD_BYTES) {
      partial = { offset: pos, availableBytes: available, declaredBytes: -1 };
    } else {
      const messageSize = buf.readInt32BE(pos + MESSAGE_SIZE_OFFSET);
      if (messageSize < MESSAGE_V0_OVERHEAD_BYTES) {
        throw new ProtocolError(`message size ${messageSize} is smaller than a message's header`, pos);
      }
      if (available > MESSAGE_MAGIC_OFFSET) checkMagic(buf.readInt8(pos + MESSAGE_MAGIC_OFFSET), pos);
      const sizeBytes = MESSAGE_ENTRY_OVERHEAD_BYTES + messageSize;
      if (sizeBytes > available) partial = { offset: pos, availableBytes: available, declaredBytes: sizeBytes };
      else {
        messages.push(parseMessage(buf, pos, pos + sizeBytes));
        pos += sizeBytes;
        continue;
      }
    }
    if (!allowPartial) throw new ProtocolError(`message set ends inside a message`, pos);
    return { messages, partial };
  }
  return { messages, partial: null };
}

function checkMagic(magic: number, position: number): asserts magic is LegacyMagic {
  if (magic !== 0 && magic !== 1) throw new ProtocolError(`message magic ${magic}, expected 0 or 1`, position);
}

/** Parses one complete entry `buf[pos, entryEnd)`. */
function parseMessage(buf: Buffer, pos: number, entryEnd: number): RawMessage {
  const magic = buf.readInt8(pos + MESSAGE_MAGIC_OFFSET);
  checkMagic(magic, pos);
  const overhead = magic === 0 ? MESSAGE_V0_OVERHEAD_BYTES : MESSAGE_V1_OVERHEAD_BYTES;
  if (entryEnd - pos - MESSAGE_ENTRY_OVERHEAD_BYTES < overhead) {
    throw new ProtocolError(`message of ${entryEnd - pos - MESSAGE_ENTRY_OVERHEAD_BYTES} bytes is smaller than a magic ${magic} header`, pos);
  }
  const storedCrc = buf.readUInt32BE(pos + MESSAGE_CRC_OFFSET);
  const computedCrc = crc32(buf.subarray(pos + MESSAGE_MAGIC_OFFSET, entryEnd));
  if (storedCrc !== computedCrc) {
    throw new ProtocolError(`message crc mismatch: stored ${storedCrc}, computed ${computedCrc}`, pos);
  }
  const attributes = buf.readInt8(pos + MESSAGE_ATTRIBUTES_OFFSET);
  let cursor = pos + MESSAGE_TIMESTAMP_OFFSET;
  let timestamp = NO_TIMESTAMP;
  if (magic === 1) {
    timestamp = buf.readBigInt64BE(cursor);
    cursor += 8;
  }
  const key = readLengthPrefixed(buf, cursor, entryEnd, pos, 'key');
  cursor += 4 + (key === null ? 0 : key.length);
  const value = readLengthPrefixed(buf, cursor, entryEnd, pos, 'value');
  cursor += 4 + (value === null ? 0 : value.length);
  if (cursor !== entryEnd) throw new ProtocolError(`${entryEnd - cursor} bytes after the message value`, pos);
  return { position: pos, offset: buf.readBigInt64BE(pos + MESSAGE_OFFSET_OFFSET), magic, attributes, timestamp, key, value };
}

function readLengthPrefixed(buf: Buffer, cursor: number, entryEnd: number, position: number, what: string): Buffer | null {
  if (entryEnd - cursor < 4) throw new ProtocolError(`message ends inside the ${what} length`, position);
  const length = buf.readInt32BE(cursor);
  if (length === -1) return null;
  if (length < -1 || length > entryEnd - cursor - 4) throw new ProtocolError(`invalid ${what} length ${length}`, position);
  return buf.subarray(cursor + 4, cursor + 4 + length);
}

// ---- encoding ------------------------------------------------------------------------------

/** One message to write; `timestamp` is ignored for magic 0. */
interface MessageEntry {
  offset: bigint;
  attributes: number;
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
}

/** Writes entries as a message set, sizing first and allocating once. */
function encodeMessages(magic: LegacyMagic, entries: readonly MessageEntry[]): Buffer {
  const overhead = MESSAGE_ENTRY_OVERHEAD_BYTES + (magic === 0 ? MESSAGE_V0_OVERHEAD_BYTES : MESSAGE_V1_OVERHEAD_BYTES);
  let total = 0;
  for (const entry of entries) total += overhead + lengthOf(entry.key) + lengthOf(entry.value);
  if (total > 0x7fffffff) throw new EncodeError(`message set of ${total} bytes is too large`);
  const buf = Buffer.allocUnsafe(total);
  let pos = 0;
  for (const entry of entries) {
    const start = pos;
    const messageSize = overhead - MESSAGE_ENTRY_OVERHEAD_BYTES + lengthOf(entry.key) + lengthOf(entry.value);
    if (BigInt.asIntN(64, entry.offset) !== entry.offset) throw new EncodeError(`offset ${entry.offset} is not an int64`);
    buf.writeBigInt64BE(entry.offset, pos + MESSAGE_OFFSET_OFFSET);
    buf.writeInt32BE(messageSize, pos + MESSAGE_SIZE_OFFSET);
    buf.writeInt8(magic, pos + MESSAGE_MAGIC_OFFSET);
    buf.writeInt8(entry.attributes, pos + MESSAGE_ATTRIBUTES_OFFSET);
    pos += MESSAGE_TIMESTAMP_OFFSET;
    if (magic === 1) {
      if (BigInt.asIntN(64, entry.timestamp) !== entry.timestamp) throw new EncodeError(`timestamp ${entry.timestamp} is not an int64`);
      buf.writeBigInt64BE(entry.timestamp, pos);
      pos += 8;
    }
    pos = writeLengthPrefixed(buf, pos, entry.key);
    pos = writeLengthPrefixed(buf, pos, entry.value);
    buf.writeUInt32BE(crc32(buf.subarray(start + MESSAGE_MAGIC_OFFSET, pos)), start + MESSAGE_CRC_OFFSET);
  }
  return buf;
}

function lengthOf(bytes: Buffer | null): number {
  return bytes === null ? 0 : bytes.length;
}

function writeLengthPrefixed(buf: Buffer, pos: number, bytes: Buffer | null): number {
  if (bytes === null) {
    buf.writeInt32BE(-1, pos);
    return pos + 4;
  }
  buf.writeInt32BE(bytes.length, pos);
  bytes.copy(buf, pos + 4);
  return pos + 4 + bytes.length;
}

function compressionOptions(magic: LegacyMagic): { lz4LegacyChecksum: boolean; snappyFraming: 'xerial' } {
  return { lz4LegacyChecksum: magic === 0, snappyFraming: 'xerial' };
}

export interface LegacyMessageInput {
  offset: bigint;
  /** Magic 1 only; defaults to NO_TIMESTAMP. */
  timestamp?: bigint;
  key: Buffer | null;
  value: Buffer | null;
}

export interface MessageSetInput {
  magic: LegacyMagic;
  messages: LegacyMessageInput[];
  /** When not none, all messages go into one wrapper with this codec. */
  compression?: CompressionCodec;
  /** Magic 1 only. */
  timestampType?: TimestampType.CreateTime | TimestampType.LogAppendTime;
}

/**
 * Builds a legacy message set as an old producer would: plain messages, or one compressed
 * wrapper holding them all (inner offsets relative to the first message in magic 1, absolute
 * in magic 0; the wrapper gets the last message's offset and, in magic 1, the largest
 * timestamp).
 */
export async function buildMessageSet(input: MessageSetInput): Promise<Buffer> {
  const { magic, messages } = input;
  const codec = input.compression ?? CompressionCodec.None;
  if (codec > MAX_LEGACY_CODEC) throw new UnsupportedCompressionError(codec, magic);
  const timestampBit = magic === 1 && input.timestampType === TimestampType.LogAppendTime ? ATTRIBUTE_TIMESTAMP_TYPE : 0;
  const entries: MessageEntry[] = messages.map((m) => ({
    offset: m.offset,
    attributes: timestampBit,
    timestamp: m.timestamp ?? NO_TIMESTAMP,
    key: m.key,
    value: m.value,
  }));
  if (codec === CompressionCodec.None || entries.length === 0) return encodeMessages(magic, entries);
  return encodeWrapper(magic, codec, timestampBit, entries, entries[0]!.offset);
}

/**
 * Compresses entries (absolute offsets) into one wrapper message. In magic 1 the inner offsets
 * are written relative to `relativeTo`; the wrapper carries the last entry's absolute offset.
 */
async function encodeWrapper(
  magic: LegacyMagic,
  codec: CompressionCodec,
  timestampBit: number,
  entries: MessageEntry[],
  relativeTo: bigint,
): Promise<Buffer> {
  let maxTimestamp = NO_TIMESTAMP;
  for (let i = 0; i < entries.length; i++) {
    if (i === 0 || entries[i]!.timestamp > maxTimestamp) maxTimestamp = entries[i]!.timestamp;
  }
  const inner = magic === 1 ? entries.map((e) => ({ ...e, offset: e.offset - relativeTo })) : entries;
  const compressed = await compress(codec, encodeMessages(magic, inner), compressionOptions(magic));
  const wrapper: MessageEntry = {
    offset: entries[entries.length - 1]!.offset,
    attributes: codec | timestampBit,
    timestamp: maxTimestamp,
    key: null,
    value: compressed,
  };
  return encodeMessages(magic, [wrapper]);
}

// ---- up-conversion (produce) -------------------------------------------------------------------

export interface UpConvertOptions {
  /** Bounds each compressed wrapper's decompressed size. */
  maxUncompressedBytes: number;
  /**
   * For topics with message.timestamp.type=LogAppendTime: the batch gets that timestamp type
   * and every record this timestamp. Otherwise records keep the producer's timestamps (magic 0
   * has none, so they become NO_TIMESTAMP, as in Kafka).
   */
  logAppendTime?: bigint;
  /**
   * The batch's codec; defaults to the codec of the first compressed wrapper in the set, or
   * none when there is none (Kafka's compression.type=producer).
   */
  compression?: CompressionCodec;
  /**
   * Keep the offsets from the message set (which must then increase) instead of numbering the
   * records 0 .. n-1, which is what a produce path wants because the broker assigns offsets.
   */
  preserveOffsets?: boolean;
}

/**
 * Converts a magic 0 or 1 message set, as carried by Produce v0-v2, into one magic 2 record
 * batch with the same keys, values and timestamps. An empty set gives an empty buffer. A
 * partial trailing message is an error here: a producer has no reason to send one.
 */
export async function upConvertMessageSet(buf: Buffer, options: UpConvertOptions): Promise<Buffer> {
  const { records, partial } = await decodeMessageSet(buf, options.maxUncompressedBytes);
  if (partial !== null) throw new ProtocolError('message set ends inside a message', partial.offset);
  if (records.length === 0) return Buffer.alloc(0);
  const codec = options.compression ?? records.find((r) => r.compression !== CompressionCodec.None)?.compression ?? CompressionCodec.None;
  const logAppendTime = options.logAppendTime;
  const baseOffset = options.preserveOffsets === true ? records[0]!.offset : 0n;
  const inputs: RecordInput[] = new Array<RecordInput>(records.length);
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    let offsetDelta = i;
    if (options.preserveOffsets === true) {
      const delta = record.offset - baseOffset;
      if (delta < BigInt(i) || delta > 0x7fffffffn || (i > 0 && record.offset <= records[i - 1]!.offset)) {
        throw new ProtocolError(`message offsets must increase to be kept: ${record.offset} after ${records[i - 1]?.offset ?? baseOffset}`);
      }
      offsetDelta = Number(delta);
    }
    inputs[i] = { key: record.key, value: record.value, timestamp: logAppendTime ?? record.timestamp, offsetDelta };
  }
  return buildRecordBatch({
    records: inputs,
    baseOffset,
    compression: codec,
    timestampType: logAppendTime === undefined ? TimestampType.CreateTime : TimestampType.LogAppendTime,
  });
}

// ---- down-conversion (fetch) -------------------------------------------------------------------

export interface DownConvertOptions {
  /** Bounds each batch's decompressed records section. */
  maxUncompressedBytes: number;
  /**
   * Re-compress each compressed batch with its codec, as one wrapper message (the default).
   * When false everything is written uncompressed, which also lets zstd batches through.
   */
  preserveCompression?: boolean;
}

/**
 * Converts magic 2 batches (as stored) into a magic 1 or magic 0 message set for Fetch v0-v3,
 * keeping every record's offset. Headers are dropped (the old formats have none), control
 * batches are skipped and a trailing partial batch is dropped. Zstd batches raise
 * UnsupportedCompressionError unless `preserveCompression` is false. Malformed batches raise
 * ProtocolError.
 */
export async function downConvertRecordBatches(buf: Buffer, magic: LegacyMagic, options: DownConvertOptions): Promise<Buffer> {
  if (magic !== 0 && magic !== 1) throw new RangeError(`cannot down-convert to magic ${String(magic)}`);
  const preserveCompression = options.preserveCompression ?? true;
  const chunks: Buffer[] = [];
  for (const batch of new RecordBatchWalker(buf)) {
    if (batch.isControl) continue;
    const codec = batch.compression;
    if (preserveCompression && codec > MAX_LEGACY_CODEC && codec <= CompressionCodec.Zstd) {
      throw new UnsupportedCompressionError(codec, magic);
    }
    const records = await readRecords(batch, options.maxUncompressedBytes);
    if (records.length === 0) continue;
    chunks.push(await convertBatch(batch, records, magic, preserveCompression ? codec : CompressionCodec.None));
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

async function convertBatch(batch: RecordBatchView, records: KafkaRecord[], magic: LegacyMagic, codec: CompressionCodec): Promise<Buffer> {
  const timestampBit = magic === 1 && batch.timestampType === TimestampType.LogAppendTime ? ATTRIBUTE_TIMESTAMP_TYPE : 0;
  const entries: MessageEntry[] = records.map((r) => ({
    offset: r.offset,
    attributes: timestampBit,
    timestamp: r.timestamp,
    key: r.key,
    value: r.value,
  }));
  if (codec === CompressionCodec.None) return encodeMessages(magic, entries);
  return encodeWrapper(magic, codec, timestampBit, entries, batch.baseOffset);
}

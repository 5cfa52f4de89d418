import { constants as bufferConstants } from 'node:buffer';
import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';
import { Decompress as ZstdStreamDecoder } from 'fzstd';
import { EncodeError, ProtocolError } from './protocol-error.js';

/**
 * Kafka's record-batch compression codecs: the codec is in bits 0-2 of a record batch's (or a
 * legacy wrapper message's) attributes, and the compressed bytes are the batch's records.
 *
 * Every decoder here treats its input as hostile: it may be garbage, truncated, or a small
 * "bomb" that expands far beyond `maxOutputBytes`. Decoding reports all of that as a
 * ProtocolError and bounds memory by the limit, mostly by reading the sizes that each format
 * declares up front and refusing before anything large is allocated.
 *
 * Wire formats, as Kafka clients write them:
 *
 * gzip (1): RFC 1952 members (Java's GZIPOutputStream). zlib also reads concatenated members.
 *
 * snappy (2), in one of two framings, told apart by the xerial magic exactly as Java Kafka
 * and librdkafka do:
 *   - xerial framing (Java clients, snappy-java's SnappyOutputStream):
 *       magic    8 bytes     0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00
 *       version  int32 BE    1
 *       compat   int32 BE    1 (oldest reader version that understands the stream)
 *       blocks   repeated { length int32 BE; raw snappy block of `length` bytes }
 *     Each block compresses at most 32 KiB of input (snappy-java's default block size).
 *   - raw snappy (librdkafka, Sarama): uvarint uncompressed length (at most 32 bits), then
 *     literal and copy elements.
 *
 * lz4 (3): the LZ4 frame format (not the older 0x184C2102 "legacy frame"):
 *   magic      uint32 LE 0x184D2204
 *   FLG        bits 7-6 version (01), 5 block independence, 4 block checksum,
 *              3 content size, 2 content checksum, 1 reserved (0), 0 dictionary id
 *   BD         bits 6-4 block maximum size (4: 64 KiB, 5: 256 KiB, 6: 1 MiB, 7: 4 MiB);
 *              the other bits are reserved (0)
 *   [content size uint64 LE] [dictionary id uint32 LE]
 *   HC         (xxh32(FLG .. last descriptor byte, seed 0) >> 8) & 0xff
 *   blocks     repeated { size uint32 LE (bit 31 set: stored uncompressed); data;
 *                         [xxh32 of data, when FLG has block checksums] }
 *   end mark   uint32 0, then [xxh32 of the whole content, when FLG has content checksum]
 *   Skippable frames (magic 0x184D2A50..0x184D2A5F, uint32 LE size, data) may precede or follow.
 *   Java Kafka before 0.10 computed HC over the magic as well (KAFKA-3160); KIP-57 kept that
 *   broken value for magic 0 messages, so `lz4LegacyChecksum` accepts it (and compress writes it).
 *
 * zstd (4): RFC 8878 frames:
 *   magic      uint32 LE 0xFD2FB528
 *   FHD        bits 7-6 content size field flag, 5 single segment, 4 unused,
 *              3 reserved (0), 2 content checksum, 1-0 dictionary id field flag
 *   [window descriptor: exponent (bits 7-3), mantissa (bits 2-0)] unless single segment
 *   [dictionary id: 0, 1, 2 or 4 bytes LE] [content size: 0, 1, 2 (+256), 4 or 8 bytes LE]
 *   blocks     repeated { header 3 bytes LE: bit 0 last block, bits 2-1 type (0 raw, 1 RLE,
 *                         2 compressed, 3 reserved), bits 23-3 size; content }
 *   [content checksum: low 4 bytes of xxh64, when FHD says so]
 *   Skippable frames as for LZ4. Java's zstd-jni output stream omits the content size.
 */

export enum CompressionCodec {
  None = 0,
  Gzip = 1,
  Snappy = 2,
  Lz4 = 3,
  Zstd = 4,
}

export interface CompressOptions {
  /** LZ4 only: write the header checksum the way Kafka's magic 0 messages need (KIP-57). */
  lz4LegacyChecksum?: boolean;
  /** Snappy only: xerial framing (default; what Java clients write and expect) or raw. */
  snappyFraming?: 'xerial' | 'raw';
  /** gzip (0-9) and zstd (negative for fast modes, up to 22) only; the others have none. */
  level?: number;
}

export interface DecompressOptions {
  /** LZ4 only: also accept the legacy header checksum that covers the magic (magic 0 messages). */
  lz4LegacyChecksum?: boolean;
}

/** True when `value` (attributes & 7, for instance) names a codec that this module knows. */
export function isCompressionCodec(value: number): value is CompressionCodec {
  return Number.isInteger(value) && value >= CompressionCodec.None && value <= CompressionCodec.Zstd;
}

const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

/** The codec's name as Kafka's `compression.type` spells it. */
export function compressionCodecName(codec: CompressionCodec): string {
  return CODEC_NAMES[codec] ?? `codec ${String(codec)}`;
}

const EMPTY: Buffer = Buffer.alloc(0);

// ---- native modules ------------------------------------------------------------------------
//
// The native codecs are loaded on first use, so that a broker whose platform lacks one binary
// still starts and serves the other codecs. For LZ4 and zstd decompression a pure-JS decoder
// takes over when the native one cannot be loaded; compression and snappy need the binary.

interface SnappyModule {
  compress(input: Uint8Array): Promise<Buffer>;
  compressSync(input: Uint8Array): Buffer;
  uncompress(input: Uint8Array): Promise<string | Buffer>;
  uncompressSync(input: Uint8Array): string | Buffer;
}

interface Lz4Module {
  compressFrame(data: Uint8Array): Promise<Buffer>;
  decompressFrame(data: Uint8Array): Promise<Buffer>;
}

interface ZstdModule {
  compress(data: Buffer, level?: number): Promise<Buffer>;
  decompress(data: Buffer): Promise<Buffer>;
}

const requireNative = createRequire(import.meta.url);
const nativeCache = new Map<string, { module: unknown } | { error: unknown }>();

function tryNative<T>(name: string): T | undefined {
  let entry = nativeCache.get(name);
  if (entry === undefined) {
    try {
      entry = { module: requireNative(name) };
    } catch (error) {
      entry = { error };
    }
    nativeCache.set(name, entry);
  }
  return 'module' in entry ? (entry.module as T) : undefined;
}

function needNative<T>(name: string, what: string): T {
  const module = tryNative<T>(name);
  if (module !== undefined) return module;
  const entry = nativeCache.get(name) as { error: unknown };
  throw new Error(`${what} needs the native module ${name}, which failed to load: ${String(entry.error)}`, {
    cause: entry.error,
  });
}

// ---- entry points --------------------------------------------------------------------------

/** Compresses `data` with `codec`, in the format Kafka clients expect (see the top of this file). */
export async function compress(codec: CompressionCodec, data: Buffer, options: CompressOptions = {}): Promise<Buffer> {
  switch (codec) {
    case CompressionCodec.None:
      return data;
    case CompressionCodec.Gzip:
      return gzip(data, options.level);
    case CompressionCodec.Snappy:
      return options.snappyFraming === 'raw' ? snappyCompressRaw(data) : snappyCompressXerial(data);
    case CompressionCodec.Lz4:
      return lz4Compress(data, options.lz4LegacyChecksum === true);
    case CompressionCodec.Zstd:
      return zstdCompress(data, options.level);
    default:
      throw new EncodeError(`unknown compression codec ${String(codec)}`);
  }
}

/**
 * Decompresses `data`, which was compressed with `codec`. Anything wrong with the input —
 * garbage, truncation, a checksum mismatch, or an output of more than `maxOutputBytes` — is
 * reported as a ProtocolError, and the output limit is enforced without first allocating the
 * whole output (see each codec for how).
 */
export async function decompress(
  codec: CompressionCodec,
  data: Buffer,
  maxOutputBytes: number,
  options: DecompressOptions = {},
): Promise<Buffer> {
  const limit = checkLimit(maxOutputBytes);
  switch (codec) {
    case CompressionCodec.None:
      if (data.length > limit) throw tooLarge('uncompressed', limit);
      return data;
    case CompressionCodec.Gzip:
      return gunzip(data, limit);
    case CompressionCodec.Snappy:
      return snappyDecompress(data, limit);
    case CompressionCodec.Lz4:
      return lz4Decompress(data, limit, options.lz4LegacyChecksum === true);
    case CompressionCodec.Zstd:
      return zstdDecompress(data, limit);
    default:
      throw new ProtocolError(`unknown compression codec ${String(codec)}`);
  }
}

/** No output can be longer than the largest Buffer this runtime can allocate. */
const MAX_BUFFER_BYTES = Math.min(bufferConstants.MAX_LENGTH, Number.MAX_SAFE_INTEGER);

function checkLimit(maxOutputBytes: number): number {
  if (!Number.isSafeInteger(maxOutputBytes) || maxOutputBytes < 0) {
    throw new RangeError(`maxOutputBytes must be a non-negative integer, not ${maxOutputBytes}`);
  }
  return Math.min(maxOutputBytes, MAX_BUFFER_BYTES);
}

function tooLarge(codec: string, maxOutputBytes: number): ProtocolError {
  return new ProtocolError(`${codec} data decompresses to more than the limit of ${maxOutputBytes} bytes`);
}

function corrupt(codec: string, why: string, offset = -1): ProtocolError {
  return new ProtocolError(`corrupt ${codec} data: ${why}`, offset);
}

/** Wraps anything a third-party decoder throws on bad input in a ProtocolError. */
function asProtocolError(codec: string, error: unknown): ProtocolError {
  if (error instanceof ProtocolError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const wrapped = corrupt(codec, message);
  wrapped.cause = error;
  return wrapped;
}

// ---- gzip ----------------------------------------------------------------------------------

function gzip(data: Buffer, level: number | undefined): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    try {
      zlib.gzip(data, level === undefined ? {} : { level }, (error, result) => {
        if (error) reject(new EncodeError(`gzip: ${error.message}`, { cause: error }));
        else resolve(result);
      });
    } catch (error) {
      // An out-of-range level is rejected synchronously.
      reject(new EncodeError(`gzip: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
    }
  });
}

function gunzip(data: Buffer, maxOutputBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // zlib stops inflating (and frees what it had) as soon as the output passes
    // maxOutputLength, so a bomb costs at most the limit; it accepts only lengths of 1 or more.
    zlib.gunzip(data, { maxOutputLength: Math.max(1, maxOutputBytes) }, (error, result) => {
      if (error) {
        const code = (error as NodeJS.ErrnoException).code;
        reject(code === 'ERR_BUFFER_TOO_LARGE' ? tooLarge('gzip', maxOutputBytes) : asProtocolError('gzip', error));
      } else if (result.length > maxOutputBytes) {
        reject(tooLarge('gzip', maxOutputBytes));
      } else {
        resolve(result);
      }
    });
  });
}

// ---- snappy --------------------------------------------------------------------------------

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;
const XERIAL_BLOCK_BYTES = 32 * 1024;
/** Below this much output, snappy runs synchronously: a thread-pool round trip costs more. */
const SNAPPY_SYNC_BYTES = 256 * 1024;

function snappyModule(): SnappyModule {
  return needNative<SnappyModule>('snappy', 'snappy compression');
}

async function snappyCompressRaw(data: Buffer): Promise<Buffer> {
  const snappy = snappyModule();
  return data.length <= SNAPPY_SYNC_BYTES ? snappy.compressSync(data) : snappy.compress(data);
}

async function snappyCompressXerial(data: Buffer): Promise<Buffer> {
  const snappy = snappyModule();
  const blocks: Buffer[] = [];
  for (let pos = 0; pos < data.length; pos += XERIAL_BLOCK_BYTES) {
    blocks.push(data.subarray(pos, Math.min(data.length, pos + XERIAL_BLOCK_BYTES)));
  }
  const compressed =
    data.length <= SNAPPY_SYNC_BYTES
      ? blocks.map((block) => snappy.compressSync(block))
      : await Promise.all(blocks.map((block) => snappy.compress(block)));
  let total = XERIAL_HEADER_BYTES;
  for (const block of compressed) total += 4 + block.length;
  const out = Buffer.allocUnsafe(total);
  XERIAL_MAGIC.copy(out, 0);
  out.writeInt32BE(1, 8);
  out.writeInt32BE(1, 12);
  let pos = XERIAL_HEADER_BYTES;
  for (const block of compressed) {
    out.writeInt32BE(block.length, pos);
    block.copy(out, pos + 4);
    pos += 4 + block.length;
  }
  return out;
}

function isXerial(data: Buffer): boolean {
  return data.length >= XERIAL_MAGIC.length && XERIAL_MAGIC.equals(data.subarray(0, XERIAL_MAGIC.length));
}

/**
 * Reads the uncompressed length that starts every raw snappy block (a uvarint of at most 32
 * bits), or returns -1 when it is malformed.
 */
function snappyUncompressedBytes(block: Buffer): number {
  let value = 0;
  for (let i = 0; i < 5 && i < block.length; i++) {
    const b = block[i]!;
    if (i === 4 && b > 0x0f) return -1;
    value += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) return value;
  }
  return -1;
}

/**
 * Snappy's native decoder allocates exactly the length that a block declares and fails when
 * the block does not produce exactly that, so checking the declared lengths against the limit
 * before decoding anything bounds the memory.
 */
async function snappyDecompress(data: Buffer, maxOutputBytes: number): Promise<Buffer> {
  const blocks: Buffer[] = [];
  let total = 0;
  if (isXerial(data)) {
    if (data.length < XERIAL_HEADER_BYTES) throw corrupt('snappy', 'truncated xerial header', data.length);
    let pos = XERIAL_HEADER_BYTES;
    while (pos < data.length) {
      // snappy-java reads concatenated streams, each with its own header; so do we.
      if (data.length - pos >= XERIAL_HEADER_BYTES && XERIAL_MAGIC.equals(data.subarray(pos, pos + XERIAL_MAGIC.length))) {
        pos += XERIAL_HEADER_BYTES;
        continue;
      }
      if (data.length - pos < 4) throw corrupt('snappy', 'truncated xerial block length', pos);
      const length = data.readInt32BE(pos);
      if (length <= 0 || length > data.length - pos - 4) {
        throw corrupt('snappy', `xerial block length ${length} does not fit`, pos);
      }
      blocks.push(data.subarray(pos + 4, pos + 4 + length));
      pos += 4 + length;
    }
  } else {
    blocks.push(data);
  }
  for (const block of blocks) {
    const n = snappyUncompressedBytes(block);
    if (n < 0) throw corrupt('snappy', 'bad uncompressed length header');
    total += n;
    if (total > maxOutputBytes) throw tooLarge('snappy', maxOutputBytes);
  }
  if (blocks.length === 0) return EMPTY;
  const snappy = snappyModule();
  let parts: Buffer[];
  try {
    parts =
      total <= SNAPPY_SYNC_BYTES
        ? blocks.map((block) => snappy.uncompressSync(block) as Buffer)
        : ((await Promise.all(blocks.map((block) => snappy.uncompress(block)))) as Buffer[]);
  } catch (error) {
    throw asProtocolError('snappy', error);
  }
  const out = parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
  if (out.length !== total) throw corrupt('snappy', 'output length differs from the declared length');
  return out;
}

// ---- xxHash32 (for LZ4 frames) -------------------------------------------------------------

const XXH_P1 = 0x9e3779b1 | 0;
const XXH_P2 = 0x85ebca77 | 0;
const XXH_P3 = 0xc2b2ae3d | 0;
const XXH_P4 = 0x27d4eb2f | 0;
const XXH_P5 = 0x165667b1 | 0;

function rotl32(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function read32le(data: Uint8Array, i: number): number {
  return data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
}

/** XXH32 of data[start, end) with `seed`, as the LZ4 frame format uses it; unsigned result. */
export function xxh32(data: Uint8Array, start = 0, end = data.length, seed = 0): number {
  let i = start;
  let h: number;
  if (end - start >= 16) {
    let v1 = (seed + XXH_P1 + XXH_P2) | 0;
    let v2 = (seed + XXH_P2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - XXH_P1) | 0;
    const limit = end - 16;
    while (i <= limit) {
      v1 = Math.imul(rotl32((v1 + Math.imul(read32le(data, i), XXH_P2)) | 0, 13), XXH_P1);
      v2 = Math.imul(rotl32((v2 + Math.imul(read32le(data, i + 4), XXH_P2)) | 0, 13), XXH_P1);
      v3 = Math.imul(rotl32((v3 + Math.imul(read32le(data, i + 8), XXH_P2)) | 0, 13), XXH_P1);
      v4 = Math.imul(rotl32((v4 + Math.imul(read32le(data, i + 12), XXH_P2)) | 0, 13), XXH_P1);
      i += 16;
    }
    h = (rotl32(v1, 1) + rotl32(v2, 7) + rotl32(v3, 12) + rotl32(v4, 18)) | 0;
  } else {
    h = (seed + XXH_P5) | 0;
  }
  h = (h + (end - start)) | 0;
  while (i + 4 <= end) {
    h = Math.imul(rotl32((h + Math.imul(read32le(data, i), XXH_P3)) | 0, 17), XXH_P4);
    i += 4;
  }
  while (i < end) {
    h = Math.imul(rotl32((h + Math.imul(data[i]!, XXH_P5)) | 0, 11), XXH_P1);
    i++;
  }
  h ^= h >>> 15;
  h = Math.imul(h, XXH_P2);
  h ^= h >>> 13;
  h = Math.imul(h, XXH_P3);
  h ^= h >>> 16;
  return h >>> 0;
}

// ---- LZ4 -----------------------------------------------------------------------------------

const LZ4_MAGIC = 0x184d2204;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
const LZ4_BLOCK_MAX_BYTES = [0, 0, 0, 0, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024] as const;
const LZ4_UNCOMPRESSED_BIT = 0x80000000;

function lz4Module(): Lz4Module {
  return needNative<Lz4Module>('lz4-napi', 'lz4 compression');
}

/** The header checksum byte over data[start, end), which is the descriptor (or, legacy, all of the header). */
function lz4HeaderChecksum(data: Uint8Array, start: number, end: number): number {
  return (xxh32(data, start, end) >>> 8) & 0xff;
}

async function lz4Compress(data: Buffer, legacyChecksum: boolean): Promise<Buffer> {
  // lz4-napi (lz4_flex) writes independent blocks without checksums or a content size, which
  // is what Java Kafka's KafkaLZ4BlockInputStream accepts.
  const out = await lz4Module().compressFrame(data);
  if (legacyChecksum) {
    const frame = parseLz4Header(out, 0, false);
    out[frame.headerEnd - 1] = lz4HeaderChecksum(out, 0, frame.headerEnd - 1);
  }
  return out;
}

interface Lz4Header {
  /** Offset just past the header checksum byte. */
  headerEnd: number;
  independentBlocks: boolean;
  blockChecksums: boolean;
  contentChecksum: boolean;
  /** -1 when the frame does not declare it. */
  contentBytes: number;
  blockMaxBytes: number;
  /** True when only the legacy (KAFKA-3160) header checksum matched. */
  legacyChecksum: boolean;
}

function parseLz4Header(data: Buffer, start: number, acceptLegacyChecksum: boolean): Lz4Header {
  if (data.length - start < 7) throw corrupt('lz4', 'truncated frame header', start);
  const flg = data[start + 4]!;
  const bd = data[start + 5]!;
  if (flg >>> 6 !== 1) throw corrupt('lz4', `unsupported frame version ${flg >>> 6}`, start + 4);
  if ((flg & 0x02) !== 0 || (bd & 0x8f) !== 0) throw corrupt('lz4', 'reserved header bits set', start + 4);
  if ((flg & 0x01) !== 0) throw corrupt('lz4', 'frames with a dictionary are not supported', start + 4);
  const blockMaxBytes = LZ4_BLOCK_MAX_BYTES[(bd >>> 4) & 7]!;
  if (blockMaxBytes === 0) throw corrupt('lz4', `invalid block maximum size code ${(bd >>> 4) & 7}`, start + 5);
  let pos = start + 6;
  let contentBytes = -1;
  if ((flg & 0x08) !== 0) {
    if (data.length - pos < 9) throw corrupt('lz4', 'truncated frame header', pos);
    const low = data.readUInt32LE(pos);
    const high = data.readUInt32LE(pos + 4);
    // Sizes past 2^53 are all far over any limit; keep them as an exact-enough large number.
    contentBytes = high * 2 ** 32 + low;
    pos += 8;
  }
  const hc = data[pos]!;
  let legacyChecksum = false;
  if (hc !== lz4HeaderChecksum(data, start + 4, pos)) {
    if (acceptLegacyChecksum && hc === lz4HeaderChecksum(data, start, pos)) legacyChecksum = true;
    else throw corrupt('lz4', 'frame header checksum mismatch', pos);
  }
  return {
    headerEnd: pos + 1,
    independentBlocks: (flg & 0x20) !== 0,
    blockChecksums: (flg & 0x10) !== 0,
    contentChecksum: (flg & 0x04) !== 0,
    contentBytes,
    blockMaxBytes,
    legacyChecksum,
  };
}

interface Lz4Scan {
  /** LZ4 frames in order, with where each starts and ends; skippable frames are left out. */
  frames: Array<{ start: number; end: number; header: Lz4Header }>;
  /** What the blocks can decode to at most: stored blocks count exactly, compressed ones as their maximum. */
  boundBytes: number;
  /** A better guess of the output size, for the first allocation: declared sizes where present. */
  expectedBytes: number;
}

/**
 * Walks the frames and block headers without decoding, checking the structure and computing
 * an upper bound of the output. Costs O(number of blocks).
 */
function scanLz4(data: Buffer, maxOutputBytes: number, acceptLegacyChecksum: boolean): Lz4Scan {
  const frames: Lz4Scan['frames'] = [];
  let boundBytes = 0;
  let expectedBytes = 0;
  let declaredBytes = 0;
  let pos = 0;
  if (data.length === 0) throw corrupt('lz4', 'empty input');
  while (pos < data.length) {
    if (data.length - pos < 4) throw corrupt('lz4', 'truncated frame magic', pos);
    const magic = data.readUInt32LE(pos);
    if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      if (data.length - pos < 8) throw corrupt('lz4', 'truncated skippable frame', pos);
      const size = data.readUInt32LE(pos + 4);
      if (size > data.length - pos - 8) throw corrupt('lz4', 'truncated skippable frame', pos);
      pos += 8 + size;
      continue;
    }
    if (magic !== LZ4_MAGIC) throw corrupt('lz4', `bad frame magic 0x${magic.toString(16)}`, pos);
    const start = pos;
    const header = parseLz4Header(data, pos, acceptLegacyChecksum);
    if (header.contentBytes >= 0) {
      declaredBytes += header.contentBytes;
      if (declaredBytes > maxOutputBytes) throw tooLarge('lz4', maxOutputBytes);
    }
    pos = header.headerEnd;
    let frameBound = 0;
    for (;;) {
      if (data.length - pos < 4) throw corrupt('lz4', 'truncated block size', pos);
      const word = data.readUInt32LE(pos);
      pos += 4;
      if (word === 0) break;
      const stored = word >= LZ4_UNCOMPRESSED_BIT;
      const size = stored ? word - LZ4_UNCOMPRESSED_BIT : word;
      if (size > header.blockMaxBytes) throw corrupt('lz4', `block of ${size} bytes exceeds the frame's maximum`, pos - 4);
      const blockEnd = pos + size + (header.blockChecksums ? 4 : 0);
      if (blockEnd > data.length) throw corrupt('lz4', 'truncated block', pos);
      frameBound += stored ? size : header.blockMaxBytes;
      pos = blockEnd;
    }
    if (header.contentChecksum) {
      if (data.length - pos < 4) throw corrupt('lz4', 'truncated content checksum', pos);
      pos += 4;
    }
    if (header.contentBytes > frameBound) {
      throw corrupt('lz4', `declared content size ${header.contentBytes} is more than the blocks can hold`, start);
    }
    boundBytes += frameBound;
    expectedBytes += header.contentBytes >= 0 ? header.contentBytes : Math.min(frameBound, Math.max(64 * 1024, 4 * (pos - start)));
    frames.push({ start, end: pos, header });
  }
  if (frames.length === 0) throw corrupt('lz4', 'no frame');
  return { frames, boundBytes, expectedBytes };
}

async function lz4Decompress(data: Buffer, maxOutputBytes: number, acceptLegacyChecksum: boolean): Promise<Buffer> {
  const scan = scanLz4(data, maxOutputBytes, acceptLegacyChecksum);
  const native = tryNative<Lz4Module>('lz4-napi');
  const only = scan.frames.length === 1 ? scan.frames[0]! : undefined;
  // The native decoder (lz4_flex) refuses blocks that decode past the frame's block maximum,
  // so when the scanned bound fits the limit it cannot be made to allocate more; otherwise,
  // or when it is missing, the bounded JS decoder below runs. lz4_flex reads one frame only.
  if (native !== undefined && only !== undefined && only.start === 0 && only.end === data.length && scan.boundBytes <= maxOutputBytes) {
    let input = data;
    if (only.header.legacyChecksum) {
      // lz4_flex checks the header checksum, so hand it a copy with the standard one.
      input = Buffer.from(data);
      input[only.header.headerEnd - 1] = lz4HeaderChecksum(input, 4, only.header.headerEnd - 1);
    }
    let out: Buffer;
    try {
      out = await native.decompressFrame(input);
    } catch (error) {
      throw asProtocolError('lz4', error);
    }
    if (out.length > maxOutputBytes) throw tooLarge('lz4', maxOutputBytes);
    if (only.header.contentBytes >= 0 && out.length !== only.header.contentBytes) {
      throw corrupt('lz4', 'content size does not match the declared size');
    }
    return out;
  }
  return lz4DecodeScanned(data, scan, maxOutputBytes);
}

/**
 * Pure-JS LZ4 frame decoder, bounded by `maxOutputBytes`; verifies block and content
 * checksums when present. Used when the native decoder is unavailable or its bound is too
 * loose to trust with the limit; exported so tests can exercise it directly.
 */
export function lz4DecompressJs(data: Buffer, maxOutputBytes: number, acceptLegacyChecksum = false): Buffer {
  const limit = checkLimit(maxOutputBytes);
  return lz4DecodeScanned(data, scanLz4(data, limit, acceptLegacyChecksum), limit);
}

/** A growable output buffer that never grows past `maxBytes`. */
class BoundedOutput {
  buf: Buffer;
  len = 0;

  constructor(
    initialBytes: number,
    readonly maxBytes: number,
    readonly codec: string,
  ) {
    this.buf = Buffer.allocUnsafe(Math.min(initialBytes, maxBytes));
  }

  /** Makes room for `needed` bytes in all, doubling; returns the (possibly new) buffer. */
  grow(needed: number): Buffer {
    if (needed > this.maxBytes) throw tooLarge(this.codec, this.maxBytes);
    if (needed <= this.buf.length) return this.buf;
    const next = Buffer.allocUnsafe(Math.min(this.maxBytes, Math.max(needed, this.buf.length * 2, 4096)));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
    return next;
  }

  result(): Buffer {
    // Hand back an exact-size copy when most of the allocation would otherwise be wasted.
    if (this.len < this.buf.length / 2) return Buffer.from(this.buf.subarray(0, this.len));
    return this.buf.subarray(0, this.len);
  }
}

function lz4DecodeScanned(data: Buffer, scan: Lz4Scan, maxOutputBytes: number): Buffer {
  // Start with what the input suggests rather than the (possibly 4 MiB per block) bound.
  const out = new BoundedOutput(scan.expectedBytes, maxOutputBytes, 'lz4');
  for (const { header } of scan.frames) {
    const frameStart = out.len;
    let pos = header.headerEnd;
    for (;;) {
      const word = data.readUInt32LE(pos);
      pos += 4;
      if (word === 0) break;
      const stored = word >= LZ4_UNCOMPRESSED_BIT;
      const size = stored ? word - LZ4_UNCOMPRESSED_BIT : word;
      if (header.blockChecksums && xxh32(data, pos, pos + size) !== data.readUInt32LE(pos + size)) {
        throw corrupt('lz4', 'block checksum mismatch', pos);
      }
      if (stored) {
        const dst = out.grow(out.len + size);
        data.copy(dst, out.len, pos, pos + size);
        out.len += size;
      } else {
        lz4DecodeBlock(data, pos, pos + size, out, header.independentBlocks ? out.len : frameStart, header.blockMaxBytes);
      }
      pos += size + (header.blockChecksums ? 4 : 0);
    }
    if (header.contentBytes >= 0 && out.len - frameStart !== header.contentBytes) {
      throw corrupt('lz4', 'content size does not match the declared size', pos);
    }
    if (header.contentChecksum && xxh32(out.buf, frameStart, out.len) !== data.readUInt32LE(pos)) {
      throw corrupt('lz4', 'content checksum mismatch', pos);
    }
  }
  return out.result();
}

/**
 * Decodes one LZ4 block (a sequence of token, literals, offset, match) from src[sp, end) onto
 * the end of `out`. Every length is checked against the input that remains and against the
 * output limits before anything is copied; a match may reach back to `historyStart` (the block
 * start for independent blocks, the frame start for linked ones).
 */
function lz4DecodeBlock(src: Buffer, sp: number, end: number, out: BoundedOutput, historyStart: number, blockMaxBytes: number): void {
  let dst = out.buf;
  let op = out.len;
  const blockLimit = op + blockMaxBytes;
  const overflow = (needed: number): ProtocolError =>
    needed > out.maxBytes ? tooLarge('lz4', out.maxBytes) : corrupt('lz4', 'block decodes past its maximum size', sp);
  for (;;) {
    if (sp >= end) throw corrupt('lz4', 'block ends inside a sequence', sp);
    const token = src[sp++]!;
    let literalBytes = token >>> 4;
    if (literalBytes === 15) {
      let b: number;
      do {
        if (sp >= end) throw corrupt('lz4', 'truncated literal length', sp);
        b = src[sp++]!;
        literalBytes += b;
      } while (b === 255);
    }
    if (literalBytes > end - sp) throw corrupt('lz4', 'literals run past the block end', sp);
    if (op + literalBytes > blockLimit || op + literalBytes > out.maxBytes) throw overflow(op + literalBytes);
    if (op + literalBytes > dst.length) {
      out.len = op;
      dst = out.grow(op + literalBytes);
    }
    if (literalBytes < 32) {
      for (let i = 0; i < literalBytes; i++) dst[op + i] = src[sp + i]!;
    } else {
      src.copy(dst, op, sp, sp + literalBytes);
    }
    op += literalBytes;
    sp += literalBytes;
    // The last sequence of a block has literals only.
    if (sp === end) break;
    if (end - sp < 2) throw corrupt('lz4', 'truncated match offset', sp);
    const offset = src[sp]! | (src[sp + 1]! << 8);
    sp += 2;
    if (offset === 0 || offset > op - historyStart) throw corrupt('lz4', `match offset ${offset} out of range`, sp - 2);
    let matchBytes = (token & 15) + 4;
    if ((token & 15) === 15) {
      let b: number;
      do {
        if (sp >= end) throw corrupt('lz4', 'truncated match length', sp);
        b = src[sp++]!;
        matchBytes += b;
      } while (b === 255);
    }
    if (op + matchBytes > blockLimit || op + matchBytes > out.maxBytes) throw overflow(op + matchBytes);
    if (op + matchBytes > dst.length) {
      out.len = op;
      dst = out.grow(op + matchBytes);
    }
    let from = op - offset;
    if (offset === 1) {
      dst.fill(dst[from]!, op, op + matchBytes);
      op += matchBytes;
    } else if (offset >= matchBytes && matchBytes >= 32) {
      dst.copyWithin(op, from, from + matchBytes);
      op += matchBytes;
    } else {
      // Overlapping copies repeat the last `offset` bytes, so they go byte by byte.
      const matchEnd = op + matchBytes;
      while (op < matchEnd) dst[op++] = dst[from++]!;
    }
  }
  out.len = op;
}

// ---- zstd ----------------------------------------------------------------------------------

const ZSTD_MAGIC = 0xfd2fb528;
const ZSTD_BLOCK_MAX_BYTES = 128 * 1024;
const ZSTD_DEFAULT_LEVEL = 3;

interface ZstdFrame {
  start: number;
  end: number;
  singleSegment: boolean;
  windowBytes: number;
  /** -1 when the frame does not declare it. */
  contentBytes: number;
  /** What the blocks can decode to at most (raw and RLE blocks exactly, compressed ones as their maximum). */
  boundBytes: number;
}

/**
 * @mongodb-js/zstd's public wrapper drops the level argument (1.2.2 always compresses at its
 * default), while the napi binding underneath takes it; so the binding is preferred, and the
 * wrapper serves if a later version moves that file. Undefined when neither loads.
 */
function tryZstd(): ZstdModule | undefined {
  const binding = tryNative<Partial<ZstdModule>>('@mongodb-js/zstd/bindings.js');
  if (typeof binding?.compress === 'function' && typeof binding.decompress === 'function') return binding as ZstdModule;
  return tryNative<ZstdModule>('@mongodb-js/zstd');
}

async function zstdCompress(data: Buffer, level: number | undefined): Promise<Buffer> {
  const zstd = tryZstd() ?? needNative<ZstdModule>('@mongodb-js/zstd', 'zstd compression');
  const l = level ?? ZSTD_DEFAULT_LEVEL;
  if (!Number.isInteger(l) || l < -131072 || l > 22) throw new EncodeError(`zstd: invalid level ${l}`);
  try {
    return await zstd.compress(data, l);
  } catch (error) {
    throw new EncodeError(`zstd: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/**
 * Walks the frames and block headers without decoding. It checks the structure (every block
 * within its frame's Block_Maximum_Size, as RFC 8878 requires, no dictionaries, no trailing
 * bytes) and rejects the input as soon as the declared content sizes pass the limit.
 */
function scanZstd(data: Buffer, maxOutputBytes: number): ZstdFrame[] {
  const frames: ZstdFrame[] = [];
  let declaredBytes = 0;
  let pos = 0;
  if (data.length === 0) throw corrupt('zstd', 'empty input');
  while (pos < data.length) {
    if (data.length - pos < 4) throw corrupt('zstd', 'truncated frame magic', pos);
    const magic = data.readUInt32LE(pos);
    if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      if (data.length - pos < 8) throw corrupt('zstd', 'truncated skippable frame', pos);
      const size = data.readUInt32LE(pos + 4);
      if (size > data.length - pos - 8) throw corrupt('zstd', 'truncated skippable frame', pos);
      pos += 8 + size;
      continue;
    }
    if (magic !== ZSTD_MAGIC) throw corrupt('zstd', `bad frame magic 0x${magic.toString(16)}`, pos);
    const start = pos;
    pos += 4;
    if (pos >= data.length) throw corrupt('zstd', 'truncated frame header', pos);
    const fhd = data[pos++]!;
    const fcsFlag = fhd >>> 6;
    const singleSegment = (fhd & 0x20) !== 0;
    if ((fhd & 0x08) !== 0) throw corrupt('zstd', 'reserved frame header bit set', pos - 1);
    const checksum = (fhd & 0x04) !== 0;
    const dictIdBytes = [0, 1, 2, 4][fhd & 3]!;
    const fcsBytes = fcsFlag === 0 ? (singleSegment ? 1 : 0) : 1 << fcsFlag;
    const headerEnd = pos + (singleSegment ? 0 : 1) + dictIdBytes + fcsBytes;
    if (headerEnd > data.length) throw corrupt('zstd', 'truncated frame header', pos);
    let windowBytes = 0;
    if (!singleSegment) {
      const wd = data[pos++]!;
      const base = 2 ** (10 + (wd >>> 3));
      windowBytes = base + (base / 8) * (wd & 7);
    }
    let dictId = 0;
    for (let i = 0; i < dictIdBytes; i++) dictId += data[pos++]! * 2 ** (8 * i);
    if (dictId !== 0) throw corrupt('zstd', `frame needs dictionary ${dictId}, which is not available`, start);
    let contentBytes = -1;
    if (fcsBytes > 0) {
      contentBytes = 0;
      for (let i = 0; i < fcsBytes; i++) contentBytes += data[pos++]! * 2 ** (8 * i);
      if (fcsBytes === 2) contentBytes += 256;
      declaredBytes += contentBytes;
      if (declaredBytes > maxOutputBytes) throw tooLarge('zstd', maxOutputBytes);
    }
    if (singleSegment) windowBytes = contentBytes;
    const blockMaxBytes = Math.min(windowBytes, ZSTD_BLOCK_MAX_BYTES);
    let boundBytes = 0;
    for (;;) {
      if (data.length - pos < 3) throw corrupt('zstd', 'truncated block header', pos);
      const bh = data[pos]! | (data[pos + 1]! << 8) | (data[pos + 2]! << 16);
      pos += 3;
      const last = (bh & 1) !== 0;
      const type = (bh >>> 1) & 3;
      const size = bh >>> 3;
      if (type === 3) throw corrupt('zstd', 'reserved block type', pos - 3);
      if (size > blockMaxBytes) throw corrupt('zstd', `block of ${size} bytes exceeds the frame's maximum`, pos - 3);
      if (type === 2 && size === 0) throw corrupt('zstd', 'empty compressed block', pos - 3);
      const contentEnd = pos + (type === 1 ? 1 : size);
      if (contentEnd > data.length) throw corrupt('zstd', 'truncated block', pos);
      boundBytes += type === 2 ? blockMaxBytes : size;
      pos = contentEnd;
      if (last) break;
    }
    if (checksum) {
      if (data.length - pos < 4) throw corrupt('zstd', 'truncated content checksum', pos);
      pos += 4;
    }
    if (contentBytes > boundBytes) {
      throw corrupt('zstd', `declared content size ${contentBytes} is more than the blocks can hold`, start);
    }
    frames.push({ start, end: pos, singleSegment, windowBytes, contentBytes, boundBytes });
  }
  if (frames.length === 0) throw corrupt('zstd', 'no frame');
  return frames;
}

/**
 * The native decoder (libzstd) is used when the sum of the frames' bounds fits the limit: it
 * then cannot produce more, because a frame with a content size must decode to exactly that
 * size, and libzstd's streaming decoder rejects any block that decodes past Block_Maximum_Size
 * while its one-shot decoder writes only into a buffer it sized beforehand. Otherwise (Java's
 * zstd-jni omits the content size, so the bound is "every compressed block is full") the
 * frames go one at a time through fzstd's streaming decoder, which hands over each block as it
 * is decoded, so the running total stops a bomb within one block of the limit.
 */
async function zstdDecompress(data: Buffer, maxOutputBytes: number): Promise<Buffer> {
  const frames = scanZstd(data, maxOutputBytes);
  let boundBytes = 0;
  for (const frame of frames) boundBytes += frame.boundBytes;
  const native = tryZstd();
  if (native !== undefined && boundBytes <= maxOutputBytes) {
    let out: Buffer;
    try {
      out = await native.decompress(data);
    } catch (error) {
      throw asProtocolError('zstd', error);
    }
    if (out.length > maxOutputBytes) throw tooLarge('zstd', maxOutputBytes);
    return out;
  }
  return zstdDecodeFrames(data, frames, maxOutputBytes);
}

/**
 * Pure-JS zstd decoder (fzstd), bounded by `maxOutputBytes`. It does not verify the optional
 * content checksum (an xxh64); Kafka's batch CRC covers the compressed bytes anyway. Exported
 * so tests can exercise it directly.
 */
export function zstdDecompressJs(data: Buffer, maxOutputBytes: number): Buffer {
  const limit = checkLimit(maxOutputBytes);
  return zstdDecodeFrames(data, scanZstd(data, limit), limit);
}

function zstdDecodeFrames(data: Buffer, frames: ZstdFrame[], maxOutputBytes: number): Buffer {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const frame of frames) {
    const frameStart = total;
    // fzstd allocates the whole window up front, and a frame may declare up to 3.75 TiB of it.
    // No valid back-reference reaches further than the output allowed so far, so a frame whose
    // window is larger than that gets a copy of its header claiming the smaller window.
    let input: Uint8Array = data.subarray(frame.start, frame.end);
    if (!frame.singleSegment) {
      const allowed = Math.max(1, maxOutputBytes - total);
      if (frame.windowBytes > allowed) {
        // The window descriptor follows the magic and the frame header descriptor.
        const exponent = Math.min(31, Math.max(0, Math.ceil(Math.log2(allowed)) - 10));
        const copy = Buffer.from(input);
        copy[5] = exponent << 3;
        input = copy;
      }
    }
    const decoder = new ZstdStreamDecoder((chunk) => {
      total += chunk.length;
      if (total > maxOutputBytes) throw tooLarge('zstd', maxOutputBytes);
      if (chunk.length > 0) parts.push(chunk);
    });
    try {
      decoder.push(input, true);
    } catch (error) {
      throw asProtocolError('zstd', error);
    }
    if (frame.contentBytes >= 0 && total - frameStart !== frame.contentBytes) {
      throw corrupt('zstd', 'content size does not match the declared size', frame.start);
    }
  }
  const out = Buffer.allocUnsafe(total);
  let pos = 0;
  for (const part of parts) {
    out.set(part, pos);
    pos += part.length;
  }
  return out;
}

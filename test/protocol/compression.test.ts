import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import * as fzstd from 'fzstd';
import {
  CompressionCodec,
  compress,
  compressionCodecName,
  decompress,
  isCompressionCodec,
  lz4DecompressJs,
  xxh32,
  zstdDecompressJs,
  type CompressOptions,
  type DecompressOptions,
} from '../../src/protocol/compression.js';
import { EncodeError, ProtocolError } from '../../src/protocol/protocol-error.js';

const require = createRequire(import.meta.url);

// Independent pure-JS implementations, used only to cross-check the formats.
const snappyjs = require('snappyjs') as {
  compress(data: Uint8Array): Uint8Array;
  uncompress(data: Uint8Array, maxLength?: number): Uint8Array;
};
const lz4js = require('lz4js') as {
  compress(data: Uint8Array): Uint8Array;
  decompress(data: Uint8Array, maxSize?: number): Uint8Array;
};
const lz4jsXxh32 = require('lz4js/xxh32.js') as { hash(seed: number, data: Uint8Array, index: number, length: number): number };
const lz4napi = require('lz4-napi') as {
  compressFrame(data: Uint8Array, options?: { contentChecksum?: boolean; blockChecksums?: boolean }): Promise<Buffer>;
};
const nativeZstd = require('@mongodb-js/zstd') as { compress(data: Buffer): Promise<Buffer> };

const MiB = 1024 * 1024;

interface Variant {
  name: string;
  codec: CompressionCodec;
  compressOptions?: CompressOptions;
  decompressOptions?: DecompressOptions;
}

const variants: Variant[] = [
  { name: 'none', codec: CompressionCodec.None },
  { name: 'gzip', codec: CompressionCodec.Gzip },
  { name: 'snappy (xerial)', codec: CompressionCodec.Snappy },
  { name: 'snappy (raw)', codec: CompressionCodec.Snappy, compressOptions: { snappyFraming: 'raw' } },
  { name: 'lz4', codec: CompressionCodec.Lz4 },
  {
    name: 'lz4 (legacy checksum)',
    codec: CompressionCodec.Lz4,
    compressOptions: { lz4LegacyChecksum: true },
    decompressOptions: { lz4LegacyChecksum: true },
  },
  { name: 'zstd', codec: CompressionCodec.Zstd },
];

/** Text-like data that compresses about 3:1, deterministic for a seed. */
function compressible(length: number, seed = 1): Buffer {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'kafka', 'record', 'batch', 'offset', 'topic', 'ferry'];
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  let pos = 0;
  while (pos < length) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    pos += out.write(`${words[x % words.length]}${x % 1000} `, pos);
  }
  return out;
}

/** Passes when `promise` rejects with a ProtocolError whose message matches `pattern`. */
async function rejectsProtocol(promise: Promise<unknown>, pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${String(error)}`);
    if (pattern) assert.match(error.message, pattern);
    return true;
  });
}

function throwsProtocol(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${String(error)}`);
    if (pattern) assert.match(error.message, pattern);
    return true;
  });
}

/** Decoding hostile input may succeed (within the limit) or fail, but only with a ProtocolError. */
async function onlyProtocolErrors(run: () => Promise<Buffer> | Buffer, maxOutputBytes: number): Promise<void> {
  try {
    const out = await run();
    assert.ok(out.length <= maxOutputBytes, `output of ${out.length} bytes passed the limit ${maxOutputBytes}`);
  } catch (error) {
    if (!(error instanceof ProtocolError)) {
      assert.fail(`expected only ProtocolError, got ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    }
  }
}

const TOO_LARGE = /more than the limit/;

// ---- format helpers ----------------------------------------------------------------------

/** Rewrites an LZ4 frame (from lz4-napi: no content size) to declare `contentBytes`. */
function lz4WithContentSize(frame: Buffer, contentBytes: number): Buffer {
  assert.equal(frame[4]! & 0x08, 0);
  const header = Buffer.alloc(4 + 2 + 8 + 1);
  frame.copy(header, 0, 0, 6);
  header[4] = frame[4]! | 0x08;
  header.writeUInt32LE(contentBytes % 2 ** 32, 6);
  header.writeUInt32LE(Math.floor(contentBytes / 2 ** 32), 10);
  header[14] = (xxh32(header, 4, 14) >>> 8) & 0xff;
  return Buffer.concat([header, frame.subarray(7)]);
}

function lz4StandardChecksum(frame: Buffer, headerEnd = 7): number {
  return (xxh32(frame, 4, headerEnd - 1) >>> 8) & 0xff;
}

function lz4LegacyChecksum(frame: Buffer, headerEnd = 7): number {
  return (xxh32(frame, 0, headerEnd - 1) >>> 8) & 0xff;
}

/** Rewrites a zstd frame written without a content size (as zstd-jni does) to declare one. */
function zstdWithContentSize(frame: Buffer, contentBytes: number): Buffer {
  const fhd = frame[4]!;
  assert.equal(fhd & 0xe3, 0, 'expected no content size, no single segment, no dictionary');
  const header = Buffer.alloc(4 + 1 + 1 + 8);
  frame.copy(header, 0, 0, 6);
  header[4] = fhd | 0xc0;
  header.writeUInt32LE(contentBytes % 2 ** 32, 6);
  header.writeUInt32LE(Math.floor(contentBytes / 2 ** 32), 10);
  return Buffer.concat([header, frame.subarray(6)]);
}

/** A zstd frame (no content size, window 2^(10+exponent)) holding `blocks` raw blocks of `payload`. */
function zstdRawFrame(windowExponent: number, blocks: Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, windowExponent << 3])];
  blocks.forEach((block, i) => {
    const last = i === blocks.length - 1 ? 1 : 0;
    const bh = last | (0 << 1) | (block.length << 3);
    parts.push(Buffer.from([bh & 0xff, (bh >>> 8) & 0xff, (bh >>> 16) & 0xff]), block);
  });
  return Buffer.concat(parts);
}

/** A zstd frame (no content size) made of RLE blocks: each 4 bytes, each expanding to `blockBytes`. */
function zstdRleFrame(windowExponent: number, blockCount: number, blockBytes: number): Buffer {
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, windowExponent << 3])];
  for (let i = 0; i < blockCount; i++) {
    const bh = (i === blockCount - 1 ? 1 : 0) | (1 << 1) | (blockBytes << 3);
    parts.push(Buffer.from([bh & 0xff, (bh >>> 8) & 0xff, (bh >>> 16) & 0xff, 0x61]));
  }
  return Buffer.concat(parts);
}

function xerialBlocks(data: Buffer): Buffer[] {
  assert.equal(data.subarray(0, 8).toString('latin1'), '\x82SNAPPY\x00');
  assert.equal(data.readInt32BE(8), 1);
  assert.equal(data.readInt32BE(12), 1);
  const blocks: Buffer[] = [];
  for (let pos = 16; pos < data.length; ) {
    const length = data.readInt32BE(pos);
    blocks.push(data.subarray(pos + 4, pos + 4 + length));
    pos += 4 + length;
  }
  return blocks;
}

function xerial(blocks: Uint8Array[]): Buffer {
  const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
  const parts: Buffer[] = [header];
  for (const block of blocks) {
    const length = Buffer.alloc(4);
    length.writeInt32BE(block.length);
    parts.push(length, Buffer.from(block));
  }
  return Buffer.concat(parts);
}

// ---- API basics --------------------------------------------------------------------------

test('codec numbers and names follow Kafka', () => {
  assert.deepEqual(
    [CompressionCodec.None, CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4, CompressionCodec.Zstd],
    [0, 1, 2, 3, 4],
  );
  assert.deepEqual([0, 1, 2, 3, 4].map((c) => compressionCodecName(c)), ['none', 'gzip', 'snappy', 'lz4', 'zstd']);
  assert.equal(isCompressionCodec(4), true);
  assert.equal(isCompressionCodec(5), false);
  assert.equal(isCompressionCodec(-1), false);
  assert.equal(isCompressionCodec(1.5), false);
});

test('unknown codecs: ProtocolError when decoding, EncodeError when encoding', async () => {
  for (const codec of [5, 6, 7]) {
    await rejectsProtocol(decompress(codec as CompressionCodec, Buffer.from('x'), 100), /unknown compression codec/);
    await assert.rejects(compress(codec as CompressionCodec, Buffer.from('x')), EncodeError);
  }
});

test('an invalid maxOutputBytes is a programming error (RangeError)', async () => {
  for (const bad of [-1, 1.5, Number.NaN, Infinity]) {
    await assert.rejects(decompress(CompressionCodec.Gzip, Buffer.alloc(0), bad), RangeError);
  }
});

test('invalid levels are EncodeErrors', async () => {
  await assert.rejects(compress(CompressionCodec.Gzip, Buffer.from('x'), { level: 42 }), EncodeError);
  await assert.rejects(compress(CompressionCodec.Zstd, Buffer.from('x'), { level: 23 }), EncodeError);
  await assert.rejects(compress(CompressionCodec.Zstd, Buffer.from('x'), { level: 2.5 }), EncodeError);
});

test('none: passes data through, still enforcing the limit', async () => {
  const data = Buffer.from('hello');
  assert.equal(await compress(CompressionCodec.None, data), data);
  assert.equal(await decompress(CompressionCodec.None, data, 5), data);
  await rejectsProtocol(decompress(CompressionCodec.None, data, 4), TOO_LARGE);
});

// ---- round trips -------------------------------------------------------------------------

for (const v of variants) {
  test(`${v.name}: round trips of random and compressible data`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 4096 }),
          fc.tuple(fc.nat(70_000), fc.nat()).map(([n, seed]) => compressible(n, seed)),
        ),
        async (bytes) => {
          const data = Buffer.from(bytes);
          const packed = await compress(v.codec, data, v.compressOptions);
          const unpacked = await decompress(v.codec, packed, data.length, v.decompressOptions);
          assert.ok(unpacked.equals(data));
        },
      ),
      { numRuns: 60 },
    );
  });

  test(`${v.name}: empty input`, async () => {
    const packed = await compress(v.codec, Buffer.alloc(0), v.compressOptions);
    assert.equal((await decompress(v.codec, packed, 0, v.decompressOptions)).length, 0);
  });

  test(`${v.name}: 3 MiB of compressible data, with the limit exactly met and just missed`, async () => {
    const data = compressible(3 * MiB + 12_345, 7);
    const packed = await compress(v.codec, data, v.compressOptions);
    if (v.codec !== CompressionCodec.None) assert.ok(packed.length < data.length * 0.75);
    assert.ok((await decompress(v.codec, packed, data.length, v.decompressOptions)).equals(data));
    assert.ok((await decompress(v.codec, packed, 64 * MiB, v.decompressOptions)).equals(data));
    await rejectsProtocol(decompress(v.codec, packed, data.length - 1, v.decompressOptions), TOO_LARGE);
  });

  test(`${v.name}: 1 MiB of incompressible data`, async () => {
    const data = randomBytes(MiB);
    const packed = await compress(v.codec, data, v.compressOptions);
    assert.ok((await decompress(v.codec, packed, data.length, v.decompressOptions)).equals(data));
  });
}

test('gzip and zstd honour the level', async () => {
  const data = compressible(200_000, 3);
  const fast = await compress(CompressionCodec.Gzip, data, { level: 1 });
  const best = await compress(CompressionCodec.Gzip, data, { level: 9 });
  assert.ok(best.length < fast.length);
  assert.ok((await decompress(CompressionCodec.Gzip, best, data.length)).equals(data));
  const zfast = await compress(CompressionCodec.Zstd, data, { level: -5 });
  const zbest = await compress(CompressionCodec.Zstd, data, { level: 19 });
  assert.ok(zbest.length < zfast.length);
  assert.ok((await decompress(CompressionCodec.Zstd, zfast, data.length)).equals(data));
  assert.ok((await decompress(CompressionCodec.Zstd, zbest, data.length)).equals(data));
});

// ---- gzip ----------------------------------------------------------------------------------

test('gzip: concatenated members decode as one stream (as zlib reads them)', async () => {
  const a = zlib.gzipSync(Buffer.from('hello '));
  const b = zlib.gzipSync(Buffer.from('world'));
  assert.equal((await decompress(CompressionCodec.Gzip, Buffer.concat([a, b]), 100)).toString(), 'hello world');
});

// ---- snappy --------------------------------------------------------------------------------

test('snappy: xerial framing is what compress writes by default, in blocks of 32 KiB', async () => {
  const data = compressible(100_000, 11);
  const packed = await compress(CompressionCodec.Snappy, data);
  const blocks = xerialBlocks(packed);
  assert.equal(blocks.length, 4);
  const decoded = Buffer.concat(blocks.map((b) => Buffer.from(snappyjs.uncompress(b))));
  assert.ok(decoded.equals(data));
  assert.deepEqual(
    blocks.map((b) => snappyjs.uncompress(b).length),
    [32768, 32768, 32768, 100_000 - 3 * 32768],
  );
  // An empty input is the header alone.
  assert.equal((await compress(CompressionCodec.Snappy, Buffer.alloc(0))).length, 16);
});

test('snappy: raw output is plain snappy that snappyjs reads', async () => {
  const data = compressible(50_000, 5);
  const packed = await compress(CompressionCodec.Snappy, data, { snappyFraming: 'raw' });
  assert.notEqual(packed[0], 0x82);
  assert.ok(Buffer.from(snappyjs.uncompress(packed)).equals(data));
});

test('snappy: decodes both raw and xerial data written by snappyjs', async () => {
  await fc.assert(
    fc.asyncProperty(fc.nat(100_000), fc.nat(), fc.integer({ min: 1, max: 40_000 }), async (n, seed, blockBytes) => {
      const data = compressible(n, seed);
      const raw = Buffer.from(snappyjs.compress(data));
      assert.ok((await decompress(CompressionCodec.Snappy, raw, n)).equals(data));
      const blocks: Uint8Array[] = [];
      for (let pos = 0; pos < n; pos += blockBytes) blocks.push(snappyjs.compress(data.subarray(pos, pos + blockBytes)));
      assert.ok((await decompress(CompressionCodec.Snappy, xerial(blocks), n)).equals(data));
    }),
    { numRuns: 40 },
  );
});

test('snappy: a xerial header without blocks is empty; zero-length blocks are corrupt', async () => {
  assert.equal((await decompress(CompressionCodec.Snappy, xerial([]), 0)).length, 0);
  // Concatenated xerial streams (snappy-java reads them) decode as one.
  const two = Buffer.concat([xerial([snappyjs.compress(Buffer.from('hello '))]), xerial([snappyjs.compress(Buffer.from('world'))])]);
  assert.equal((await decompress(CompressionCodec.Snappy, two, 11)).toString(), 'hello world');
  const zero = Buffer.concat([xerial([]), Buffer.alloc(4)]);
  await rejectsProtocol(decompress(CompressionCodec.Snappy, zero, 100));
});

test('snappy: declared lengths are checked against the limit before decoding', async () => {
  // A raw block that only claims 2^32-1 bytes: refused from its header alone.
  const claim = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]);
  await rejectsProtocol(decompress(CompressionCodec.Snappy, claim, MiB), TOO_LARGE);
  // Many xerial blocks, each within the limit, whose sum is not.
  const block = snappyjs.compress(Buffer.alloc(512 * 1024));
  await rejectsProtocol(decompress(CompressionCodec.Snappy, xerial([block, block, block]), MiB), TOO_LARGE);
  // An over-long varint.
  await rejectsProtocol(decompress(CompressionCodec.Snappy, Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), MiB));
});

// ---- LZ4 -----------------------------------------------------------------------------------

test('xxh32: known answers and agreement with lz4js', () => {
  assert.equal(xxh32(Buffer.alloc(0)), 0x02cc5d05);
  assert.equal(xxh32(Buffer.from('abc')), 0x32d153ff);
  assert.equal(xxh32(Buffer.from('Nobody inspects the spammish repetition')), 0xe2293b2f);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (data, seed) => {
      assert.equal(xxh32(data, 0, data.length, seed), lz4jsXxh32.hash(seed, data, 0, data.length) >>> 0);
    }),
    { numRuns: 300 },
  );
});

test('lz4: compress writes independent blocks without checksums (what Java Kafka reads)', async () => {
  const packed = await compress(CompressionCodec.Lz4, compressible(10_000));
  assert.equal(packed.readUInt32LE(0), 0x184d2204);
  assert.equal(packed[4]! & 0xfe, 0x60);
  assert.equal(packed[6], lz4StandardChecksum(packed));
});

test('lz4: legacy header checksum (KIP-57) is written on request and accepted only on request', async () => {
  const data = compressible(10_000, 2);
  const legacy = await compress(CompressionCodec.Lz4, data, { lz4LegacyChecksum: true });
  const standard = await compress(CompressionCodec.Lz4, data);
  assert.equal(legacy[6], lz4LegacyChecksum(legacy));
  assert.notEqual(legacy[6], standard[6]);
  assert.ok(legacy.subarray(7).equals(standard.subarray(7)));
  await rejectsProtocol(decompress(CompressionCodec.Lz4, legacy, data.length), /header checksum/);
  throwsProtocol(() => lz4DecompressJs(legacy, data.length), /header checksum/);
  assert.ok((await decompress(CompressionCodec.Lz4, legacy, data.length, { lz4LegacyChecksum: true })).equals(data));
  assert.ok(lz4DecompressJs(legacy, data.length, true).equals(data));
  // Old producers may have written the standard value in magic 0 messages too.
  assert.ok((await decompress(CompressionCodec.Lz4, standard, data.length, { lz4LegacyChecksum: true })).equals(data));
  // A header checksum that is neither is refused either way.
  const wrong = Buffer.from(standard);
  let neither = 0;
  while (neither === standard[6] || neither === legacy[6]) neither++;
  wrong[6] = neither;
  await rejectsProtocol(decompress(CompressionCodec.Lz4, wrong, data.length, { lz4LegacyChecksum: true }), /header checksum/);
});

test('lz4: the JS decoder agrees with the native one', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 5000 }),
        fc.tuple(fc.nat(300_000), fc.nat()).map(([n, seed]) => compressible(n, seed)),
      ),
      async (bytes) => {
        const data = Buffer.from(bytes);
        const packed = await compress(CompressionCodec.Lz4, data);
        assert.ok(lz4DecompressJs(packed, data.length).equals(data));
      },
    ),
    { numRuns: 60 },
  );
});

test('lz4: cross-check with lz4js (linked 4 MiB blocks, no header checksum check of its own)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.nat(200_000), fc.nat(), async (n, seed) => {
      const data = compressible(n, seed);
      const theirs = Buffer.from(lz4js.compress(data));
      assert.ok((await decompress(CompressionCodec.Lz4, theirs, n)).equals(data));
      assert.ok(lz4DecompressJs(theirs, n).equals(data));
      const ours = await compress(CompressionCodec.Lz4, data);
      assert.ok(Buffer.from(lz4js.decompress(ours, Math.max(n, 1))).subarray(0, n).equals(data));
    }),
    { numRuns: 30 },
  );
  // Linked blocks: more than one 4 MiB block, where matches may reach into the previous block.
  const big = compressible(9 * MiB, 99);
  const theirs = Buffer.from(lz4js.compress(big));
  assert.equal(theirs[4]! & 0x20, 0, 'lz4js writes linked blocks');
  assert.ok(lz4DecompressJs(theirs, big.length).equals(big));
  assert.ok((await decompress(CompressionCodec.Lz4, theirs, big.length)).equals(big));
});

test('lz4: block and content checksums are verified', async () => {
  const data = compressible(300_000, 4);
  const packed = await lz4napi.compressFrame(data, { contentChecksum: true, blockChecksums: true });
  assert.equal(packed[4]! & 0x14, 0x14);
  assert.ok((await decompress(CompressionCodec.Lz4, packed, data.length)).equals(data));
  assert.ok(lz4DecompressJs(packed, data.length).equals(data));
  const badContent = Buffer.from(packed);
  badContent[badContent.length - 1]! ^= 1;
  await rejectsProtocol(decompress(CompressionCodec.Lz4, badContent, data.length));
  throwsProtocol(() => lz4DecompressJs(badContent, data.length), /content checksum/);
  const badBlock = Buffer.from(packed);
  badBlock[20]! ^= 1;
  await rejectsProtocol(decompress(CompressionCodec.Lz4, badBlock, data.length));
  throwsProtocol(() => lz4DecompressJs(badBlock, data.length), /checksum/);
});

test('lz4: a declared content size is checked against the limit first and against the output last', async () => {
  const data = compressible(100_000, 8);
  const plain = await compress(CompressionCodec.Lz4, data);
  const sized = lz4WithContentSize(plain, data.length);
  assert.ok((await decompress(CompressionCodec.Lz4, sized, data.length)).equals(data));
  assert.ok(lz4DecompressJs(sized, data.length).equals(data));
  await rejectsProtocol(decompress(CompressionCodec.Lz4, sized, data.length - 1), TOO_LARGE);
  const lying = lz4WithContentSize(plain, data.length - 1);
  await rejectsProtocol(decompress(CompressionCodec.Lz4, lying, data.length), /content size/);
  throwsProtocol(() => lz4DecompressJs(lying, data.length), /content size/);
  const huge = lz4WithContentSize(plain, 2 ** 40);
  await rejectsProtocol(decompress(CompressionCodec.Lz4, huge, 64 * MiB), TOO_LARGE);
});

test('lz4: skippable frames and concatenated frames', async () => {
  const a = await compress(CompressionCodec.Lz4, Buffer.from('hello '));
  const b = await compress(CompressionCodec.Lz4, Buffer.from('world'));
  const skip = Buffer.from([0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
  const all = Buffer.concat([skip, a, skip, b, skip]);
  assert.equal((await decompress(CompressionCodec.Lz4, all, 11)).toString(), 'hello world');
  await rejectsProtocol(decompress(CompressionCodec.Lz4, all, 10), TOO_LARGE);
  await rejectsProtocol(decompress(CompressionCodec.Lz4, skip, 10), /no frame/);
});

test('lz4: a block that decodes past its frame maximum is corrupt', async () => {
  // One compressed block in a 64 KiB frame: a literal, then a 1 MiB match at offset 1.
  const lengthBytes: number[] = [];
  for (let rest = MiB - 4 - 15; ; rest -= 255) {
    if (rest < 255) {
      lengthBytes.push(rest);
      break;
    }
    lengthBytes.push(255);
  }
  const block = Buffer.from([0x1f, 0x41, 0x01, 0x00, ...lengthBytes, 0x10, 0x42]);
  const header = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0]);
  header[6] = lz4StandardChecksum(header);
  const size = Buffer.alloc(4);
  size.writeUInt32LE(block.length);
  const frame = Buffer.concat([header, size, block, Buffer.alloc(4)]);
  await rejectsProtocol(decompress(CompressionCodec.Lz4, frame, 64 * MiB));
  throwsProtocol(() => lz4DecompressJs(frame, 64 * MiB), /maximum size/);
  // The same block in a 4 MiB frame is fine.
  header[5] = 0x70;
  header[6] = lz4StandardChecksum(header);
  const ok = Buffer.concat([header, size, block, Buffer.alloc(4)]);
  const out = await decompress(CompressionCodec.Lz4, ok, 64 * MiB);
  assert.equal(out.length, MiB + 2);
  assert.ok(out.equals(lz4DecompressJs(ok, 64 * MiB)));
  await rejectsProtocol(decompress(CompressionCodec.Lz4, ok, MiB), TOO_LARGE);
  throwsProtocol(() => lz4DecompressJs(ok, MiB), TOO_LARGE);
});

test('lz4: frames with a dictionary or reserved bits are refused', async () => {
  const packed = await compress(CompressionCodec.Lz4, Buffer.from('hello'));
  for (const [index, bits] of [
    [4, 0x01],
    [4, 0x02],
    [5, 0x01],
    [5, 0x80],
  ] as const) {
    const bad = Buffer.from(packed);
    bad[index]! |= bits;
    bad[6] = lz4StandardChecksum(bad);
    await rejectsProtocol(decompress(CompressionCodec.Lz4, bad, 100));
  }
});

// ---- zstd ----------------------------------------------------------------------------------

test('zstd: compress omits the content size (like zstd-jni); fzstd reads our output', async () => {
  const data = compressible(300_000, 6);
  const packed = await compress(CompressionCodec.Zstd, data);
  assert.equal(packed.readUInt32LE(0), 0xfd2fb528);
  assert.ok(Buffer.from(fzstd.decompress(packed)).equals(data));
});

test('zstd: the JS decoder agrees with the native one, with and without content sizes', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 5000 }),
        fc.tuple(fc.nat(400_000), fc.nat()).map(([n, seed]) => compressible(n, seed)),
      ),
      fc.integer({ min: -3, max: 9 }),
      async (bytes, level) => {
        const data = Buffer.from(bytes);
        const packed = await compress(CompressionCodec.Zstd, data, { level });
        assert.ok(zstdDecompressJs(packed, data.length).equals(data));
        if ((packed[4]! & 0xe3) === 0) {
          const sized = zstdWithContentSize(packed, data.length);
          assert.ok((await decompress(CompressionCodec.Zstd, sized, data.length)).equals(data));
          assert.ok(zstdDecompressJs(sized, data.length).equals(data));
        }
      },
    ),
    { numRuns: 40 },
  );
});

test('zstd: concatenated and skippable frames', async () => {
  const a = await compress(CompressionCodec.Zstd, Buffer.from('hello '));
  const b = zstdWithContentSize(await nativeZstd.compress(Buffer.from('world')), 5);
  const skip = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 9, 9]);
  const all = Buffer.concat([skip, a, b, skip]);
  assert.equal((await decompress(CompressionCodec.Zstd, all, 11)).toString(), 'hello world');
  assert.equal(zstdDecompressJs(all, 11).toString(), 'hello world');
  await rejectsProtocol(decompress(CompressionCodec.Zstd, all, 10), TOO_LARGE);
  throwsProtocol(() => zstdDecompressJs(all, 10), TOO_LARGE);
  await rejectsProtocol(decompress(CompressionCodec.Zstd, skip, 10), /no frame/);
  await rejectsProtocol(decompress(CompressionCodec.Zstd, Buffer.concat([a, Buffer.from([1, 2])]), 10));
});

test('zstd: multi-block data without a content size near the limit takes the bounded JS path', async () => {
  // 300 KiB + 1 in 128 KiB blocks bounds to 384 KiB, so a limit of exactly the size goes
  // through fzstd, and one byte less is refused there.
  const data = compressible(300 * 1024 + 1, 12);
  const packed = await compress(CompressionCodec.Zstd, data);
  assert.ok((await decompress(CompressionCodec.Zstd, packed, data.length)).equals(data));
  await rejectsProtocol(decompress(CompressionCodec.Zstd, packed, data.length - 1), TOO_LARGE);
});

test('zstd: a lying content size is corrupt', async () => {
  const data = compressible(10_000, 13);
  const packed = await nativeZstd.compress(data);
  for (const claim of [data.length - 1, data.length + 1]) {
    const lying = zstdWithContentSize(packed, claim);
    await rejectsProtocol(decompress(CompressionCodec.Zstd, lying, 100_000));
    throwsProtocol(() => zstdDecompressJs(lying, 100_000));
  }
  // More than the blocks could ever hold: refused by the scan alone.
  throwsProtocol(() => zstdDecompressJs(zstdWithContentSize(packed, 50 * MiB), 64 * MiB), /more than the blocks can hold/);
});

test('zstd: a huge declared window does not make the JS decoder allocate it', () => {
  // Window 2^41 bytes; fzstd would refuse it (and could not allocate it) unless it is shrunk to the limit.
  const frame = zstdRawFrame(31, [Buffer.from('hello '), Buffer.from('world')]);
  assert.equal(zstdDecompressJs(frame, MiB).toString(), 'hello world');
  assert.equal(zstdDecompressJs(frame, 11).toString(), 'hello world');
  throwsProtocol(() => zstdDecompressJs(frame, 10), TOO_LARGE);
  // RLE blocks of the full 128 KiB in a 128 MiB window: fine up to the limit, then refused.
  const rle = zstdRleFrame(17, 8, 128 * 1024);
  assert.equal(zstdDecompressJs(rle, MiB).length, MiB);
  throwsProtocol(() => zstdDecompressJs(rle, MiB - 1), TOO_LARGE);
});

test('zstd: blocks larger than Block_Maximum_Size, reserved types and dictionaries are corrupt', async () => {
  // A 1 KiB window allows blocks of at most 1 KiB.
  await rejectsProtocol(decompress(CompressionCodec.Zstd, zstdRawFrame(0, [Buffer.alloc(1025)]), MiB), /maximum/);
  await rejectsProtocol(decompress(CompressionCodec.Zstd, zstdRleFrame(0, 1, 200_000), MiB), /maximum/);
  assert.equal((await decompress(CompressionCodec.Zstd, zstdRawFrame(0, [Buffer.alloc(1024)]), MiB)).length, 1024);
  const reserved = zstdRawFrame(0, [Buffer.alloc(4)]);
  reserved[6]! |= 0x06;
  await rejectsProtocol(decompress(CompressionCodec.Zstd, reserved, MiB), /reserved block type/);
  const dict = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x01, 0x00, 0x07, 0x01, 0x00, 0x00]);
  await rejectsProtocol(decompress(CompressionCodec.Zstd, dict, MiB), /dictionary/);
});

// ---- bombs ---------------------------------------------------------------------------------

test('bombs: 64 MiB of zeros is refused under a 1 MiB limit, for every codec', async () => {
  const zeros = Buffer.alloc(64 * MiB);
  for (const v of variants) {
    if (v.codec === CompressionCodec.None) continue;
    const packed = await compress(v.codec, zeros, v.compressOptions);
    assert.ok(packed.length < 4 * MiB, `${v.name} compressed to ${packed.length}`);
    await rejectsProtocol(decompress(v.codec, packed, MiB, v.decompressOptions), TOO_LARGE);
  }
  // The JS decoders, directly.
  const lz4 = await compress(CompressionCodec.Lz4, zeros);
  throwsProtocol(() => lz4DecompressJs(lz4, MiB), TOO_LARGE);
  const zstd = await compress(CompressionCodec.Zstd, zeros);
  throwsProtocol(() => zstdDecompressJs(zstd, MiB), TOO_LARGE);
  // Independent encoders' bombs.
  await rejectsProtocol(decompress(CompressionCodec.Snappy, Buffer.from(snappyjs.compress(zeros)), MiB), TOO_LARGE);
  await rejectsProtocol(decompress(CompressionCodec.Lz4, Buffer.from(lz4js.compress(zeros)), MiB), TOO_LARGE);
  await rejectsProtocol(decompress(CompressionCodec.Gzip, zlib.gzipSync(zeros, { level: 9 }), MiB), TOO_LARGE);
});

test('bombs: a zstd bomb of RLE blocks without a content size is stopped within one block', () => {
  // 4096 blocks of 4 bytes that each expand to 128 KiB: 512 MiB from 16 KiB.
  const bomb = zstdRleFrame(20, 4096, 128 * 1024);
  throwsProtocol(() => zstdDecompressJs(bomb, MiB), TOO_LARGE);
  return rejectsProtocol(decompress(CompressionCodec.Zstd, bomb, MiB), TOO_LARGE);
});

// ---- hostile input -------------------------------------------------------------------------

const hostileLimit = 256 * 1024;

test('garbage: random bytes give only ProtocolErrors, for every codec', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), fc.constantFrom(...variants), async (bytes, v) => {
      const data = Buffer.from(bytes);
      await onlyProtocolErrors(() => decompress(v.codec, data, hostileLimit, v.decompressOptions), hostileLimit);
    }),
    { numRuns: 500 },
  );
});

test('garbage: random bytes behind a valid magic give only ProtocolErrors', async () => {
  const prefixes: Array<[CompressionCodec, number[]]> = [
    [CompressionCodec.Gzip, [0x1f, 0x8b, 0x08, 0x00]],
    [CompressionCodec.Snappy, [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]],
    [CompressionCodec.Lz4, [0x04, 0x22, 0x4d, 0x18]],
    [CompressionCodec.Zstd, [0x28, 0xb5, 0x2f, 0xfd]],
  ];
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...prefixes), fc.uint8Array({ maxLength: 2000 }), async ([codec, prefix], bytes) => {
      const data = Buffer.concat([Buffer.from(prefix), bytes]);
      await onlyProtocolErrors(() => decompress(codec, data, hostileLimit), hostileLimit);
      if (codec === CompressionCodec.Lz4) await onlyProtocolErrors(() => lz4DecompressJs(data, hostileLimit), hostileLimit);
      if (codec === CompressionCodec.Zstd) await onlyProtocolErrors(() => zstdDecompressJs(data, hostileLimit), hostileLimit);
    }),
    { numRuns: 500 },
  );
});

/** Valid compressed samples per variant, to truncate and mutate. */
async function samples(v: Variant): Promise<Buffer[]> {
  const inputs = [compressible(3000, 1), compressible(70_000, 2), randomBytes(500), Buffer.alloc(5000)];
  return Promise.all(inputs.map((input) => compress(v.codec, input, v.compressOptions)));
}

test('truncations of valid data give only ProtocolErrors (or a shorter valid output)', async () => {
  for (const v of variants) {
    if (v.codec === CompressionCodec.None) continue;
    for (const packed of await samples(v)) {
      // Every prefix of the small ones; a spread of prefixes of the large ones.
      const step = packed.length <= 2000 ? 1 : Math.ceil(packed.length / 500);
      for (let n = 0; n < packed.length; n += step) {
        const cut = packed.subarray(0, n);
        await onlyProtocolErrors(() => decompress(v.codec, cut, hostileLimit, v.decompressOptions), hostileLimit);
        if (v.codec === CompressionCodec.Lz4) {
          await onlyProtocolErrors(() => lz4DecompressJs(cut, hostileLimit, v.decompressOptions?.lz4LegacyChecksum), hostileLimit);
        }
        if (v.codec === CompressionCodec.Zstd) await onlyProtocolErrors(() => zstdDecompressJs(cut, hostileLimit), hostileLimit);
      }
    }
  }
});

test('mutations of valid data give only ProtocolErrors (or an output within the limit)', async () => {
  const all = await Promise.all(variants.filter((v) => v.codec !== CompressionCodec.None).map(async (v) => ({ v, packed: await samples(v) })));
  // Plus frames that the native encoders write with checksums and content sizes.
  const lz4Checked = await lz4napi.compressFrame(compressible(70_000, 3), { contentChecksum: true, blockChecksums: true });
  const zstdSized = zstdWithContentSize(await nativeZstd.compress(compressible(70_000, 3)), 70_000);
  all.push({ v: { name: 'lz4 checked', codec: CompressionCodec.Lz4 }, packed: [lz4Checked] });
  all.push({ v: { name: 'zstd sized', codec: CompressionCodec.Zstd }, packed: [zstdSized] });
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...all),
      fc.nat(),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
      async ({ v, packed }, which, edits) => {
        const mutated = Buffer.from(packed[which % packed.length]!);
        for (const [at, xor] of edits) mutated[at % mutated.length]! ^= xor;
        await onlyProtocolErrors(() => decompress(v.codec, mutated, hostileLimit, v.decompressOptions), hostileLimit);
        if (v.codec === CompressionCodec.Lz4) {
          await onlyProtocolErrors(() => lz4DecompressJs(mutated, hostileLimit, v.decompressOptions?.lz4LegacyChecksum), hostileLimit);
        }
        if (v.codec === CompressionCodec.Zstd) await onlyProtocolErrors(() => zstdDecompressJs(mutated, hostileLimit), hostileLimit);
      },
    ),
    { numRuns: 1500 },
  );
});

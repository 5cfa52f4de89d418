import { createRequire } from 'node:module';

/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as Kafka uses for the `crc` field of
 * record batches (magic 2). It covers the batch from the `attributes` field to the end.
 *
 * The native implementation from `@node-rs/crc32` (hardware CRC instructions, several GB/s) is
 * preferred; it is an optional dependency, so when its binary is missing or fails to load we
 * fall back to a pure-JS slicing-by-8 implementation that is correct everywhere, only slower.
 * Setting the environment variable `FERRY_CRC32C=js` forces the fallback, for tests and for
 * machines where the native module misbehaves.
 *
 * Both implementations take and return the finalized (post-inversion) unsigned value, so a
 * checksum can be computed over pieces: `crc32c(b, crc32c(a)) === crc32c(concat(a, b))`.
 */

export type Crc32cFunction = (data: Uint8Array, initial?: number) => number;

const POLY = 0x82f63b78;

/** Eight 256-entry tables: TABLES[k][b] is the CRC of byte b followed by k zero bytes. */
const TABLES: Int32Array = buildTables();

function buildTables(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
}

/** The pure-JS CRC-32C (slicing-by-8); always available, used as the fallback. */
export function crc32cJs(data: Uint8Array, initial = 0): number {
  const t = TABLES;
  let crc = ~initial | 0;
  let i = 0;
  const len = data.length;
  // Eight bytes per step: the four low bytes are folded into the running CRC, and the table
  // lookups for all eight are independent, which keeps the loop free of long dependency chains.
  const end8 = len - (len & 7);
  while (i < end8) {
    const a = crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
    crc =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + data[i + 4]!]! ^
      t[512 + data[i + 5]!]! ^
      t[256 + data[i + 6]!]! ^
      t[data[i + 7]!]!;
    i += 8;
  }
  while (i < len) crc = t[(crc ^ data[i++]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

/**
 * Builds the CRC-32C function from a loader of the `@node-rs/crc32` module. Anything that goes
 * wrong (the loader throws, the module lacks `crc32c`, or it gives a wrong answer for the check
 * value) yields the JS implementation, so a broken native binary cannot corrupt checksums.
 */
export function loadCrc32c(load: () => unknown): { crc32c: Crc32cFunction; implementation: 'native' | 'js' } {
  const fallback = { crc32c: crc32cJs, implementation: 'js' as const };
  let native: unknown;
  try {
    const mod = load();
    native = mod !== null && typeof mod === 'object' ? (mod as { crc32c?: unknown }).crc32c : undefined;
  } catch {
    return fallback;
  }
  if (typeof native !== 'function') return fallback;
  const fn = native as (input: Uint8Array, initialState?: number) => number;
  const wrapped: Crc32cFunction = (data, initial = 0) => fn(data, initial >>> 0) >>> 0;
  try {
    // "123456789" is the standard check input; chaining is checked too because record-batch
    // code relies on it.
    const check = new Uint8Array([0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39]);
    if (wrapped(check) !== 0xe3069283) return fallback;
    if (wrapped(check.subarray(4), wrapped(check.subarray(0, 4))) !== 0xe3069283) return fallback;
  } catch {
    return fallback;
  }
  return { crc32c: wrapped, implementation: 'native' };
}

function loadNative(): unknown {
  return createRequire(import.meta.url)('@node-rs/crc32');
}

const selected = process.env['FERRY_CRC32C'] === 'js' ? loadCrc32c(() => null) : loadCrc32c(loadNative);

/** CRC-32C of `data`, continuing from `initial` (a previous result) when given. */
const selectedCrc32c = selected.crc32c;

/**
 * Below this size a call into the native module costs more than the JS loop (measured by
 * npm run bench:protocol: 0.77 vs 1.10 GB/s at 100 bytes), so small inputs stay in JS.
 */
export const CRC32C_NATIVE_BYTES_MIN = 256;

export const crc32c: Crc32cFunction =
  selected.implementation === 'native'
    ? (data, initial) => (data.length < CRC32C_NATIVE_BYTES_MIN ? crc32cJs(data, initial) : selectedCrc32c(data, initial))
    : selectedCrc32c;

/** Which implementation `crc32c` uses in this process. */
export const crc32cImplementation: 'native' | 'js' = selected.implementation;

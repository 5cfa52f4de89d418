import * as zlib from 'node:zlib';

/**
 * Plain CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, the one zlib computes), as Kafka's
 * legacy message format (magic 0 and 1) uses for each message's `crc` field, covering the
 * message from `magic` to the end of the value.
 *
 * Node has `zlib.crc32` from 20.15 and 22.2 on; older runtimes get a table-driven JS version.
 * Both take and return the finalized unsigned value, so `crc32(b, crc32(a)) === crc32(a + b)`.
 */

export type Crc32Function = (data: Uint8Array, initial?: number) => number;

const TABLE: Int32Array = buildTable();

function buildTable(): Int32Array {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    t[n] = c;
  }
  return t;
}

/** The pure-JS CRC-32; always available, used when zlib lacks `crc32`. */
export function crc32Js(data: Uint8Array, initial = 0): number {
  const t = TABLE;
  let crc = ~initial | 0;
  for (let i = 0; i < data.length; i++) crc = t[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

// Looked up dynamically because the type definitions may declare it on runtimes that lack it.
const zlibCrc32 = (zlib as { crc32?: unknown }).crc32;

/** CRC-32 (IEEE) of `data`, continuing from `initial` (a previous result) when given. */
export const crc32: Crc32Function =
  typeof zlibCrc32 === 'function'
    ? (data, initial = 0) => (zlibCrc32 as (d: Uint8Array, v: number) => number)(data, initial >>> 0) >>> 0
    : crc32Js;

/** Which implementation `crc32` uses in this process. */
export const crc32Implementation: 'zlib' | 'js' = typeof zlibCrc32 === 'function' ? 'zlib' : 'js';

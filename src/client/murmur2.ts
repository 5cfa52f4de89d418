/**
 * Kafka's murmur2, bit for bit as the Java client's `Utils.murmur2` (and kafkajs's default
 * partitioner, and librdkafka's `murmur2_random`): the same key must land in the same
 * partition whichever client wrote it. Java works on signed 32-bit ints with wrapping
 * multiplication and `>>>` shifts; Math.imul and `>>>` reproduce exactly that.
 */
const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/** The signed 32-bit hash Java's `Utils.murmur2(byte[])` returns. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = SEED ^ length;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = (data[i4]! & 0xff) | ((data[i4 + 1]! & 0xff) << 8) | ((data[i4 + 2]! & 0xff) << 16) | ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  // Java's switch falls through here: 3 leftover bytes mix in all three, 2 in two, 1 in one.
  const tail = length & ~3;
  const leftover = length % 4;
  if (leftover >= 3) h ^= (data[tail + 2]! & 0xff) << 16;
  if (leftover >= 2) h ^= (data[tail + 1]! & 0xff) << 8;
  if (leftover >= 1) {
    h ^= data[tail]! & 0xff;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Java's `Utils.toPositive`: clears the sign bit (not Math.abs, which differs for MIN_VALUE). */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

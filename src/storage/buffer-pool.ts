/**
 * Reusable buffers for reads of segment files. A consumer catching up reads about a megabyte
 * per partition per fetch, and a fresh Buffer for each read gave the garbage collector a third
 * of the broker's main thread at 0.9 GB/s (large buffers live outside V8's heap, and each
 * megabyte of them allocated brings the next full collection closer).
 *
 * Only readers that ask for it get pooled buffers (PartitionLog.read with `pooled`, which
 * Fetch uses), because a pooled buffer has one holder at a time: it is taken for a read and
 * given back when nothing refers to it any more, by the reader when it drops the read, or by
 * the connection once the socket has written the response that carries it (the write's
 * callback; before it, the kernel may still be copying from it). Giving one back early would
 * let another read overwrite bytes still in use; a buffer never given back is collected like
 * any other, at the cost of the allocation the pool exists to save.
 */

/** The smallest and largest buffers kept; reads outside get plain allocations. */
const CLASS_MIN_BYTES = 64 * 1024;
const CLASS_MAX_BYTES = 16 * 1024 * 1024;

export class BufferPool {
  /** Idle buffers by size class (powers of two from CLASS_MIN_BYTES). */
  private readonly idle: ArrayBuffer[][] = [];
  /** Buffers handed out and not yet given back. */
  private readonly lent = new WeakSet<ArrayBuffer>();
  private idleBytes = 0;
  private lentBuffers = 0;

  constructor(readonly idleBytesMax = 64 * 1024 * 1024) {}

  /** Bytes of idle buffers kept for reuse. */
  get retainedBytes(): number {
    return this.idleBytes;
  }

  /** Buffers taken and not given back, including any left to the garbage collector. */
  get lentCount(): number {
    return this.lentBuffers;
  }

  /** A buffer of `length` bytes (contents undefined), from the pool when its size fits one. */
  take(length: number): Buffer {
    if (length > CLASS_MAX_BYTES || length <= 0) return Buffer.allocUnsafe(length);
    const cls = classOf(length);
    const idle = this.idle[cls];
    let ab = idle !== undefined && idle.length > 0 ? idle.pop()! : null;
    if (ab !== null) this.idleBytes -= ab.byteLength;
    else ab = new ArrayBuffer(CLASS_MIN_BYTES << cls);
    this.lent.add(ab);
    this.lentBuffers++;
    return Buffer.from(ab, 0, length);
  }

  /** Whether `buf` (or the buffer it is a slice of) was taken from this pool and not given back. */
  owns(buf: Buffer): boolean {
    return this.lent.has(buf.buffer as ArrayBuffer);
  }

  /**
   * Gives back the pooled buffer that `buf` is (a slice of); anything else is ignored, and so
   * is a second give of the same buffer. The caller must hold the only reference.
   */
  give(buf: Buffer): void {
    const ab = buf.buffer as ArrayBuffer;
    if (!this.lent.delete(ab)) return;
    this.lentBuffers--;
    if (this.idleBytes + ab.byteLength > this.idleBytesMax) return;
    const cls = classOf(ab.byteLength);
    (this.idle[cls] ??= []).push(ab);
    this.idleBytes += ab.byteLength;
  }
}

/** The size class holding `length` bytes: 0 for up to CLASS_MIN_BYTES, then one per doubling. */
function classOf(length: number): number {
  let cls = 0;
  while (CLASS_MIN_BYTES << cls < length) cls++;
  return cls;
}

/**
 * The process's pool for segment reads: shared by every log, and known to the connections,
 * which give back the buffers of a response once it is written.
 */
export const readBufferPool = new BufferPool();

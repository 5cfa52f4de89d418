/**
 * One client connection: Kafka framing (int32 size + frame), requests handled one at a time
 * in arrival order as Kafka does (so a producer's pipelined batches are appended in the order
 * sent), and responses written as the encoder's chunks in one corked write.
 *
 * Limits: a frame larger than socket.request.max.bytes closes the connection (the size is
 * checked before anything is allocated); at most `maxInflight` frames are read ahead, after
 * which the socket is paused; a slow reader pauses request processing until its socket
 * drains; an idle connection is closed after connections.max.idle.ms. A malformed frame
 * closes this connection only, and is logged once.
 */
import type { Socket } from 'node:net';
import { readBufferPool } from '../storage/buffer-pool.js';

export interface ConnectionLimits {
  socketRequestMaxBytes: number;
  maxInflight: number;
  idleMs: number;
  /** Requests read but not yet answered across all connections (queued.max.requests). */
  budget: RequestBudget;
}

/**
 * The broker-wide bound on requests read but not yet answered. A connection that finds it
 * exhausted stops reading its socket until requests elsewhere are answered.
 */
export class RequestBudget {
  queued = 0;
  private readonly waiting = new Set<Connection>();

  constructor(readonly max: number) {}

  get exhausted(): boolean {
    return this.queued >= this.max;
  }

  take(): void {
    this.queued++;
  }

  give(): void {
    this.queued--;
    if (this.queued < this.max && this.waiting.size > 0) {
      const conns = [...this.waiting];
      this.waiting.clear();
      for (const c of conns) c.budgetFreed();
    }
  }

  wait(conn: Connection): void {
    this.waiting.add(conn);
  }

  forget(conn: Connection): void {
    this.waiting.delete(conn);
  }
}

/**
 * What the broker does with a frame: a response to write (chunks, or null for none), and
 * when the next request of the connection may start. Requests start strictly in arrival
 * order, but a handler may let the next one start before its response is ready (Produce,
 * once its appends are issued), so that one producer's pipelined requests overlap their
 * writes and fsyncs; responses are still written in request order.
 */
export interface HandledFrame {
  response: Promise<Buffer[] | null>;
  released: Promise<void>;
}
export type FrameHandler = (frame: Buffer, conn: Connection) => HandledFrame;

let nextConnectionId = 1;

function giveBack(buffers: Buffer[]): void {
  for (const b of buffers) readBufferPool.give(b);
}

export class Connection {
  readonly id = nextConnectionId++;
  readonly remote: string;
  private readonly frames: Buffer[] = [];
  /** A frame being filled across chunks. */
  private partial: Buffer | null = null;
  private partialFilled = 0;
  /** Bytes of a size prefix split across chunks. */
  private sizeBytes: Buffer | null = null;
  private processing = false;
  private writing = false;
  /** Responses of started requests, in request order. */
  private readonly pending: Array<Promise<Buffer[] | null>> = [];
  private closed = false;
  private idleTimer: NodeJS.Timeout | null = null;
  private paused = false;

  constructor(
    readonly socket: Socket,
    private readonly limits: ConnectionLimits,
    private readonly handle: FrameHandler,
    private readonly log: (message: string) => void,
    private readonly onClose: (conn: Connection) => void,
  ) {
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
    this.touch();
  }

  private touch(): void {
    if (this.idleTimer !== null) this.idleTimer.refresh();
    else {
      this.idleTimer = setTimeout(() => {
        if (this.processing || this.writing || this.frames.length > 0) return this.touch();
        this.close();
      }, this.limits.idleMs);
      this.idleTimer.unref();
    }
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.touch();
    let at = 0;
    while (at < chunk.length) {
      if (this.partial !== null) {
        const n = Math.min(this.partial.length - this.partialFilled, chunk.length - at);
        chunk.copy(this.partial, this.partialFilled, at, at + n);
        this.partialFilled += n;
        at += n;
        if (this.partialFilled === this.partial.length) {
          this.frames.push(this.partial);
          this.limits.budget.take();
          this.partial = null;
        }
        continue;
      }
      let size: number;
      if (this.sizeBytes !== null || chunk.length - at < 4) {
        // The size prefix itself is split across chunks.
        const have = this.sizeBytes ?? Buffer.alloc(0);
        const need = 4 - have.length;
        const take = chunk.subarray(at, at + need);
        at += take.length;
        this.sizeBytes = Buffer.concat([have, take]);
        if (this.sizeBytes.length < 4) break;
        size = this.sizeBytes.readInt32BE(0);
        this.sizeBytes = null;
      } else {
        size = chunk.readInt32BE(at);
        at += 4;
      }
      if (size < 0 || size > this.limits.socketRequestMaxBytes) {
        this.fail(`frame of ${size} bytes is outside [0, socket.request.max.bytes ${this.limits.socketRequestMaxBytes}]`);
        return;
      }
      if (chunk.length - at >= size) {
        // The whole frame is in this chunk: use it in place.
        this.frames.push(chunk.subarray(at, at + size));
        this.limits.budget.take();
        at += size;
      } else {
        this.partial = Buffer.allocUnsafe(size);
        this.partialFilled = 0;
      }
    }
    this.updateReading();
    void this.process();
  }

  /** Reads while this connection and the broker are below their request limits. */
  private updateReading(): void {
    const over = this.frames.length >= this.limits.maxInflight || this.limits.budget.exhausted;
    if (over && !this.paused) {
      this.paused = true;
      this.socket.pause();
      if (this.limits.budget.exhausted) this.limits.budget.wait(this);
    } else if (!over && this.paused && this.frames.length < this.limits.maxInflight / 2 + 1) {
      this.paused = false;
      this.socket.resume();
    }
  }

  /** Called by the budget when requests elsewhere were answered. */
  budgetFreed(): void {
    if (!this.closed) this.updateReading();
  }

  private async process(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.frames.length > 0 && !this.closed) {
        // Bound the responses being prepared at once as well as the frames read ahead.
        while (this.pending.length >= this.limits.maxInflight && !this.closed) await this.pending[0]!.catch(() => undefined);
        if (this.closed) break;
        const frame = this.frames.shift()!;
        const handled = this.handle(frame, this);
        this.pending.push(handled.response);
        void this.writeResponses();
        await handled.released;
        this.touch();
      }
    } catch (e) {
      this.fail(`request handling failed: ${(e as Error).message}`);
    } finally {
      this.processing = false;
    }
  }

  /** Writes responses in request order as they become ready, respecting backpressure. */
  private async writeResponses(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.pending.length > 0 && !this.closed) {
        let response: Buffer[] | null;
        try {
          response = await this.pending[0]!;
        } finally {
          // After close() the queue was emptied and its budget given back already.
          if (!this.closed) {
            this.pending.shift();
            this.limits.budget.give();
            this.updateReading();
          }
        }
        if (this.closed) break;
        if (response !== null && !this.write(response)) {
          // Backpressure: do not produce more responses than the client reads.
          await new Promise<void>((resolve) => {
            const done = (): void => {
              this.socket.off('drain', done);
              this.socket.off('close', done);
              resolve();
            };
            this.socket.on('drain', done);
            this.socket.on('close', done);
          });
        }
        this.touch();
      }
    } catch (e) {
      this.fail(`request handling failed: ${(e as Error).message}`);
    } finally {
      this.writing = false;
    }
  }


  /** Writes a response's chunks together; returns false when the socket buffer is full. */
  write(chunks: Buffer[]): boolean {
    if (this.closed) return true;
    // Fetch reads records into buffers lent by the pool, for its response alone (see
    // buffer-pool.ts): they go back once the socket is done with them, which is when the
    // callback of the last write of the cork runs.
    let lent: Buffer[] | null = null;
    for (const c of chunks) if (readBufferPool.owns(c)) (lent ??= []).push(c);
    this.socket.cork();
    let ok = true;
    const last = chunks.length - 1;
    for (let i = 0; i < last; i++) ok = this.socket.write(chunks[i]!);
    if (last >= 0) {
      const written = lent === null ? undefined : (): void => giveBack(lent);
      ok = this.socket.write(chunks[last]!, written);
    }
    this.socket.uncork();
    return ok;
  }

  /** Closes the connection because of something the client sent; logged once. */
  fail(reason: string): void {
    if (this.closed) return;
    this.log(`closing connection ${this.id} from ${this.remote}: ${reason}`);
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    for (let i = 0; i < this.frames.length + this.pending.length; i++) this.limits.budget.give();
    this.pending.length = 0;
    this.frames.length = 0;
    this.limits.budget.forget(this);
    this.partial = null;
    this.socket.destroy();
    this.onClose(this);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Resolves when the request being handled (if any) is answered. */
  async idle(): Promise<void> {
    while ((this.processing || this.writing || this.pending.length > 0) && !this.closed) await new Promise((r) => setTimeout(r, 5));
  }
}

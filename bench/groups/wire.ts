/**
 * A minimal pipelined Kafka wire client for bench/groups.ts: one TCP connection, requests encoded
 * with the generated codecs, responses matched to requests in order (a broker answers the
 * requests of one connection in order).
 */
import { connect, type Socket } from 'node:net';
import type { ApiCodec } from '../../src/protocol/api-codec.js';
import { encodeRequestFrame, readResponse, readResponseCorrelationId } from '../../src/protocol/frame.js';

interface Pending {
  correlationId: number;
  resolve: (frame: Buffer) => void;
  reject: (e: Error) => void;
}

export class WireConnection {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly pending: Pending[] = [];
  private correlationId = 0;
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly clientId: string,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const fail = (e?: Error): void => {
      this.closed = true;
      for (const p of this.pending.splice(0)) p.reject(e ?? new Error('connection closed'));
    };
    socket.on('close', () => fail());
    socket.on('error', (e) => fail(e));
  }

  static connect(port: number, clientId: string, host = '127.0.0.1'): Promise<WireConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host);
      socket.once('connect', () => resolve(new WireConnection(socket, clientId)));
      socket.once('error', reject);
    });
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.buffered < 4) return;
      let buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      this.chunks = [buf];
      const size = buf.readInt32BE(0);
      if (buf.length < 4 + size) return;
      const frame = buf.subarray(4, 4 + size);
      buf = buf.subarray(4 + size);
      this.chunks = buf.length > 0 ? [buf] : [];
      this.buffered = buf.length;
      const p = this.pending.shift();
      if (p === undefined) throw new Error('a response without a request');
      if (readResponseCorrelationId(frame) !== p.correlationId) p.reject(new Error('correlation id mismatch'));
      else p.resolve(frame);
    }
  }

  send<Req, Res>(api: ApiCodec<Req, Res>, version: number, body: Req): Promise<Res> {
    if (this.closed) return Promise.reject(new Error('connection closed'));
    const correlationId = ++this.correlationId;
    const frame = new Promise<Buffer>((resolve, reject) => this.pending.push({ correlationId, resolve, reject }));
    const chunks = encodeRequestFrame(api as ApiCodec<Req, unknown>, version, correlationId, this.clientId, body);
    this.socket.cork();
    for (const c of chunks) this.socket.write(c);
    this.socket.uncork();
    return frame.then((f) => readResponse(api as ApiCodec<unknown, Res>, version, f));
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * A minimal Kafka wire client for broker tests: sends any request with the generated codec
 * and decodes the response, over a real TCP connection. Requests are answered in order, so
 * responses are matched to requests by correlation id in FIFO order.
 */
import { connect, type Socket } from 'node:net';
import type { ApiCodec } from '../../src/protocol/api-codec.js';
import { encodeRequestFrame, readResponse, readResponseCorrelationId } from '../../src/protocol/frame.js';

interface Pending {
  correlationId: number;
  resolve: (frame: Buffer) => void;
  reject: (e: Error) => void;
}

export class WireClient {
  private buf: Buffer = Buffer.alloc(0);
  private readonly pending: Pending[] = [];
  private correlationId = 0;
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      while (this.buf.length >= 4 && this.buf.length >= 4 + this.buf.readInt32BE(0)) {
        const size = this.buf.readInt32BE(0);
        const frame = this.buf.subarray(4, 4 + size);
        this.buf = this.buf.subarray(4 + size);
        const p = this.pending.shift();
        if (p === undefined) throw new Error('response without a request');
        if (readResponseCorrelationId(frame) !== p.correlationId) p.reject(new Error('correlation id mismatch'));
        else p.resolve(frame);
      }
    });
    const fail = (): void => {
      this.closed = true;
      for (const p of this.pending.splice(0)) p.reject(new Error('connection closed'));
    };
    socket.on('close', fail);
    socket.on('error', fail);
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<WireClient> {
    const socket = connect(port, host);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    return new WireClient(socket);
  }

  /** Sends a request and resolves with its decoded response. */
  send<Req, Res>(api: ApiCodec<Req, Res>, version: number, body: Req, clientId: string | null = 'wire-test'): Promise<Res> {
    // A request on a closed connection would otherwise wait forever.
    if (this.closed) return Promise.reject(new Error('connection closed'));
    const correlationId = ++this.correlationId;
    const frame = new Promise<Buffer>((resolve, reject) => this.pending.push({ correlationId, resolve, reject }));
    for (const chunk of encodeRequestFrame(api as ApiCodec<Req, unknown>, version, correlationId, clientId, body)) this.socket.write(chunk);
    return frame.then((f) => readResponse(api as ApiCodec<unknown, Res>, version, f));
  }

  /** Sends a request that gets no response (Produce acks=0). */
  sendOneWay<Req>(api: ApiCodec<Req, unknown>, version: number, body: Req): void {
    for (const chunk of encodeRequestFrame(api, version, ++this.correlationId, 'wire-test', body)) this.socket.write(chunk);
  }

  /** Writes raw bytes (malformed frames). */
  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Resolves when the broker closes the connection. */
  whenClosed(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  close(): void {
    this.socket.destroy();
  }
}

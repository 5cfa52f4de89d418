/**
 * One TCP connection to one broker.
 *
 * Requests are pipelined: each gets the next correlation id and is written at once, and
 * responses are matched back by id (Kafka answers a connection's requests in order, but a
 * map costs nothing and survives a broker that does not). At most `maxInFlightRequests` wait
 * for their response at a time; further requests queue in the client, so a slow broker
 * makes callers wait instead of filling its socket. Every request has a timeout; a late
 * response is dropped. On connect the client asks ApiVersions and from then on sends each
 * API at the highest version both sides support.
 */
import { connect, type Socket } from 'node:net';
import type { ApiCodec } from '../protocol/api-codec.js';
import { ByteReader } from '../protocol/byte-reader.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { encodeRequestFrame, readResponse } from '../protocol/frame.js';
import { ApiVersionsApi, type ApiVersionsResponse } from '../protocol/messages/index.js';
import { ConnectionError, KafkaError, RequestTimeoutError, UnsupportedVersionError } from './errors.js';
import { clientVersionRange, type VersionRange } from './supported-versions.js';

export interface ConnectionOptions {
  host: string;
  port: number;
  clientId?: string;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  maxInFlightRequests?: number;
  /** The largest response frame accepted; anything larger means a confused peer. */
  responseBytesMax?: number;
}

export interface RequestOptions {
  /** Overrides the negotiated version (tests, and APIs whose version must be pinned). */
  version?: number;
  /** Overrides the connection's request timeout (long polls and rebalances need longer). */
  timeoutMs?: number;
}

interface Pending {
  resolve: (frame: Buffer) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout | null;
}

const CLIENT_SOFTWARE_NAME = 'ferry-client';
const CLIENT_SOFTWARE_VERSION = '0.1.0';

export class BrokerConnection {
  readonly address: string;
  private readonly socket: Socket;
  private readonly clientId: string;
  private readonly requestTimeoutMs: number;
  private readonly maxInFlight: number;
  private readonly responseBytesMax: number;
  private nextCorrelationId = 0;
  private readonly pending = new Map<number, Pending>();
  /** Callers waiting for an in-flight slot, in order. */
  private readonly slotWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private inFlight = 0;
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  private frameBytes = -1;
  private closedError: Error | null = null;
  private readonly closeListeners: Array<(error: Error | null) => void> = [];
  /** The broker's version range per API key, from ApiVersions. */
  private brokerVersions = new Map<number, VersionRange>();

  private constructor(socket: Socket, options: ConnectionOptions) {
    this.socket = socket;
    this.address = `${options.host}:${options.port}`;
    this.clientId = options.clientId ?? 'ferry';
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.maxInFlight = Math.max(1, options.maxInFlightRequests ?? 5);
    this.responseBytesMax = options.responseBytesMax ?? 512 * 1024 * 1024;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.fail(new ConnectionError(`connection error: ${error.message}`, this.address, error)));
    socket.on('close', () => this.fail(new ConnectionError('connection closed', this.address)));
  }

  /** Connects and negotiates API versions. */
  static async connect(options: ConnectionOptions): Promise<BrokerConnection> {
    const address = `${options.host}:${options.port}`;
    const socket = connect({ host: options.host, port: options.port });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ConnectionError(`connect timed out after ${options.connectTimeoutMs ?? 10_000} ms`, address));
      }, options.connectTimeoutMs ?? 10_000);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new ConnectionError(`cannot connect: ${error.message}`, address, error));
      });
    });
    const connection = new BrokerConnection(socket, options);
    try {
      await connection.negotiateVersions();
    } catch (error) {
      connection.destroy();
      throw error;
    }
    return connection;
  }

  get closed(): boolean {
    return this.closedError !== null;
  }

  /** Calls `listener` once when the connection closes, with the reason (null for close()). */
  onClose(listener: (error: Error | null) => void): void {
    if (this.closedError !== null) listener(this.closedError);
    else this.closeListeners.push(listener);
  }

  /** The broker's supported range for an API, or undefined when it does not serve it. */
  brokerVersionRange(apiKey: number): VersionRange | undefined {
    return this.brokerVersions.get(apiKey);
  }

  /** Whether both sides share a version of the API. */
  supports(api: ApiCodec<unknown, unknown>): boolean {
    return this.tryVersion(api) >= 0;
  }

  /** The highest version both sides support; throws UnsupportedVersionError when there is none. */
  version(api: ApiCodec<unknown, unknown>): number {
    const v = this.tryVersion(api);
    if (v < 0) {
      const broker = this.brokerVersions.get(api.apiKey);
      const own = clientVersionRange(api);
      throw new UnsupportedVersionError(
        `${api.name}: the broker ${this.address} supports ${broker ? `v${broker.min}-${broker.max}` : 'no version'}, this client v${own.min}-${own.max}`,
      );
    }
    return v;
  }

  private tryVersion(api: ApiCodec<unknown, unknown>): number {
    const broker = this.brokerVersions.get(api.apiKey);
    if (broker === undefined) return -1;
    const own = clientVersionRange(api);
    const v = Math.min(own.max, broker.max);
    return v >= Math.max(own.min, broker.min) ? v : -1;
  }

  /** Sends a request and resolves with the decoded response. */
  async request<Req, Res>(api: ApiCodec<Req, Res>, body: Req, options: RequestOptions = {}): Promise<Res> {
    const version = options.version ?? this.version(api as ApiCodec<unknown, unknown>);
    const frame = await this.requestFrame(api as ApiCodec<Req, unknown>, version, body, options.timeoutMs ?? this.requestTimeoutMs);
    return readResponse(api as ApiCodec<unknown, Res>, version, frame);
  }

  /**
   * Sends a request the broker will not answer (Produce with acks=0). Resolves when the bytes
   * are handed to the socket; it does not take an in-flight slot because nothing comes back.
   */
  async send<Req>(api: ApiCodec<Req, unknown>, body: Req, options: RequestOptions = {}): Promise<void> {
    if (this.closedError !== null) throw this.closedError;
    const version = options.version ?? this.version(api as ApiCodec<unknown, unknown>);
    const chunks = encodeRequestFrame(api, version, this.takeCorrelationId(), this.clientId, body);
    await this.write(chunks);
  }

  /** Closes the connection; pending requests fail with a ConnectionError. */
  close(): Promise<void> {
    if (this.closedError !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.fail(new ConnectionError('connection closed by the client', this.address), true);
      this.socket.end();
      // A peer that never acknowledges the FIN must not hold close() forever.
      setTimeout(() => this.socket.destroy(), 1000).unref();
    });
  }

  /** Drops the connection at once. */
  destroy(): void {
    this.fail(new ConnectionError('connection closed by the client', this.address), true);
    this.socket.destroy();
  }

  // ---- internals ----------------------------------------------------------------------------

  private takeCorrelationId(): number {
    const id = this.nextCorrelationId;
    this.nextCorrelationId = (this.nextCorrelationId + 1) & 0x7fffffff;
    return id;
  }

  private async requestFrame<Req>(api: ApiCodec<Req, unknown>, version: number, body: Req, timeoutMs: number): Promise<Buffer> {
    if (this.closedError !== null) throw this.closedError;
    await this.takeSlot();
    const correlationId = this.takeCorrelationId();
    let chunks: Buffer[];
    try {
      chunks = encodeRequestFrame(api, version, correlationId, this.clientId, body);
    } catch (error) {
      this.releaseSlot();
      throw error;
    }
    const response = new Promise<Buffer>((resolve, reject) => {
      const entry: Pending = { resolve, reject, timer: null };
      entry.timer = setTimeout(() => {
        if (this.pending.delete(correlationId)) {
          this.releaseSlot();
          reject(new RequestTimeoutError(`${api.name} to ${this.address} got no response in ${timeoutMs} ms`));
        }
      }, timeoutMs);
      this.pending.set(correlationId, entry);
    });
    this.write(chunks).catch(() => undefined);
    return response;
  }

  private takeSlot(): Promise<void> {
    if (this.inFlight < this.maxInFlight) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.slotWaiters.push({ resolve, reject }));
  }

  private releaseSlot(): void {
    const next = this.slotWaiters.shift();
    if (next !== undefined) next.resolve();
    else this.inFlight--;
  }

  private write(chunks: Buffer[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.cork();
      for (let i = 0; i < chunks.length; i++) {
        if (i === chunks.length - 1) {
          this.socket.write(chunks[i]!, (error) => (error ? reject(error) : resolve()));
        } else {
          this.socket.write(chunks[i]!);
        }
      }
      this.socket.uncork();
    });
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    for (;;) {
      if (this.frameBytes < 0) {
        if (this.bufferedBytes < 4) return;
        const size = this.take(4).readInt32BE(0);
        if (size < 4 || size > this.responseBytesMax) {
          this.fail(new ConnectionError(`invalid response frame size ${size}`, this.address));
          this.socket.destroy();
          return;
        }
        this.frameBytes = size;
      }
      if (this.bufferedBytes < this.frameBytes) return;
      const frame = this.take(this.frameBytes);
      this.frameBytes = -1;
      this.dispatch(frame);
    }
  }

  /** Takes `n` buffered bytes, copying only when they span chunks. */
  private take(n: number): Buffer {
    this.bufferedBytes -= n;
    const first = this.chunks[0]!;
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const want = n - filled;
      if (c.length <= want) {
        c.copy(out, filled);
        filled += c.length;
        this.chunks.shift();
      } else {
        c.copy(out, filled, 0, want);
        this.chunks[0] = c.subarray(want);
        filled += want;
      }
    }
    return out;
  }

  private dispatch(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0);
    const entry = this.pending.get(correlationId);
    // A response to a request that already timed out has nobody waiting: drop it.
    if (entry === undefined) return;
    this.pending.delete(correlationId);
    if (entry.timer !== null) clearTimeout(entry.timer);
    this.releaseSlot();
    entry.resolve(frame);
  }

  private fail(error: Error, byClient = false): void {
    if (this.closedError !== null) return;
    this.closedError = error;
    for (const [, entry] of this.pending) {
      if (entry.timer !== null) clearTimeout(entry.timer);
      entry.reject(error);
    }
    this.pending.clear();
    for (const waiter of this.slotWaiters.splice(0)) waiter.reject(error);
    for (const listener of this.closeListeners.splice(0)) listener(byClient ? null : error);
  }

  /**
   * ApiVersions, at the client's highest version first. A broker that does not know that
   * version answers UNSUPPORTED_VERSION with a v0 body listing its own range (KIP-511), and
   * the request is repeated at the broker's highest version.
   */
  private async negotiateVersions(): Promise<void> {
    const own = clientVersionRange(ApiVersionsApi as ApiCodec<unknown, unknown>);
    let version = own.max;
    for (let attempt = 0; attempt < 2; attempt++) {
      const body = { clientSoftwareName: CLIENT_SOFTWARE_NAME, clientSoftwareVersion: CLIENT_SOFTWARE_VERSION };
      const frame = await this.requestFrame(ApiVersionsApi, version, body, this.requestTimeoutMs);
      const response = readApiVersionsResponse(frame, version);
      if (response.errorCode === ErrorCode.UNSUPPORTED_VERSION) {
        const theirs = response.apiKeys.find((k) => k.apiKey === ApiVersionsApi.apiKey);
        const next = theirs === undefined ? 0 : Math.min(theirs.maxVersion, own.max);
        if (next === version) break;
        version = next;
        continue;
      }
      if (response.errorCode !== ErrorCode.NONE) throw new KafkaError(response.errorCode, undefined, { brokerMessage: `ApiVersions from ${this.address}` });
      this.brokerVersions = new Map(response.apiKeys.map((k) => [k.apiKey, { min: k.minVersion, max: k.maxVersion }]));
      return;
    }
    throw new UnsupportedVersionError(`the broker ${this.address} accepts no ApiVersions version this client speaks`);
  }
}

/** Decodes an ApiVersions response, falling back to the v0 body brokers send with UNSUPPORTED_VERSION. */
function readApiVersionsResponse(frame: Buffer, version: number): ApiVersionsResponse {
  try {
    return readResponse(ApiVersionsApi, version, frame);
  } catch (error) {
    const r = new ByteReader(frame, 4);
    const body = ApiVersionsApi.readResponse(0, r);
    if (r.failed) throw error;
    return body;
  }
}

/**
 * Kafka framing: every request and response is an int32 size followed by that many bytes,
 * a header and a body.
 *
 *   request:  size:int32 | apiKey:int16 apiVersion:int16 correlationId:int32 clientId:nullable string
 *             [tagged fields, header v2 = flexible versions] | body
 *   response: size:int32 | correlationId:int32 [tagged fields, header v1] | body
 *
 * The client id stays a plain (non-compact) nullable string even in header v2, and the
 * ApiVersions response always uses header v0 (ApiCodec.responseHeaderVersion knows both).
 * Functions here take a frame without its size prefix and produce chunks with it.
 */
import type { ApiCodec, DataCodec } from './api-codec.js';
import { ByteReader } from './byte-reader.js';
import { ByteWriter, nullableStringSize } from './byte-writer.js';
import { API_CODECS } from './messages/index.js';
import { ProtocolError } from './protocol-error.js';

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** 1 or 2; 1 when the API or version is unknown (the body cannot be decoded then). */
  headerVersion: number;
  /** Offset of the body in the frame. */
  bodyOffset: number;
}

/** Request frames carry at least apiKey, apiVersion and correlationId. */
export const REQUEST_HEADER_BYTES_MIN = 8;

/**
 * Reads a request header. Unknown APIs and versions are not errors here: the broker must
 * still answer them (UNSUPPORTED_VERSION), so their header is read as version 1.
 */
export function readRequestHeader(frame: Buffer): RequestHeader {
  const r = new ByteReader(frame);
  const apiKey = r.int16();
  const apiVersion = r.int16();
  const correlationId = r.int32();
  const api = API_CODECS.get(apiKey);
  const known = api !== undefined && apiVersion >= api.minVersion && apiVersion <= api.maxVersion;
  const headerVersion = known ? api.requestHeaderVersion(apiVersion) : 1;
  // A v0 request header (no client id) only existed for ControlledShutdown v0, long gone;
  // an unknown request that ends after the correlation id is answered all the same.
  const clientId = !known && r.remaining === 0 ? null : r.nullableString();
  if (headerVersion >= 2) r.skipTaggedFields();
  r.check('request header');
  return { apiKey, apiVersion, correlationId, clientId, headerVersion, bodyOffset: r.pos };
}

/** Decodes a request body; the API and version must be known (see readRequestHeader). */
export function readRequestBody<Req>(api: ApiCodec<Req, unknown>, header: RequestHeader, frame: Buffer): Req {
  const r = new ByteReader(frame, header.bodyOffset);
  const body = api.readRequest(header.apiVersion, r);
  r.done(`${api.name} v${header.apiVersion} request`);
  return body;
}

/** Encodes a response frame, size prefix included, as chunks for cork/writev. */
export function encodeResponseFrame<Res>(api: ApiCodec<unknown, Res>, version: number, correlationId: number, body: Res): Buffer[] {
  const w = new ByteWriter();
  const headerVersion = api.responseHeaderVersion(version);
  const headerBytes = headerVersion >= 1 ? 5 : 4;
  const bodyBytes = api.sizeResponse(version, body, w);
  w.allocate(4 + headerBytes + bodyBytes);
  w.int32(headerBytes + bodyBytes);
  w.int32(correlationId);
  if (headerVersion >= 1) w.uvarint(0);
  api.writeResponse(version, body, w);
  return w.finish();
}

/** Encodes a request frame, size prefix included, as chunks for cork/writev. */
export function encodeRequestFrame<Req>(
  api: ApiCodec<Req, unknown>,
  version: number,
  correlationId: number,
  clientId: string | null,
  body: Req,
): Buffer[] {
  const w = new ByteWriter();
  const headerVersion = api.requestHeaderVersion(version);
  const headerBytes = 8 + nullableStringSize(clientId) + (headerVersion >= 2 ? 1 : 0);
  const bodyBytes = api.sizeRequest(version, body, w);
  w.allocate(4 + headerBytes + bodyBytes);
  w.int32(headerBytes + bodyBytes);
  w.int16(api.apiKey);
  w.int16(version);
  w.int32(correlationId);
  w.nullableString(clientId);
  if (headerVersion >= 2) w.uvarint(0);
  api.writeRequest(version, body, w);
  return w.finish();
}

/** Reads the correlation id of a response frame (to match it to its request). */
export function readResponseCorrelationId(frame: Buffer): number {
  if (frame.length < 4) throw new ProtocolError(`response frame of ${frame.length} bytes has no correlation id`);
  return frame.readInt32BE(0);
}

/** Decodes a response frame (without size prefix) of a request sent at `version`. */
export function readResponse<Res>(api: ApiCodec<unknown, Res>, version: number, frame: Buffer): Res {
  const r = new ByteReader(frame);
  r.int32();
  if (api.responseHeaderVersion(version) >= 1) r.skipTaggedFields();
  const body = api.readResponse(version, r);
  r.done(`${api.name} v${version} response`);
  return body;
}

/** Encodes a versioned data structure (no framing, no version prefix). */
export function encodeData<T>(codec: DataCodec<T>, version: number, m: T): Buffer {
  const w = new ByteWriter();
  w.allocate(codec.size(version, m, w));
  codec.write(version, m, w);
  return w.finishOne();
}

/** Decodes a versioned data structure that must fill `buf` exactly. */
export function decodeData<T>(codec: DataCodec<T>, version: number, buf: Buffer): T {
  const r = new ByteReader(buf);
  const m = codec.read(version, r);
  r.done(`${codec.name} v${version}`);
  return m;
}

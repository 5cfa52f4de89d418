import type { ByteReader } from './byte-reader.js';
import type { ByteWriter } from './byte-writer.js';

/**
 * The generated codec of one Kafka API (src/protocol/messages/NN-*.ts): straight-line
 * read, size and write functions per version, dispatched by a switch on the version.
 * Encoding is two passes (size, then write into one allocation); see ByteWriter.
 */
export interface ApiCodec<Req, Res> {
  readonly apiKey: number;
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** The first version that uses the flexible (compact, tagged) format, or -1. */
  readonly firstFlexibleVersion: number;
  /** Kafka marks the newest version of some APIs as not yet stable. */
  readonly latestVersionUnstable: boolean;
  requestHeaderVersion(version: number): number;
  /** Always 0 for ApiVersions (KIP-511), whatever the version. */
  responseHeaderVersion(version: number): number;
  readRequest(version: number, r: ByteReader): Req;
  sizeRequest(version: number, m: Req, w: ByteWriter): number;
  writeRequest(version: number, m: Req, w: ByteWriter): void;
  readResponse(version: number, r: ByteReader): Res;
  sizeResponse(version: number, m: Res, w: ByteWriter): number;
  writeResponse(version: number, m: Res, w: ByteWriter): void;
}

/** The generated codec of a versioned data structure that is not an API message. */
export interface DataCodec<T> {
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** For coordinator records: the record type that prefixes keys in internal topics. */
  readonly recordType: number;
  read(version: number, r: ByteReader): T;
  size(version: number, m: T, w: ByteWriter): number;
  write(version: number, m: T, w: ByteWriter): void;
}

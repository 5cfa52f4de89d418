// Cross-checks of our protocol code against an independent implementation: kafkajs 2.2.4's
// protocol internals (node_modules/kafkajs/src/protocol). Requests that kafkajs encodes must
// decode to the same fields with our codec, responses that we encode must decode to the same
// values with kafkajs's response decoders, and record batches must travel both ways. kafkajs
// only ships gzip, so snappy, lz4 and zstd are registered as kafkajs codec plugins backed by
// pure-JS libraries (kafkajs-snappy/snappyjs, lz4js, fzstd) that share no code with ours.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { inspect } from 'node:util';
import { decompress as fzstdDecompress } from 'fzstd';
import type { ApiCodec } from '../../src/protocol/api-codec.js';
import { CompressionCodec } from '../../src/protocol/compression.js';
import { crc32c } from '../../src/protocol/crc32c.js';
import { encodeRequestFrame, encodeResponseFrame, readRequestBody, readRequestHeader } from '../../src/protocol/frame.js';
import {
  AddOffsetsToTxnApi,
  AddPartitionsToTxnApi,
  AlterConfigsApi,
  AlterPartitionReassignmentsApi,
  ApiVersionsApi,
  API_CODECS,
  CreateAclsApi,
  CreatePartitionsApi,
  CreateTopicsApi,
  DeleteAclsApi,
  DeleteGroupsApi,
  DeleteRecordsApi,
  DeleteTopicsApi,
  DescribeAclsApi,
  DescribeConfigsApi,
  DescribeGroupsApi,
  EndTxnApi,
  FetchApi,
  FindCoordinatorApi,
  HeartbeatApi,
  InitProducerIdApi,
  JoinGroupApi,
  LeaveGroupApi,
  ListGroupsApi,
  ListOffsetsApi,
  ListPartitionReassignmentsApi,
  MetadataApi,
  OffsetCommitApi,
  OffsetFetchApi,
  ProduceApi,
  SaslAuthenticateApi,
  SaslHandshakeApi,
  SyncGroupApi,
  TxnOffsetCommitApi,
} from '../../src/protocol/messages/index.js';
import type {
  ApiVersionsResponse,
  FetchResponse,
  FindCoordinatorResponse,
  JoinGroupResponse,
  ListOffsetsResponse,
  MetadataResponse,
  ProduceRequest,
  ProduceResponse,
} from '../../src/protocol/messages/index.js';
import { MESSAGE_SCHEMAS } from '../../src/protocol/messages/schema.js';
import {
  ControlRecordType,
  RecordBatchView,
  buildControlBatch,
  buildRecordBatch,
  readRecords,
  type KafkaRecord,
  type RecordInput,
} from '../../src/protocol/record-batch.js';

// ---- kafkajs internals (untyped CommonJS): the minimal shapes these tests use ----------------

const require = createRequire(import.meta.url);

interface KafkajsEncoder {
  readonly buffer: Buffer;
  size(): number;
}
interface KafkajsDecoder {
  buffer: Buffer;
  offset: number;
}
interface KafkajsRequest {
  apiKey: number;
  apiVersion: number;
  apiName: string;
  encode(): Promise<KafkajsEncoder>;
}
interface KafkajsResponse {
  decode(payload: Buffer): Promise<unknown>;
  parse(decoded: unknown): Promise<unknown>;
}
interface KafkajsRequestDefinitions {
  versions: string[];
  protocol(options: { version: number }): (args?: unknown) => { request: KafkajsRequest; response: KafkajsResponse };
}
interface KafkajsCodec {
  compress(encoder: KafkajsEncoder): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}
interface KafkajsRecord {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | null | (Buffer | null)[]>;
  isControlRecord: boolean;
  magicByte: number;
}
interface KafkajsRecordBatch {
  firstOffset: string;
  firstTimestamp: string;
  maxTimestamp: string;
  partitionLeaderEpoch: number;
  inTransaction: boolean;
  isControlBatch: boolean;
  lastOffsetDelta: number;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  records: KafkajsRecord[];
}
interface KafkajsRecordBatchOptions {
  compression: number;
  firstOffset: string;
  firstTimestamp: number;
  maxTimestamp: number;
  partitionLeaderEpoch: number;
  lastOffsetDelta: number;
  transactional: boolean;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  records: KafkajsEncoder[];
}
type KafkajsHeaders = Record<string, Buffer | Buffer[]>;

const { requests: kafkajsRequests } = require('kafkajs/src/protocol/requests') as {
  requests: Record<string, KafkajsRequestDefinitions>;
};
const kafkajsCreateRequest = require('kafkajs/src/protocol/request') as (options: {
  correlationId: number;
  clientId: string;
  request: KafkajsRequest;
}) => Promise<KafkajsEncoder>;
const KafkajsDecoderClass = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => KafkajsDecoder;
const { RecordBatch: kafkajsRecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (options: KafkajsRecordBatchOptions) => Promise<KafkajsEncoder>;
};
const kafkajsRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (options: {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: KafkajsHeaders;
}) => KafkajsEncoder;
const kafkajsRecordBatchDecoder = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (
  decoder: KafkajsDecoder,
) => Promise<KafkajsRecordBatch>;
const kafkajsCrc32c = require('kafkajs/src/protocol/recordBatch/crc32C') as (buffer: Buffer) => number;
const kafkajsCompression = require('kafkajs/src/protocol/message/compression') as {
  Types: { None: number; GZIP: number; Snappy: number; LZ4: number; ZSTD: number };
  Codecs: Record<number, () => KafkajsCodec>;
};
const kafkajsPlainSasl = require('kafkajs/src/protocol/sasl/plain/request') as (options: {
  username: string;
  password: string;
}) => { encode(): Promise<Buffer> };
const kafkajsSnappyCodec = require('kafkajs-snappy') as () => KafkajsCodec;
const lz4js = require('lz4js') as { compress(src: Uint8Array): Uint8Array; decompress(src: Uint8Array): Uint8Array };

function asBuffer(u8: Uint8Array): Buffer {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

// kafkajs-snappy (snappyjs) compresses to raw snappy and decompresses both raw snappy and the
// xerial framing that Java clients (and our builder) write. lz4js writes LZ4 frames with linked
// 4 MiB blocks; fzstd only decompresses, so kafkajs cannot produce zstd batches here.
const { Types: KafkajsTypes, Codecs: kafkajsCodecs } = kafkajsCompression;
kafkajsCodecs[KafkajsTypes.Snappy] = kafkajsSnappyCodec;
kafkajsCodecs[KafkajsTypes.LZ4] = () => ({
  compress: async (encoder) => asBuffer(lz4js.compress(encoder.buffer)),
  decompress: async (buffer) => asBuffer(lz4js.decompress(buffer)),
});
kafkajsCodecs[KafkajsTypes.ZSTD] = () => ({
  compress: async () => {
    throw new Error('no independent zstd compressor is available to these tests');
  },
  decompress: async (buffer) => asBuffer(fzstdDecompress(buffer)),
});

// ---- helpers ------------------------------------------------------------------------------

const CLIENT_ID = 'kafkajs-compat-ü';

/**
 * Asserts that every field of `expected` is present in `actual` with the same value, recursing
 * into objects; arrays must have the same length and Buffers the same bytes. Fields that
 * `expected` leaves out (those absent at the version under test) are not compared.
 */
function assertMatch(actual: unknown, expected: unknown, path = '$'): void {
  if (Buffer.isBuffer(expected)) {
    if (!Buffer.isBuffer(actual)) assert.fail(`${path}: expected a Buffer, got ${inspect(actual)}`);
    if (!expected.equals(actual)) assert.fail(`${path}: bytes ${actual.toString('hex')} != ${expected.toString('hex')}`);
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) assert.fail(`${path}: expected an array, got ${inspect(actual)}`);
    assert.equal(actual.length, expected.length, `${path}.length`);
    expected.forEach((e, i) => assertMatch(actual[i], e, `${path}[${i}]`));
    return;
  }
  if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object' && !Array.isArray(actual), `${path}: expected an object`);
    for (const [key, value] of Object.entries(expected)) {
      assert.ok(key in actual, `${path}.${key} is missing`);
      assertMatch((actual as Record<string, unknown>)[key], value, `${path}.${key}`);
    }
    return;
  }
  assert.strictEqual(actual, expected, path);
}

/**
 * The versions that both kafkajs and our codec implement, from the first one that Kafka's specs
 * still define: kafkajs-legacy.test.ts covers the versions restored by scripts/protocol-legacy.json.
 */
function sharedVersions(kafkajsName: string, codec: ApiCodec<unknown, unknown>): number[] {
  const defs = kafkajsRequests[kafkajsName];
  assert.ok(defs !== undefined, `kafkajs has no ${kafkajsName}`);
  const restored = MESSAGE_SCHEMAS.find((s) => s.kind === 'request' && s.apiKey === codec.apiKey)?.restoredVersions;
  const min = restored === undefined ? codec.minVersion : restored[1] + 1;
  return defs.versions
    .map(Number)
    .filter((v) => v >= min && v <= codec.maxVersion)
    .sort((a, b) => a - b);
}

/** Builds a request with kafkajs's protocol table and frames it as its connection does. */
async function kafkajsRequestFrame(kafkajsName: string, version: number, args: unknown, correlationId: number): Promise<Buffer> {
  const { request } = kafkajsRequests[kafkajsName]!.protocol({ version })(args);
  assert.equal(request.apiVersion, version, `kafkajs built ${kafkajsName} v${request.apiVersion}`);
  const framed = (await kafkajsCreateRequest({ correlationId, clientId: CLIENT_ID, request })).buffer;
  assert.equal(framed.readInt32BE(0), framed.length - 4, 'kafkajs size prefix');
  return framed.subarray(4);
}

/**
 * Decodes a request frame with our header reader and codec, which must consume every byte, and
 * checks that our encoder turns the decoded message back into exactly kafkajs's bytes.
 */
function decodeOurs<Req>(codec: ApiCodec<Req, unknown>, version: number, correlationId: number, frame: Buffer): Req {
  const header = readRequestHeader(frame);
  assert.deepEqual(
    [header.apiKey, header.apiVersion, header.correlationId, header.clientId, header.headerVersion],
    [codec.apiKey, version, correlationId, CLIENT_ID, codec.requestHeaderVersion(version)],
    'request header',
  );
  const body = readRequestBody(codec, header, frame);
  const again = Buffer.concat(encodeRequestFrame(codec, version, correlationId, CLIENT_ID, body)).subarray(4);
  if (!again.equals(frame)) {
    assert.fail(`${codec.name} v${version}: our re-encoding differs from kafkajs's bytes\n ours:    ${again.toString('hex')}\n kafkajs: ${frame.toString('hex')}`);
  }
  return body;
}

/**
 * Runs a kafkajs response decoder on `payload` and checks that it read the payload exactly to its
 * end (kafkajs itself ignores trailing bytes, which would hide fields we write in excess). It
 * wraps the Decoder prototype's methods for the duration to record how far reads went.
 */
async function kafkajsDecodeExactly(response: KafkajsResponse, payload: Buffer): Promise<unknown> {
  const proto = KafkajsDecoderClass.prototype as unknown as Record<string, unknown>;
  const originals = new Map<string, (...args: unknown[]) => unknown>();
  let furthest = 0;
  for (const name of Object.getOwnPropertyNames(proto)) {
    const original = proto[name];
    if (name === 'constructor' || typeof original !== 'function') continue;
    const fn = original as (...args: unknown[]) => unknown;
    originals.set(name, fn);
    proto[name] = function (this: KafkajsDecoder, ...args: unknown[]): unknown {
      const result = fn.apply(this, args);
      if (this.buffer === payload) furthest = Math.max(furthest, this.offset);
      return result;
    };
  }
  try {
    const decoded = await response.decode(payload);
    assert.equal(furthest, payload.length, 'kafkajs read the response body exactly to its end');
    // parse() raises for error codes and checks nothing else; every response here carries none.
    return await response.parse(decoded);
  } finally {
    for (const [name, fn] of originals) proto[name] = fn;
  }
}

/** Encodes a response with our codec and returns its body as kafkajs's connection hands it on. */
function ourResponsePayload<Res>(codec: ApiCodec<unknown, Res>, version: number, correlationId: number, body: Res): Buffer {
  const frame = Buffer.concat(encodeResponseFrame(codec, version, correlationId, body));
  assert.equal(frame.readInt32BE(0), frame.length - 4, 'size prefix');
  assert.equal(frame.readInt32BE(4), correlationId, 'correlation id');
  // None of the versions kafkajs decodes here is flexible, so the header is the correlation id.
  assert.equal(codec.responseHeaderVersion(version), 0);
  return frame.subarray(8);
}

function clientThrottle(version: number, flipVersion: number, throttle: number): Record<string, number> {
  // KIP-219: from these versions kafkajs reports the broker's throttle as clientSideThrottleTime.
  return version >= flipVersion ? { throttleTime: 0, clientSideThrottleTime: throttle } : { throttleTime: throttle };
}

// ---- sample records -----------------------------------------------------------------------

interface SampleRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: string; value: Buffer | null }[];
  timestamp: number;
}

const T0 = 1_700_000_000_000;

/** 70 000 bytes: a pseudo-random KiB repeated, so it compresses and spans several codec blocks. */
const BIG_VALUE: Buffer = (() => {
  const block = Buffer.alloc(1024);
  let x = 0x2545f491;
  for (let i = 0; i < block.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    block[i] = x >>> 24;
  }
  const out = Buffer.alloc(70_000);
  for (let i = 0; i < out.length; i += block.length) block.copy(out, i);
  return out;
})();

/** Records that both implementations can encode. Timestamps have 13 digits each because kafkajs sorts them as strings. */
const SAMPLE: SampleRecord[] = [
  {
    key: Buffer.from('key-ü'),
    value: Buffer.from('value-1'),
    headers: [
      { key: 'trace-id', value: Buffer.from('abc') },
      { key: 'dup', value: Buffer.from('x') },
      { key: 'dup', value: Buffer.from('y') },
    ],
    timestamp: T0,
  },
  { key: null, value: Buffer.from([0, 1, 2, 255]), headers: [], timestamp: T0 + 123 },
  { key: Buffer.from('tombstone'), value: null, headers: [{ key: 'ü-empty', value: Buffer.alloc(0) }], timestamp: T0 + 50 },
  { key: null, value: null, headers: [], timestamp: T0 + 7 },
  { key: Buffer.from('big'), value: BIG_VALUE, headers: [{ key: 'size', value: Buffer.from('70000') }], timestamp: T0 + 99 },
];

/**
 * kafkajs cannot encode a null header value (its record size function calls
 * Buffer.byteLength(null) before it checks for null), so this record only goes from us to kafkajs.
 */
const NULL_HEADER_RECORD: SampleRecord = {
  key: Buffer.from('k'),
  value: Buffer.from('v'),
  headers: [
    { key: 'null-header', value: null },
    { key: 'after', value: Buffer.from('z') },
  ],
  timestamp: T0 + 1,
};

function kafkajsHeaders(headers: SampleRecord['headers']): KafkajsHeaders {
  const out: KafkajsHeaders = {};
  for (const { key, value } of headers) {
    assert.ok(value !== null, 'kafkajs cannot encode null header values');
    const previous = out[key];
    out[key] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value];
  }
  return out;
}

/** The headers object kafkajs's record decoder builds: repeated keys collect into arrays. */
function kafkajsDecodedHeaders(headers: SampleRecord['headers']): Record<string, Buffer | null | (Buffer | null)[]> {
  const out: Record<string, Buffer | null | (Buffer | null)[]> = {};
  for (const { key, value } of headers) {
    const previous = out[key];
    out[key] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value];
  }
  return out;
}

function kafkajsMessages(records: SampleRecord[]): { key: Buffer | null; value: Buffer | null; headers: KafkajsHeaders; timestamp: number }[] {
  return records.map((r) => ({ key: r.key, value: r.value, headers: kafkajsHeaders(r.headers), timestamp: r.timestamp }));
}

function ourRecordInputs(records: SampleRecord[]): RecordInput[] {
  return records.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: BigInt(r.timestamp) }));
}

function assertOurRecords(actual: KafkaRecord[], expected: SampleRecord[], baseOffset: bigint): void {
  assert.equal(actual.length, expected.length, 'record count');
  expected.forEach((e, i) => {
    const a = actual[i]!;
    assert.equal(a.offset, baseOffset + BigInt(i), `record ${i} offset`);
    assert.equal(a.timestamp, BigInt(e.timestamp), `record ${i} timestamp`);
    assertMatch(a.key, e.key, `record ${i} key`);
    assertMatch(a.value, e.value, `record ${i} value`);
    assertMatch(a.headers, e.headers, `record ${i} headers`);
    assert.equal(a.control, null, `record ${i} control`);
  });
}

function assertKafkajsRecords(actual: KafkajsRecord[], expected: SampleRecord[], baseOffset: bigint): void {
  assert.equal(actual.length, expected.length, 'record count');
  expected.forEach((e, i) => {
    const a = actual[i]!;
    assert.equal(a.magicByte, 2, `record ${i} magic`);
    assert.equal(a.offset, String(baseOffset + BigInt(i)), `record ${i} offset`);
    assert.equal(a.timestamp, String(e.timestamp), `record ${i} timestamp`);
    assertMatch(a.key, e.key, `record ${i} key`);
    assertMatch(a.value, e.value, `record ${i} value`);
    assert.deepStrictEqual(a.headers, kafkajsDecodedHeaders(e.headers), `record ${i} headers`);
    assert.equal(a.isControlRecord, false, `record ${i} isControlRecord`);
  });
}

/** A batch as kafkajs's producer builds it (its RecordBatch and Record encoders). */
async function kafkajsBatch(records: SampleRecord[], compression: number): Promise<Buffer> {
  const first = Math.min(...records.map((r) => r.timestamp));
  const max = Math.max(...records.map((r) => r.timestamp));
  const batch = await kafkajsRecordBatch({
    compression,
    firstOffset: '1000',
    firstTimestamp: first,
    maxTimestamp: max,
    partitionLeaderEpoch: 4,
    lastOffsetDelta: records.length - 1,
    transactional: true,
    producerId: '9007199254740993',
    producerEpoch: 2,
    firstSequence: 77,
    records: records.map((r, i) =>
      kafkajsRecord({ offsetDelta: i, timestampDelta: r.timestamp - first, key: r.key, value: r.value, headers: kafkajsHeaders(r.headers) }),
    ),
  });
  return batch.buffer;
}

const OUR_CODECS: { name: string; codec: CompressionCodec }[] = [
  { name: 'none', codec: CompressionCodec.None },
  { name: 'gzip', codec: CompressionCodec.Gzip },
  { name: 'snappy', codec: CompressionCodec.Snappy },
  { name: 'lz4', codec: CompressionCodec.Lz4 },
  { name: 'zstd', codec: CompressionCodec.Zstd },
];

async function ourBatch(records: SampleRecord[], codec: CompressionCodec, baseOffset: bigint): Promise<Buffer> {
  return buildRecordBatch({
    records: ourRecordInputs(records),
    baseOffset,
    compression: codec,
    producerId: 4242n,
    producerEpoch: 9,
    baseSequence: 31,
    partitionLeaderEpoch: 6,
  });
}

// ---- requests: kafkajs encodes, we decode -------------------------------------------------

interface RequestCase {
  kafkajs: string;
  codec: ApiCodec<unknown, unknown>;
  label?: string;
  /** Limits the case to some of the shared versions. */
  versionFilter?: (version: number) => boolean;
  args: (version: number) => unknown;
  expected: (version: number) => Record<string, unknown>;
}

const GROUP = 'group-ü';
const TXN = 'txn-ü';
const PRODUCER_ID = '9007199254740993';
const ASSIGNMENT = Buffer.from([0, 1, 0, 0, 0, 1, 0, 6, 111, 114, 100, 101, 114, 115, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
const SUBSCRIPTION = Buffer.from([0, 1, 0, 0, 0, 1, 0, 6, 111, 114, 100, 101, 114, 115, 0, 0, 0, 0]);
const ACL = { resourceType: 2, resourceName: 'orders', resourcePatternType: 3, principal: 'User:alice', host: '*', operation: 3, permissionType: 3 };
const ACL_FILTER = {
  resourceTypeFilter: 2,
  resourceNameFilter: 'orders',
  patternTypeFilter: 3,
  principalFilter: 'User:alice',
  hostFilter: '*',
  operation: 3,
  permissionType: 3,
};

const REQUEST_CASES: RequestCase[] = [
  {
    kafkajs: 'Fetch',
    codec: FetchApi,
    args: () => ({
      replicaId: -1,
      isolationLevel: 0,
      maxWaitTime: 500,
      minBytes: 1,
      maxBytes: 52_428_800,
      sessionId: 77,
      sessionEpoch: 3,
      forgottenTopics: [{ topic: 'gone', partitions: [4, 5] }],
      rackId: 'rack-a',
      topics: [
        {
          topic: 'orders',
          partitions: [
            { partition: 0, currentLeaderEpoch: 9, fetchOffset: '1234567890123', logStartOffset: '12', maxBytes: 1_048_576 },
            { partition: 3, currentLeaderEpoch: 8, fetchOffset: '0', logStartOffset: '0', maxBytes: 65_536 },
          ],
        },
        { topic: 'audit-ü', partitions: [{ partition: 1, currentLeaderEpoch: 1, fetchOffset: '5', logStartOffset: '2', maxBytes: 100 }] },
      ],
    }),
    expected: (v) => ({
      replicaId: -1,
      maxWaitMs: 500,
      minBytes: 1,
      maxBytes: 52_428_800,
      isolationLevel: 0,
      ...(v >= 7 ? { sessionId: 77, sessionEpoch: 3, forgottenTopicsData: [{ topic: 'gone', partitions: [4, 5] }] } : {}),
      ...(v >= 11 ? { rackId: 'rack-a' } : {}),
      topics: [
        {
          topic: 'orders',
          partitions: [
            { partition: 0, fetchOffset: 1234567890123n, partitionMaxBytes: 1_048_576, ...(v >= 5 ? { logStartOffset: 12n } : {}), ...(v >= 9 ? { currentLeaderEpoch: 9 } : {}) },
            { partition: 3, fetchOffset: 0n, partitionMaxBytes: 65_536, ...(v >= 5 ? { logStartOffset: 0n } : {}), ...(v >= 9 ? { currentLeaderEpoch: 8 } : {}) },
          ],
        },
        {
          topic: 'audit-ü',
          partitions: [{ partition: 1, fetchOffset: 5n, partitionMaxBytes: 100, ...(v >= 5 ? { logStartOffset: 2n } : {}), ...(v >= 9 ? { currentLeaderEpoch: 1 } : {}) }],
        },
      ],
    }),
  },
  {
    kafkajs: 'ListOffsets',
    codec: ListOffsetsApi,
    args: () => ({
      replicaId: -1,
      isolationLevel: 1,
      topics: [
        { topic: 'orders', partitions: [{ partition: 0, timestamp: -1 }, { partition: 5, timestamp: '1700000000000' }] },
        { topic: 'audit', partitions: [{ partition: 1, timestamp: -2 }] },
      ],
    }),
    expected: (v) => ({
      replicaId: -1,
      ...(v >= 2 ? { isolationLevel: 1 } : {}),
      topics: [
        { name: 'orders', partitions: [{ partitionIndex: 0, timestamp: -1n }, { partitionIndex: 5, timestamp: 1_700_000_000_000n }] },
        { name: 'audit', partitions: [{ partitionIndex: 1, timestamp: -2n }] },
      ],
    }),
  },
  {
    kafkajs: 'Metadata',
    codec: MetadataApi,
    args: () => ({ topics: ['orders', 'audit-ü'], allowAutoTopicCreation: false }),
    expected: (v) => ({
      topics: [{ name: 'orders' }, { name: 'audit-ü' }],
      ...(v >= 4 ? { allowAutoTopicCreation: false } : {}),
    }),
  },
  {
    kafkajs: 'Metadata',
    codec: MetadataApi,
    label: 'all topics (null array)',
    versionFilter: (v) => v >= 1,
    args: () => ({ topics: [], allowAutoTopicCreation: true }),
    expected: (v) => ({ topics: null, ...(v >= 4 ? { allowAutoTopicCreation: true } : {}) }),
  },
  {
    kafkajs: 'OffsetCommit',
    codec: OffsetCommitApi,
    args: () => ({
      groupId: GROUP,
      groupGenerationId: 42,
      memberId: 'member-1',
      retentionTime: 86_400_000,
      topics: [
        {
          topic: 'orders',
          partitions: [
            { partition: 0, offset: PRODUCER_ID, metadata: 'meta' },
            { partition: 1, offset: '0', metadata: null },
          ],
        },
      ],
    }),
    expected: (v) => ({
      groupId: GROUP,
      generationIdOrMemberEpoch: 42,
      memberId: 'member-1',
      ...(v <= 4 ? { retentionTimeMs: 86_400_000n } : {}),
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, committedOffset: 9007199254740993n, committedMetadata: 'meta' },
            { partitionIndex: 1, committedOffset: 0n, committedMetadata: null },
          ],
        },
      ],
    }),
  },
  {
    kafkajs: 'OffsetFetch',
    codec: OffsetFetchApi,
    args: () => ({ groupId: GROUP, topics: [{ topic: 'orders', partitions: [{ partition: 0 }, { partition: 3 }] }] }),
    expected: () => ({ groupId: GROUP, topics: [{ name: 'orders', partitionIndexes: [0, 3] }] }),
  },
  {
    kafkajs: 'OffsetFetch',
    codec: OffsetFetchApi,
    label: 'all topics (null array)',
    versionFilter: (v) => v >= 3,
    args: () => ({ groupId: GROUP, topics: [] }),
    expected: () => ({ groupId: GROUP, topics: null }),
  },
  {
    kafkajs: 'GroupCoordinator',
    codec: FindCoordinatorApi,
    args: () => ({ groupId: TXN, coordinatorType: 1 }),
    expected: (v) => ({ key: TXN, ...(v >= 1 ? { keyType: 1 } : {}) }),
  },
  {
    kafkajs: 'JoinGroup',
    codec: JoinGroupApi,
    args: () => ({
      groupId: GROUP,
      sessionTimeout: 30_000,
      rebalanceTimeout: 60_000,
      memberId: '',
      groupInstanceId: 'instance-1',
      protocolType: 'consumer',
      groupProtocols: [
        { name: 'RoundRobinAssigner', metadata: SUBSCRIPTION },
        { name: 'range', metadata: Buffer.alloc(0) },
      ],
    }),
    expected: (v) => ({
      groupId: GROUP,
      sessionTimeoutMs: 30_000,
      ...(v >= 1 ? { rebalanceTimeoutMs: 60_000 } : {}),
      memberId: '',
      ...(v >= 5 ? { groupInstanceId: 'instance-1' } : {}),
      protocolType: 'consumer',
      protocols: [
        { name: 'RoundRobinAssigner', metadata: SUBSCRIPTION },
        { name: 'range', metadata: Buffer.alloc(0) },
      ],
    }),
  },
  {
    kafkajs: 'Heartbeat',
    codec: HeartbeatApi,
    args: () => ({ groupId: GROUP, groupGenerationId: 42, memberId: 'member-1', groupInstanceId: 'instance-1' }),
    expected: (v) => ({ groupId: GROUP, generationId: 42, memberId: 'member-1', ...(v >= 3 ? { groupInstanceId: 'instance-1' } : {}) }),
  },
  {
    kafkajs: 'LeaveGroup',
    codec: LeaveGroupApi,
    args: () => ({ groupId: GROUP, memberId: 'member-1', groupInstanceId: 'instance-1' }),
    expected: (v) =>
      v >= 3
        ? { groupId: GROUP, members: [{ memberId: 'member-1', groupInstanceId: 'instance-1' }] }
        : { groupId: GROUP, memberId: 'member-1' },
  },
  {
    kafkajs: 'SyncGroup',
    codec: SyncGroupApi,
    args: () => ({
      groupId: GROUP,
      generationId: 42,
      memberId: 'member-1',
      groupInstanceId: 'instance-1',
      groupAssignment: [
        { memberId: 'member-1', memberAssignment: ASSIGNMENT },
        { memberId: 'member-2', memberAssignment: Buffer.alloc(0) },
      ],
    }),
    expected: (v) => ({
      groupId: GROUP,
      generationId: 42,
      memberId: 'member-1',
      ...(v >= 3 ? { groupInstanceId: 'instance-1' } : {}),
      assignments: [
        { memberId: 'member-1', assignment: ASSIGNMENT },
        { memberId: 'member-2', assignment: Buffer.alloc(0) },
      ],
    }),
  },
  {
    kafkajs: 'DescribeGroups',
    codec: DescribeGroupsApi,
    args: () => ({ groupIds: ['g1', GROUP] }),
    expected: () => ({ groups: ['g1', GROUP] }),
  },
  { kafkajs: 'ListGroups', codec: ListGroupsApi, args: () => undefined, expected: () => ({}) },
  {
    kafkajs: 'SaslHandshake',
    codec: SaslHandshakeApi,
    args: () => ({ mechanism: 'SCRAM-SHA-512' }),
    expected: () => ({ mechanism: 'SCRAM-SHA-512' }),
  },
  { kafkajs: 'ApiVersions', codec: ApiVersionsApi, args: () => undefined, expected: () => ({}) },
  {
    kafkajs: 'CreateTopics',
    codec: CreateTopicsApi,
    args: () => ({
      topics: [
        {
          topic: 'new-topic',
          numPartitions: 3,
          replicationFactor: 2,
          configEntries: [
            { name: 'cleanup.policy', value: 'compact' },
            { name: 'retention.ms', value: null },
          ],
        },
        {
          topic: 'assigned',
          replicaAssignment: [
            { partition: 0, replicas: [1, 2] },
            { partition: 1, replicas: [2, 3] },
          ],
        },
      ],
      validateOnly: true,
      timeout: 15_000,
    }),
    expected: () => ({
      topics: [
        {
          name: 'new-topic',
          numPartitions: 3,
          replicationFactor: 2,
          assignments: [],
          configs: [
            { name: 'cleanup.policy', value: 'compact' },
            { name: 'retention.ms', value: null },
          ],
        },
        {
          name: 'assigned',
          numPartitions: -1,
          replicationFactor: -1,
          assignments: [
            { partitionIndex: 0, brokerIds: [1, 2] },
            { partitionIndex: 1, brokerIds: [2, 3] },
          ],
          configs: [],
        },
      ],
      timeoutMs: 15_000,
      validateOnly: true,
    }),
  },
  {
    kafkajs: 'DeleteTopics',
    codec: DeleteTopicsApi,
    args: () => ({ topics: ['a', 'b-ü'], timeout: 7000 }),
    expected: () => ({ topicNames: ['a', 'b-ü'], timeoutMs: 7000 }),
  },
  {
    kafkajs: 'DeleteRecords',
    codec: DeleteRecordsApi,
    args: () => ({
      topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: '123' }, { partition: 2, offset: '-1' }] }],
      timeout: 9000,
    }),
    expected: () => ({
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, offset: 123n }, { partitionIndex: 2, offset: -1n }] }],
      timeoutMs: 9000,
    }),
  },
  {
    kafkajs: 'InitProducerId',
    codec: InitProducerIdApi,
    args: () => ({ transactionalId: TXN, transactionTimeout: 60_000 }),
    expected: () => ({ transactionalId: TXN, transactionTimeoutMs: 60_000 }),
  },
  {
    kafkajs: 'InitProducerId',
    codec: InitProducerIdApi,
    label: 'idempotent (null transactional id)',
    args: () => ({ transactionalId: null, transactionTimeout: 5000 }),
    expected: () => ({ transactionalId: null, transactionTimeoutMs: 5000 }),
  },
  {
    kafkajs: 'AddPartitionsToTxn',
    codec: AddPartitionsToTxnApi,
    args: () => ({ transactionalId: TXN, producerId: PRODUCER_ID, producerEpoch: 3, topics: [{ topic: 'orders', partitions: [0, 1, 5] }] }),
    expected: () => ({
      v3AndBelowTransactionalId: TXN,
      v3AndBelowProducerId: 9007199254740993n,
      v3AndBelowProducerEpoch: 3,
      v3AndBelowTopics: [{ name: 'orders', partitions: [0, 1, 5] }],
    }),
  },
  {
    kafkajs: 'AddOffsetsToTxn',
    codec: AddOffsetsToTxnApi,
    args: () => ({ transactionalId: TXN, producerId: PRODUCER_ID, producerEpoch: 3, groupId: GROUP }),
    expected: () => ({ transactionalId: TXN, producerId: 9007199254740993n, producerEpoch: 3, groupId: GROUP }),
  },
  {
    kafkajs: 'EndTxn',
    codec: EndTxnApi,
    args: () => ({ transactionalId: TXN, producerId: PRODUCER_ID, producerEpoch: 3, transactionResult: true }),
    expected: () => ({ transactionalId: TXN, producerId: 9007199254740993n, producerEpoch: 3, committed: true }),
  },
  {
    kafkajs: 'EndTxn',
    codec: EndTxnApi,
    label: 'abort',
    args: () => ({ transactionalId: TXN, producerId: '1', producerEpoch: 0, transactionResult: false }),
    expected: () => ({ transactionalId: TXN, producerId: 1n, producerEpoch: 0, committed: false }),
  },
  {
    kafkajs: 'TxnOffsetCommit',
    codec: TxnOffsetCommitApi,
    args: () => ({
      transactionalId: TXN,
      groupId: GROUP,
      producerId: PRODUCER_ID,
      producerEpoch: 3,
      topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: '42', metadata: 'm' }, { partition: 1, offset: '43', metadata: null }] }],
    }),
    expected: () => ({
      transactionalId: TXN,
      groupId: GROUP,
      producerId: 9007199254740993n,
      producerEpoch: 3,
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, committedOffset: 42n, committedMetadata: 'm' },
            { partitionIndex: 1, committedOffset: 43n, committedMetadata: null },
          ],
        },
      ],
    }),
  },
  { kafkajs: 'DescribeAcls', codec: DescribeAclsApi, args: () => ACL, expected: () => ACL_FILTER },
  {
    kafkajs: 'DescribeAcls',
    codec: DescribeAclsApi,
    label: 'null filters',
    args: () => ({ ...ACL, resourceType: 1, resourceName: null, resourcePatternType: 1, principal: null, host: null, operation: 1, permissionType: 1 }),
    expected: () => ({
      resourceTypeFilter: 1,
      resourceNameFilter: null,
      patternTypeFilter: 1,
      principalFilter: null,
      hostFilter: null,
      operation: 1,
      permissionType: 1,
    }),
  },
  {
    kafkajs: 'CreateAcls',
    codec: CreateAclsApi,
    args: () => ({ creations: [ACL, { ...ACL, resourceType: 3, resourceName: GROUP, resourcePatternType: 4, operation: 2, permissionType: 2 }] }),
    expected: () => ({
      creations: [
        { ...ACL },
        { ...ACL, resourceType: 3, resourceName: GROUP, resourcePatternType: 4, operation: 2, permissionType: 2 },
      ],
    }),
  },
  {
    kafkajs: 'DeleteAcls',
    codec: DeleteAclsApi,
    args: () => ({ filters: [ACL, { ...ACL, resourceName: 'other', principal: 'User:bob' }] }),
    expected: () => ({ filters: [ACL_FILTER, { ...ACL_FILTER, resourceNameFilter: 'other', principalFilter: 'User:bob' }] }),
  },
  {
    kafkajs: 'DescribeConfigs',
    codec: DescribeConfigsApi,
    args: () => ({
      resources: [
        { type: 2, name: 'orders', configNames: ['retention.ms', 'cleanup.policy'] },
        { type: 4, name: '1', configNames: [] },
      ],
      includeSynonyms: true,
    }),
    expected: () => ({
      resources: [
        { resourceType: 2, resourceName: 'orders', configurationKeys: ['retention.ms', 'cleanup.policy'] },
        { resourceType: 4, resourceName: '1', configurationKeys: null },
      ],
      includeSynonyms: true,
    }),
  },
  {
    kafkajs: 'AlterConfigs',
    codec: AlterConfigsApi,
    args: () => ({
      resources: [
        {
          type: 2,
          name: 'orders',
          configEntries: [
            { name: 'retention.ms', value: '1000' },
            { name: 'cleanup.policy', value: null },
          ],
        },
      ],
      validateOnly: true,
    }),
    expected: () => ({
      resources: [
        {
          resourceType: 2,
          resourceName: 'orders',
          configs: [
            { name: 'retention.ms', value: '1000' },
            { name: 'cleanup.policy', value: null },
          ],
        },
      ],
      validateOnly: true,
    }),
  },
  {
    kafkajs: 'CreatePartitions',
    codec: CreatePartitionsApi,
    args: () => ({
      topicPartitions: [
        { topic: 'orders', count: 6, assignments: [[1, 2], [2, 3]] },
        { topic: 'audit', count: 4 },
      ],
      timeout: 8000,
      validateOnly: true,
    }),
    expected: () => ({
      topics: [
        { name: 'orders', count: 6, assignments: [{ brokerIds: [1, 2] }, { brokerIds: [2, 3] }] },
        { name: 'audit', count: 4, assignments: null },
      ],
      timeoutMs: 8000,
      validateOnly: true,
    }),
  },
  {
    kafkajs: 'DeleteGroups',
    codec: DeleteGroupsApi,
    args: () => ['g1', GROUP],
    expected: () => ({ groupsNames: ['g1', GROUP] }),
  },
  {
    kafkajs: 'AlterPartitionReassignments',
    codec: AlterPartitionReassignmentsApi,
    args: () => ({
      topics: [{ topic: 'orders', partitionAssignment: [{ partition: 0, replicas: [1, 2, 3] }, { partition: 4, replicas: [3] }] }],
      timeout: 3000,
    }),
    expected: () => ({
      timeoutMs: 3000,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, replicas: [1, 2, 3] }, { partitionIndex: 4, replicas: [3] }] }],
    }),
  },
  {
    kafkajs: 'ListPartitionReassignments',
    codec: ListPartitionReassignmentsApi,
    args: () => ({ topics: [{ topic: 'orders', partitions: [0, 1] }], timeout: 3000 }),
    expected: () => ({ timeoutMs: 3000, topics: [{ name: 'orders', partitionIndexes: [0, 1] }] }),
  },
  {
    kafkajs: 'ListPartitionReassignments',
    codec: ListPartitionReassignmentsApi,
    label: 'all topics (null array)',
    args: () => ({ topics: null, timeout: 3000 }),
    expected: () => ({ timeoutMs: 3000, topics: null }),
  },
];

describe('requests encoded by kafkajs decode with our codec', () => {
  let correlationId = 1000;
  for (const c of REQUEST_CASES) {
    const versions = sharedVersions(c.kafkajs, c.codec).filter((v) => c.versionFilter?.(v) ?? true);
    test(`${c.codec.name}${c.label === undefined ? '' : ` (${c.label})`} v${versions.join(', v')}`, async () => {
      assert.ok(versions.length > 0, 'kafkajs and our codec share at least one version');
      for (const v of versions) {
        const id = correlationId++;
        const frame = await kafkajsRequestFrame(c.kafkajs, v, c.args(v), id);
        const decoded = decodeOurs(c.codec, v, id, frame);
        assertMatch(decoded, c.expected(v), `${c.codec.name} v${v}`);
      }
    });
  }

  test('every request that kafkajs and our codec share is covered', () => {
    const covered = new Set(REQUEST_CASES.map((c) => c.codec.apiKey));
    // Produce and SaslAuthenticate have tests of their own below.
    covered.add(ProduceApi.apiKey);
    covered.add(SaslAuthenticateApi.apiKey);
    const apiKeys = require('kafkajs/src/protocol/requests/apiKeys') as Record<string, number>;
    for (const [name, apiKey] of Object.entries(apiKeys)) {
      const defs = kafkajsRequests[name];
      const codec = API_CODECS.get(apiKey);
      if (defs === undefined || codec === undefined || defs.versions.length === 0) continue;
      if (sharedVersions(name, codec).length === 0) continue;
      assert.ok(covered.has(apiKey), `${name} (api key ${apiKey}) has shared versions but no case`);
    }
  });

  test('SaslAuthenticate carrying kafkajs PLAIN auth bytes', async () => {
    // kafkajs hands the SASL mechanism's encoded bytes (already int32-length-prefixed) to the
    // SaslAuthenticate request, which writes them raw: together they form the `bytes` field.
    const authBytes = await kafkajsPlainSasl({ username: 'alice', password: 'pä$$' }).encode();
    for (const v of sharedVersions('SaslAuthenticate', SaslAuthenticateApi)) {
      const frame = await kafkajsRequestFrame('SaslAuthenticate', v, { authBytes }, 7);
      const decoded = decodeOurs(SaslAuthenticateApi, v, 7, frame);
      assertMatch(decoded, { authBytes: Buffer.from('\0alice\0pä$$') }, `SaslAuthenticate v${v}`);
    }
  });

  for (const { label, compression } of [
    { label: 'uncompressed', compression: KafkajsTypes.None },
    { label: 'gzip', compression: KafkajsTypes.GZIP },
    { label: 'snappy (raw)', compression: KafkajsTypes.Snappy },
    { label: 'lz4', compression: KafkajsTypes.LZ4 },
  ]) {
    test(`Produce with ${label} record batches`, async () => {
      const messagesA = SAMPLE;
      const messagesB = [SAMPLE[1]!, SAMPLE[2]!];
      const versions = sharedVersions('Produce', ProduceApi);
      assert.ok(versions.length > 0);
      for (const v of versions) {
        const frame = await kafkajsRequestFrame(
          'Produce',
          v,
          {
            acks: -1,
            timeout: 30_000,
            compression,
            transactionalId: TXN,
            producerId: PRODUCER_ID,
            producerEpoch: 3,
            topicData: [
              {
                topic: 'orders',
                partitions: [
                  { partition: 0, firstSequence: 100, messages: kafkajsMessages(messagesA) },
                  { partition: 7, firstSequence: 0, messages: kafkajsMessages(messagesB) },
                ],
              },
              { topic: 'audit-ü', partitions: [{ partition: 2, firstSequence: 5, messages: kafkajsMessages(messagesB) }] },
            ],
          },
          500 + v,
        );
        const decoded: ProduceRequest = decodeOurs(ProduceApi, v, 500 + v, frame);
        assertMatch(decoded, {
          transactionalId: TXN,
          acks: -1,
          timeoutMs: 30_000,
          topicData: [
            { name: 'orders', partitionData: [{ index: 0 }, { index: 7 }] },
            { name: 'audit-ü', partitionData: [{ index: 2 }] },
          ],
        });
        const partitions = [
          { records: decoded.topicData[0]!.partitionData[0]!.records, sample: messagesA, sequence: 100 },
          { records: decoded.topicData[0]!.partitionData[1]!.records, sample: messagesB, sequence: 0 },
          { records: decoded.topicData[1]!.partitionData[0]!.records, sample: messagesB, sequence: 5 },
        ];
        for (const { records, sample, sequence } of partitions) {
          assert.ok(records !== null, 'records present');
          const view = new RecordBatchView(records);
          assert.equal(view.sizeBytes, records.length, 'one batch fills the records field');
          assert.equal(view.validate(1 << 30), null, 'the batch passes broker validation');
          assert.equal(view.compression, compression as CompressionCodec);
          assert.equal(view.producerId, 9007199254740993n);
          assert.equal(view.producerEpoch, 3);
          assert.equal(view.baseSequence, sequence);
          assert.equal(view.isTransactional, true);
          assertOurRecords(await readRecords(view, 1 << 24, { verifyCrc: true, requireContiguousOffsets: true }), sample, 0n);
        }
      }
    });
  }
});

// ---- responses: we encode, kafkajs decodes ------------------------------------------------

describe('responses encoded by our codec decode with kafkajs', () => {
  test('Metadata', async () => {
    const body: MetadataResponse = {
      throttleTimeMs: 25,
      brokers: [
        { nodeId: 1, host: 'broker-1.example', port: 9092, rack: 'rack-a' },
        { nodeId: 2, host: 'broker-2.example', port: 9093, rack: null },
      ],
      clusterId: 'ferry-cluster',
      controllerId: 1,
      topics: [
        {
          errorCode: 0,
          name: 'orders',
          isInternal: false,
          partitions: [
            { errorCode: 0, partitionIndex: 0, leaderId: 1, leaderEpoch: 5, replicaNodes: [1, 2], isrNodes: [1, 2], offlineReplicas: [] },
            { errorCode: 0, partitionIndex: 1, leaderId: 2, leaderEpoch: 5, replicaNodes: [2, 1], isrNodes: [2], offlineReplicas: [1] },
          ],
        },
        { errorCode: 0, name: '__consumer_offsets', isInternal: true, partitions: [] },
      ],
    };
    const versions = sharedVersions('Metadata', MetadataApi);
    assert.ok(versions.length > 0);
    for (const v of versions) {
      const { response } = kafkajsRequests['Metadata']!.protocol({ version: v })({ topics: [] });
      const decoded = await kafkajsDecodeExactly(response, ourResponsePayload(MetadataApi, v, 11, body));
      const rack = (r: string | null): Record<string, string | null> => (v >= 1 ? { rack: r } : {});
      assert.deepStrictEqual(decoded, {
        ...(v >= 3 ? clientThrottle(v, 6, 25) : {}),
        brokers: [
          { nodeId: 1, host: 'broker-1.example', port: 9092, ...rack('rack-a') },
          { nodeId: 2, host: 'broker-2.example', port: 9093, ...rack(null) },
        ],
        ...(v >= 2 ? { clusterId: 'ferry-cluster' } : {}),
        ...(v >= 1 ? { controllerId: 1 } : {}),
        topicMetadata: [
          {
            topicErrorCode: 0,
            topic: 'orders',
            ...(v >= 1 ? { isInternal: false } : {}),
            partitionMetadata: [
              { partitionErrorCode: 0, partitionId: 0, leader: 1, replicas: [1, 2], isr: [1, 2], ...(v >= 5 ? { offlineReplicas: [] } : {}) },
              { partitionErrorCode: 0, partitionId: 1, leader: 2, replicas: [2, 1], isr: [2], ...(v >= 5 ? { offlineReplicas: [1] } : {}) },
            ],
          },
          { topicErrorCode: 0, topic: '__consumer_offsets', ...(v >= 1 ? { isInternal: true } : {}), partitionMetadata: [] },
        ],
      }, `Metadata v${v}`);
    }
  });

  test('ApiVersions (what a broker announces: our codec ranges)', async () => {
    const apiKeys = [...API_CODECS.values()].map((c) => ({ apiKey: c.apiKey, minVersion: c.minVersion, maxVersion: c.maxVersion }));
    const body: ApiVersionsResponse = { errorCode: 0, apiKeys, throttleTimeMs: 7 };
    const versions = sharedVersions('ApiVersions', ApiVersionsApi);
    assert.ok(versions.length > 0);
    for (const v of versions) {
      const { response } = kafkajsRequests['ApiVersions']!.protocol({ version: v })();
      const decoded = await kafkajsDecodeExactly(response, ourResponsePayload(ApiVersionsApi, v, 12, body));
      assert.deepStrictEqual(decoded, { errorCode: 0, apiVersions: apiKeys, ...(v >= 1 ? clientThrottle(v, 2, 7) : {}) }, `ApiVersions v${v}`);
    }
  });

  test('Produce', async () => {
    const body: ProduceResponse = {
      responses: [
        {
          name: 'orders',
          partitionResponses: [
            { index: 0, errorCode: 0, baseOffset: 9007199254740993n, logAppendTimeMs: -1n, logStartOffset: 5n },
            { index: 7, errorCode: 0, baseOffset: 0n, logAppendTimeMs: 1_700_000_000_000n, logStartOffset: 0n },
          ],
        },
        { name: 'audit-ü', partitionResponses: [{ index: 2, errorCode: 0, baseOffset: 12n, logAppendTimeMs: -1n, logStartOffset: 3n }] },
      ],
      throttleTimeMs: 3,
    };
    const versions = sharedVersions('Produce', ProduceApi);
    assert.ok(versions.length > 0);
    for (const v of versions) {
      const { response } = kafkajsRequests['Produce']!.protocol({ version: v })({ acks: 1, timeout: 100, topicData: [] });
      const decoded = await kafkajsDecodeExactly(response, ourResponsePayload(ProduceApi, v, 13, body));
      const start = (s: string): Record<string, string> => (v >= 5 ? { logStartOffset: s } : {});
      assert.deepStrictEqual(decoded, {
        topics: [
          {
            topicName: 'orders',
            partitions: [
              { partition: 0, errorCode: 0, baseOffset: '9007199254740993', logAppendTime: '-1', ...start('5') },
              { partition: 7, errorCode: 0, baseOffset: '0', logAppendTime: '1700000000000', ...start('0') },
            ],
          },
          { topicName: 'audit-ü', partitions: [{ partition: 2, errorCode: 0, baseOffset: '12', logAppendTime: '-1', ...start('3') }] },
        ],
        ...clientThrottle(v, 6, 3),
      }, `Produce v${v}`);
    }
  });

  test('Fetch carrying record batches of every codec, a control batch and an empty partition', async () => {
    const records = [...SAMPLE, NULL_HEADER_RECORD];
    const perCodec = await Promise.all(OUR_CODECS.map(({ codec }, i) => ourBatch(records, codec, BigInt(1000 * (i + 1)))));
    const control = buildControlBatch({ producerId: 4242n, producerEpoch: 9, type: ControlRecordType.Commit, coordinatorEpoch: 17, timestamp: BigInt(T0), baseOffset: 50n });
    const afterControl = await ourBatch([SAMPLE[0]!], CompressionCodec.None, 51n);
    // Our encoder refuses fields that a version cannot carry, as Kafka's does, so the body
    // sets each field only from the version that introduced it.
    const body = (v: number): FetchResponse => ({
      throttleTimeMs: 9,
      ...(v >= 7 ? { errorCode: 0, sessionId: 123 } : {}),
      responses: [
        {
          topic: 'orders',
          partitions: [
            ...perCodec.map((batch, i) => ({
              partitionIndex: i,
              errorCode: 0,
              highWatermark: 9000n,
              lastStableOffset: 8000n,
              ...(v >= 5 ? { logStartOffset: 10n } : {}),
              abortedTransactions: i === 0 ? [{ producerId: 7n, firstOffset: 1000n }] : [],
              ...(v >= 11 ? { preferredReadReplica: -1 } : {}),
              records: batch,
            })),
            {
              partitionIndex: 5,
              errorCode: 0,
              highWatermark: 52n,
              lastStableOffset: 52n,
              ...(v >= 5 ? { logStartOffset: 0n } : {}),
              abortedTransactions: null,
              ...(v >= 11 ? { preferredReadReplica: 2 } : {}),
              records: Buffer.concat([control, afterControl]),
            },
          ],
        },
        {
          topic: 'empty-ü',
          partitions: [{ partitionIndex: 0, errorCode: 0, highWatermark: 0n, lastStableOffset: 0n, abortedTransactions: [], records: null }],
        },
      ],
    });
    const versions = sharedVersions('Fetch', FetchApi);
    assert.ok(versions.length > 0);
    for (const v of versions) {
      const { response } = kafkajsRequests['Fetch']!.protocol({ version: v })({ maxWaitTime: 100, minBytes: 1, maxBytes: 1000, topics: [] });
      const decoded = (await kafkajsDecodeExactly(response, ourResponsePayload(FetchApi, v, 14, body(v)))) as {
        responses: { topicName: string; partitions: (Record<string, unknown> & { messages: KafkajsRecord[] })[] }[];
      } & Record<string, unknown>;
      assertMatch(decoded, {
        ...(v >= 7 ? { errorCode: 0, sessionId: 123 } : {}),
        ...clientThrottle(v, 8, 9),
      });
      const [orders, empty] = decoded.responses;
      assert.equal(decoded.responses.length, 2);
      assert.equal(orders!.topicName, 'orders');
      assert.equal(orders!.partitions.length, 6);
      for (let i = 0; i < OUR_CODECS.length; i++) {
        const p = orders!.partitions[i]!;
        assertMatch(p, {
          partition: i,
          errorCode: 0,
          highWatermark: '9000',
          lastStableOffset: '8000',
          ...(v >= 5 ? { lastStartOffset: '10' } : {}),
          abortedTransactions: i === 0 ? [{ producerId: '7', firstOffset: '1000' }] : [],
          ...(v >= 11 ? { preferredReadReplica: -1 } : {}),
        }, `Fetch v${v} partition ${i}`);
        assertKafkajsRecords(p.messages, records, BigInt(1000 * (i + 1)));
      }
      const mixed = orders!.partitions[5]!;
      assertMatch(mixed, { partition: 5, abortedTransactions: [], ...(v >= 11 ? { preferredReadReplica: 2 } : {}) });
      assert.equal(mixed.messages.length, 2, 'control record and the record after it');
      assert.equal(mixed.messages[0]!.isControlRecord, true);
      assert.equal(mixed.messages[0]!.offset, '50');
      assertMatch(mixed.messages[0]!.key, Buffer.from([0, 0, 0, 1]));
      assertMatch(mixed.messages[0]!.value, Buffer.from([0, 0, 0, 0, 0, 17]));
      assertKafkajsRecords(mixed.messages.slice(1), [SAMPLE[0]!], 51n);
      assert.equal(empty!.topicName, 'empty-ü');
      assertMatch(empty!.partitions, [{ partition: 0, errorCode: 0, highWatermark: '0', messages: [] }]);
    }
  });

  test('FindCoordinator', async () => {
    const body: FindCoordinatorResponse = { throttleTimeMs: 5, errorCode: 0, errorMessage: null, nodeId: 3, host: 'broker-3.example', port: 9094 };
    const versions = sharedVersions('GroupCoordinator', FindCoordinatorApi);
    assert.ok(versions.length > 0);
    for (const v of versions) {
      const { response } = kafkajsRequests['GroupCoordinator']!.protocol({ version: v })({ groupId: GROUP });
      const decoded = await kafkajsDecodeExactly(response, ourResponsePayload(FindCoordinatorApi, v, 15, body));
      const coordinator = { nodeId: 3, host: 'broker-3.example', port: 9094 };
      assert.deepStrictEqual(
        decoded,
        v === 0 ? { errorCode: 0, coordinator } : { ...clientThrottle(v, 2, 5), errorCode: 0, errorMessage: null, coordinator },
        `FindCoordinator v${v}`,
      );
    }
  });

  test('JoinGroup', async () => {
    const body: JoinGroupResponse = {
      throttleTimeMs: 11,
      errorCode: 0,
      generationId: 42,
      protocolType: 'consumer',
      protocolName: 'RoundRobinAssigner',
      leader: 'member-1',
      memberId: 'member-2',
      members: [
        { memberId: 'member-1', groupInstanceId: 'instance-1', metadata: SUBSCRIPTION },
        { memberId: 'member-2', groupInstanceId: null, metadata: Buffer.alloc(0) },
      ],
    };
    const versions = sharedVersions('JoinGroup', JoinGroupApi);
    assert.ok(versions.length > 0);
    for (const v of versions) {
      const { response } = kafkajsRequests['JoinGroup']!.protocol({ version: v })({ groupId: GROUP, memberId: '', groupProtocols: [] });
      const decoded = await kafkajsDecodeExactly(response, ourResponsePayload(JoinGroupApi, v, 16, body));
      const instance = (id: string | null): Record<string, string | null> => (v >= 5 ? { groupInstanceId: id } : {});
      assertMatch(decoded, {
        ...(v >= 2 ? clientThrottle(v, 3, 11) : {}),
        errorCode: 0,
        generationId: 42,
        groupProtocol: 'RoundRobinAssigner',
        leaderId: 'member-1',
        memberId: 'member-2',
        members: [
          { memberId: 'member-1', ...instance('instance-1'), memberMetadata: SUBSCRIPTION },
          { memberId: 'member-2', ...instance(null), memberMetadata: Buffer.alloc(0) },
        ],
      }, `JoinGroup v${v}`);
    }
  });

  test('ListOffsets', async () => {
    const body: ListOffsetsResponse = {
      throttleTimeMs: 4,
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, errorCode: 0, timestamp: -1n, offset: 1_234_567_890_123n },
            { partitionIndex: 5, errorCode: 0, timestamp: 1_700_000_000_000n, offset: 77n },
          ],
        },
      ],
    };
    const versions = sharedVersions('ListOffsets', ListOffsetsApi);
    assert.ok(versions.length > 0);
    for (const v of versions) {
      const { response } = kafkajsRequests['ListOffsets']!.protocol({ version: v })({ topics: [] });
      const decoded = await kafkajsDecodeExactly(response, ourResponsePayload(ListOffsetsApi, v, 17, body));
      assert.deepStrictEqual(decoded, {
        ...(v >= 2 ? clientThrottle(v, 3, 4) : {}),
        responses: [
          {
            topic: 'orders',
            partitions: [
              { partition: 0, errorCode: 0, timestamp: '-1', offset: '1234567890123' },
              { partition: 5, errorCode: 0, timestamp: '1700000000000', offset: '77' },
            ],
          },
        ],
      }, `ListOffsets v${v}`);
    }
  });
});

// ---- record batches -----------------------------------------------------------------------

describe('record batches built by kafkajs read with our reader', () => {
  for (const { label, compression } of [
    { label: 'uncompressed', compression: KafkajsTypes.None },
    { label: 'gzip', compression: KafkajsTypes.GZIP },
    { label: 'snappy (raw, snappyjs)', compression: KafkajsTypes.Snappy },
    { label: 'lz4 (lz4js frame, linked blocks)', compression: KafkajsTypes.LZ4 },
  ]) {
    test(label, async () => {
      const batch = await kafkajsBatch(SAMPLE, compression);
      const view = new RecordBatchView(batch);
      assert.equal(view.sizeBytes, batch.length);
      assert.equal(view.magic, 2);
      assert.equal(view.crc, crc32c(batch.subarray(21)), 'the stored CRC is the CRC-32C of attributes..end');
      assert.equal(view.isCrcValid(), true);
      assert.equal(view.validate(1 << 30), null, 'the batch passes broker validation');
      assert.equal(view.baseOffset, 1000n);
      assert.equal(view.partitionLeaderEpoch, 4);
      assert.equal(view.compression, compression as CompressionCodec);
      assert.equal(view.isTransactional, true);
      assert.equal(view.isControl, false);
      assert.equal(view.lastOffsetDelta, SAMPLE.length - 1);
      assert.equal(view.recordCount, SAMPLE.length);
      assert.equal(view.baseTimestamp, BigInt(T0));
      assert.equal(view.maxTimestamp, BigInt(T0 + 123));
      assert.equal(view.producerId, 9007199254740993n);
      assert.equal(view.producerEpoch, 2);
      assert.equal(view.baseSequence, 77);
      const records = await readRecords(batch, 1 << 24, { verifyCrc: true, requireContiguousOffsets: true });
      assertOurRecords(records, SAMPLE, 1000n);
    });
  }

  test('a corrupted kafkajs batch fails our CRC check', async () => {
    const batch = await kafkajsBatch([SAMPLE[0]!], KafkajsTypes.None);
    batch[batch.length - 1] ^= 0x01;
    assert.equal(new RecordBatchView(batch).isCrcValid(), false);
    await assert.rejects(readRecords(batch, 1 << 24, { verifyCrc: true }), /crc/);
  });
});

describe('record batches built by us read with kafkajs', () => {
  const records = [...SAMPLE, NULL_HEADER_RECORD];
  for (const { name, codec } of OUR_CODECS) {
    test(name, async () => {
      const batch = await ourBatch(records, codec, 300n);
      assert.equal(kafkajsCrc32c(batch.subarray(21)), batch.readUInt32BE(17), 'kafkajs computes the same CRC-32C');
      const decoded = await kafkajsRecordBatchDecoder(new KafkajsDecoderClass(batch));
      assertMatch(decoded, {
        firstOffset: '300',
        firstTimestamp: String(T0),
        maxTimestamp: String(T0 + 123),
        partitionLeaderEpoch: 6,
        inTransaction: false,
        isControlBatch: false,
        lastOffsetDelta: records.length - 1,
        producerId: '4242',
        producerEpoch: 9,
        firstSequence: 31,
      });
      assertKafkajsRecords(decoded.records, records, 300n);
    });
  }

  test('snappy batches use xerial framing, which kafkajs-snappy unframes', async () => {
    // Guards the meaning of the snappy case above: our builder writes the xerial framing that
    // Java clients expect, and the 70 KB record makes it span several 32 KiB blocks.
    const batch = await ourBatch(records, CompressionCodec.Snappy, 0n);
    const section = batch.subarray(61);
    assert.ok(section.subarray(0, 8).equals(Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00])), 'xerial magic');
    let blocks = 0;
    for (let pos = 16; pos < section.length; pos += 4 + section.readInt32BE(pos)) blocks++;
    assert.ok(blocks >= 3, `${blocks} xerial blocks`);
  });
});

// Cross-checks of the API versions that Kafka 4.0 removed and scripts/protocol-legacy.json
// restores, against kafkajs 2.2.4's own encoders and decoders for those versions
// (node_modules/kafkajs/src/protocol/requests/<api>/v<N>). Requests that kafkajs encodes must
// decode with our codec to the expected fields and re-encode to exactly kafkajs's bytes;
// responses that we encode must be read by kafkajs's decoders exactly to their end. The
// kafkajs internals are loaded as in kafkajs-protocol.test.ts, which covers the versions that
// Kafka still defines.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { inspect } from 'node:util';
import type { ApiCodec } from '../../src/protocol/api-codec.js';
import { CompressionCodec } from '../../src/protocol/compression.js';
import { encodeRequestFrame, encodeResponseFrame, readRequestBody, readRequestHeader } from '../../src/protocol/frame.js';
import { buildMessageSet, decodeMessageSet, type LegacyMagic } from '../../src/protocol/legacy-message-set.js';
import {
  API_CODECS,
  CreateAclsApi,
  CreateTopicsApi,
  DeleteAclsApi,
  DeleteTopicsApi,
  DescribeAclsApi,
  DescribeConfigsApi,
  FetchApi,
  ListOffsetsApi,
  OffsetCommitApi,
  OffsetFetchApi,
  ProduceApi,
} from '../../src/protocol/messages/index.js';
import type { FetchResponse, ProduceRequest } from '../../src/protocol/messages/index.js';
import { MESSAGE_SCHEMAS } from '../../src/protocol/messages/schema.js';

// ---- kafkajs internals (untyped CommonJS) -----------------------------------------------------

const require = createRequire(import.meta.url);

interface KafkajsEncoder {
  readonly buffer: Buffer;
}
interface KafkajsDecoder {
  buffer: Buffer;
  offset: number;
}
interface KafkajsRequest {
  apiKey: number;
  apiVersion: number;
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

const { requests: kafkajsRequests } = require('kafkajs/src/protocol/requests') as { requests: Record<string, KafkajsRequestDefinitions> };
const kafkajsApiKeys = require('kafkajs/src/protocol/requests/apiKeys') as Record<string, number>;
const kafkajsCreateRequest = require('kafkajs/src/protocol/request') as (options: {
  correlationId: number;
  clientId: string;
  request: KafkajsRequest;
}) => Promise<KafkajsEncoder>;
const KafkajsDecoderClass = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => KafkajsDecoder;
const kafkajsTypes = (require('kafkajs/src/protocol/message/compression') as { Types: { None: number; GZIP: number } }).Types;

const CLIENT_ID = 'kafkajs-legacy-ü';

/** The versions that scripts/protocol-legacy.json restored for an API, from the schema data. */
function restoredVersions(codec: ApiCodec<unknown, unknown>): number[] {
  const s = MESSAGE_SCHEMAS.find((x) => x.kind === 'request' && x.apiKey === codec.apiKey);
  if (s?.restoredVersions === undefined) return [];
  const out: number[] = [];
  for (let v = s.restoredVersions[0]; v <= s.restoredVersions[1]; v++) out.push(v);
  return out;
}

/** Restored versions that kafkajs implements as well. */
function legacyVersions(kafkajsName: string, codec: ApiCodec<unknown, unknown>): number[] {
  const theirs = new Set(kafkajsRequests[kafkajsName]!.versions.map(Number));
  return restoredVersions(codec).filter((v) => theirs.has(v));
}

/** Fields of `expected` must be in `actual` with equal values; arrays equal in length; Buffers in bytes. */
function assertMatch(actual: unknown, expected: unknown, path = '$'): void {
  if (Buffer.isBuffer(expected)) {
    if (!Buffer.isBuffer(actual) || !expected.equals(actual)) assert.fail(`${path}: ${inspect(actual)} != ${expected.toString('hex')}`);
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) assert.fail(`${path}: expected an array, got ${inspect(actual)}`);
    assert.equal(actual.length, expected.length, `${path}.length`);
    expected.forEach((e, i) => assertMatch(actual[i], e, `${path}[${i}]`));
    return;
  }
  if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object', `${path}: expected an object, got ${inspect(actual)}`);
    for (const [key, value] of Object.entries(expected)) {
      assert.ok(key in actual, `${path}.${key} is missing`);
      assertMatch((actual as Record<string, unknown>)[key], value, `${path}.${key}`);
    }
    return;
  }
  assert.strictEqual(actual, expected, path);
}

/** A request built by kafkajs and framed as its connection does, without the size prefix. */
async function kafkajsRequestFrame(name: string, version: number, args: unknown, correlationId: number): Promise<Buffer> {
  const { request } = kafkajsRequests[name]!.protocol({ version })(args);
  assert.equal(request.apiVersion, version, `kafkajs built ${name} v${request.apiVersion}`);
  const framed = (await kafkajsCreateRequest({ correlationId, clientId: CLIENT_ID, request })).buffer;
  assert.equal(framed.readInt32BE(0), framed.length - 4, 'kafkajs size prefix');
  return framed.subarray(4);
}

/** Decodes a request frame with our header reader and codec and re-encodes it to the same bytes. */
function decodeOurs<Req>(codec: ApiCodec<Req, unknown>, version: number, correlationId: number, frame: Buffer): Req {
  const header = readRequestHeader(frame);
  assert.deepEqual(
    [header.apiKey, header.apiVersion, header.correlationId, header.clientId, header.headerVersion],
    [codec.apiKey, version, correlationId, CLIENT_ID, 1],
    'request header v1',
  );
  const body = readRequestBody(codec, header, frame);
  const again = Buffer.concat(encodeRequestFrame(codec, version, correlationId, CLIENT_ID, body)).subarray(4);
  if (!again.equals(frame)) assert.fail(`${codec.name} v${version}: our re-encoding differs\n ours:    ${again.toString('hex')}\n kafkajs: ${frame.toString('hex')}`);
  return body;
}

/** Runs a kafkajs response decoder and checks that it read the payload exactly to its end. */
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
    return await response.parse(decoded);
  } finally {
    for (const [name, fn] of originals) proto[name] = fn;
  }
}

/** Our response frame's body, after checking the v0 header (correlation id only). */
function ourResponsePayload<Res>(codec: ApiCodec<unknown, Res>, version: number, correlationId: number, body: Res): Buffer {
  assert.equal(codec.responseHeaderVersion(version), 0, `${codec.name} v${version} response header v0`);
  const frame = Buffer.concat(encodeResponseFrame(codec, version, correlationId, body));
  assert.equal(frame.readInt32BE(0), frame.length - 4, 'size prefix');
  assert.equal(frame.readInt32BE(4), correlationId, 'correlation id');
  return frame.subarray(8);
}

/** What kafkajs's response decoder for `name` v`version` makes of our encoding of `body`. */
async function kafkajsReads(name: string, codec: ApiCodec<unknown, unknown>, version: number, body: unknown, args: unknown): Promise<unknown> {
  const { response } = kafkajsRequests[name]!.protocol({ version })(args);
  return kafkajsDecodeExactly(response, ourResponsePayload(codec, version, 100 + version, body));
}

// ---- cases ------------------------------------------------------------------------------------

const T0 = 1_700_000_000_000;
const GROUP = 'group-ü';
const covered = { request: new Set<string>(), response: new Set<string>() };

interface RequestCase {
  kafkajs: string;
  codec: ApiCodec<unknown, unknown>;
  args: (version: number) => unknown;
  expected: (version: number) => Record<string, unknown>;
}

const REQUEST_CASES: RequestCase[] = [
  {
    kafkajs: 'Fetch',
    codec: FetchApi,
    args: () => ({
      replicaId: -1,
      maxWaitTime: 500,
      minBytes: 1,
      maxBytes: 10_485_760,
      topics: [
        { topic: 'orders', partitions: [{ partition: 0, fetchOffset: '1234567890123', maxBytes: 1_048_576 }, { partition: 3, fetchOffset: '0', maxBytes: 65_536 }] },
        { topic: 'audit-ü', partitions: [{ partition: 1, fetchOffset: '5', maxBytes: 100 }] },
      ],
    }),
    expected: (v) => ({
      replicaId: -1,
      maxWaitMs: 500,
      minBytes: 1,
      // MaxBytes arrived in v3; before, the default (no limit) stands.
      maxBytes: v >= 3 ? 10_485_760 : 0x7fffffff,
      topics: [
        {
          topic: 'orders',
          partitions: [
            { partition: 0, fetchOffset: 1234567890123n, partitionMaxBytes: 1_048_576 },
            { partition: 3, fetchOffset: 0n, partitionMaxBytes: 65_536 },
          ],
        },
        { topic: 'audit-ü', partitions: [{ partition: 1, fetchOffset: 5n, partitionMaxBytes: 100 }] },
      ],
    }),
  },
  {
    kafkajs: 'ListOffsets',
    codec: ListOffsetsApi,
    args: () => ({
      replicaId: -1,
      topics: [
        { topic: 'orders', partitions: [{ partition: 0, timestamp: -1 }, { partition: 5, timestamp: '1700000000000', maxNumOffsets: 7 }] },
        { topic: 'audit', partitions: [{ partition: 1, timestamp: -2 }] },
      ],
    }),
    expected: () => ({
      replicaId: -1,
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, timestamp: -1n, maxNumOffsets: 1 },
            { partitionIndex: 5, timestamp: 1_700_000_000_000n, maxNumOffsets: 7 },
          ],
        },
        { name: 'audit', partitions: [{ partitionIndex: 1, timestamp: -2n, maxNumOffsets: 1 }] },
      ],
    }),
  },
  {
    kafkajs: 'OffsetCommit',
    codec: OffsetCommitApi,
    args: () => ({
      groupId: GROUP,
      groupGenerationId: 42,
      memberId: 'member-1',
      topics: [
        {
          topic: 'orders',
          partitions: [
            { partition: 0, offset: '9007199254740993', timestamp: T0, metadata: 'meta' },
            { partition: 1, offset: '0', timestamp: -1, metadata: null },
          ],
        },
      ],
    }),
    expected: (v) => ({
      groupId: GROUP,
      // v1 added the generation, the member id and the per-partition commit timestamp.
      generationIdOrMemberEpoch: v >= 1 ? 42 : -1,
      memberId: v >= 1 ? 'member-1' : '',
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, committedOffset: 9007199254740993n, commitTimestamp: v === 1 ? BigInt(T0) : -1n, committedMetadata: 'meta' },
            { partitionIndex: 1, committedOffset: 0n, commitTimestamp: -1n, committedMetadata: null },
          ],
        },
      ],
    }),
  },
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
        { topic: 'assigned', replicaAssignment: [{ partition: 0, replicas: [1, 2] }, { partition: 1, replicas: [2, 3] }] },
      ],
      validateOnly: true,
      timeout: 15_000,
    }),
    expected: (v) => ({
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
      validateOnly: v >= 1,
    }),
  },
  {
    kafkajs: 'DeleteTopics',
    codec: DeleteTopicsApi,
    args: () => ({ topics: ['a', 'b-ü'], timeout: 7000 }),
    expected: () => ({ topicNames: ['a', 'b-ü'], timeoutMs: 7000 }),
  },
  {
    kafkajs: 'DescribeConfigs',
    codec: DescribeConfigsApi,
    args: () => ({
      resources: [
        { type: 2, name: 'orders', configNames: ['retention.ms', 'cleanup.policy'] },
        { type: 4, name: '1', configNames: [] },
      ],
    }),
    expected: () => ({
      resources: [
        { resourceType: 2, resourceName: 'orders', configurationKeys: ['retention.ms', 'cleanup.policy'] },
        { resourceType: 4, resourceName: '1', configurationKeys: null },
      ],
      includeSynonyms: false,
    }),
  },
  {
    kafkajs: 'DescribeAcls',
    codec: DescribeAclsApi,
    args: () => ({ resourceType: 2, resourceName: null, principal: 'User:alice', host: null, operation: 3, permissionType: 3 }),
    // v0 has no pattern type: the default, LITERAL (3), stands.
    expected: () => ({ resourceTypeFilter: 2, resourceNameFilter: null, patternTypeFilter: 3, principalFilter: 'User:alice', hostFilter: null, operation: 3, permissionType: 3 }),
  },
  {
    kafkajs: 'CreateAcls',
    codec: CreateAclsApi,
    args: () => ({
      creations: [
        { resourceType: 2, resourceName: 'orders', principal: 'User:alice', host: '*', operation: 3, permissionType: 3 },
        { resourceType: 3, resourceName: GROUP, principal: 'User:bob', host: '10.0.0.1', operation: 2, permissionType: 2 },
      ],
    }),
    expected: () => ({
      creations: [
        { resourceType: 2, resourceName: 'orders', resourcePatternType: 3, principal: 'User:alice', host: '*', operation: 3, permissionType: 3 },
        { resourceType: 3, resourceName: GROUP, resourcePatternType: 3, principal: 'User:bob', host: '10.0.0.1', operation: 2, permissionType: 2 },
      ],
    }),
  },
  {
    kafkajs: 'DeleteAcls',
    codec: DeleteAclsApi,
    args: () => ({ filters: [{ resourceType: 2, resourceName: 'orders', principal: null, host: '*', operation: 1, permissionType: 1 }] }),
    expected: () => ({
      filters: [{ resourceTypeFilter: 2, resourceNameFilter: 'orders', patternTypeFilter: 3, principalFilter: null, hostFilter: '*', operation: 1, permissionType: 1 }],
    }),
  },
];

describe('requests that kafkajs encodes at restored versions decode with our codec', () => {
  let correlationId = 2000;
  for (const c of REQUEST_CASES) {
    const versions = legacyVersions(c.kafkajs, c.codec);
    test(`${c.codec.name} v${versions.join(', v')}`, async () => {
      assert.ok(versions.length > 0, 'kafkajs implements a restored version');
      for (const v of versions) {
        const id = correlationId++;
        const decoded = decodeOurs(c.codec, v, id, await kafkajsRequestFrame(c.kafkajs, v, c.args(v), id));
        assertMatch(decoded, c.expected(v), `${c.codec.name} v${v}`);
        covered.request.add(`${c.codec.apiKey}/${v}`);
      }
    });
  }

  for (const { label, compression } of [
    { label: 'uncompressed', compression: kafkajsTypes.None },
    { label: 'gzip', compression: kafkajsTypes.GZIP },
  ]) {
    test(`Produce v0-v2 carrying kafkajs message sets (${label})`, async () => {
      const versions = legacyVersions('Produce', ProduceApi);
      assert.deepEqual(versions, [0, 1, 2]);
      for (const v of versions) {
        const messages = [
          { key: Buffer.from('key-ü'), value: Buffer.from('value-1'), timestamp: T0 },
          { key: null, value: Buffer.from('value-2'), timestamp: T0 + 5 },
        ];
        // kafkajs compresses only from v2, where it writes magic 1; v0 and v1 carry magic 0.
        if (v < 2 && compression !== kafkajsTypes.None) continue;
        const args = { acks: -1, timeout: 30_000, compression, topicData: [{ topic: 'orders', partitions: [{ partition: 4, messages }] }] };
        const decoded: ProduceRequest = decodeOurs(ProduceApi, v, 600 + v, await kafkajsRequestFrame('Produce', v, args, 600 + v));
        assertMatch(decoded, { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: 'orders', partitionData: [{ index: 4 }] }] });
        const records = decoded.topicData[0]!.partitionData[0]!.records;
        assert.ok(records !== null);
        const set = await decodeMessageSet(records, 1 << 20);
        assert.equal(set.partial, null);
        const magic: LegacyMagic = v === 2 ? 1 : 0;
        assert.deepEqual(
          set.records.map((r) => [r.magic, r.key?.toString() ?? null, r.value?.toString() ?? null, r.timestamp]),
          messages.map((m) => [magic, m.key?.toString() ?? null, m.value.toString(), magic === 1 ? BigInt(m.timestamp) : -1n]),
        );
        assert.equal(set.records[0]!.compression, compression === kafkajsTypes.GZIP ? CompressionCodec.Gzip : CompressionCodec.None);
        covered.request.add(`${ProduceApi.apiKey}/${v}`);
      }
    });
  }

  test('OffsetFetch v0 has v1\'s layout: kafkajs\'s v1 bytes read as v0', async () => {
    // kafkajs implements OffsetFetch from v1 only. The protocol guide gives v0 and v1 the same
    // BNF (group_id [topics name [partition_indexes]]), so the v1 frame with its version field
    // set to 0 is a v0 request.
    assert.deepEqual(restoredVersions(OffsetFetchApi), [0]);
    const frame = Buffer.from(await kafkajsRequestFrame('OffsetFetch', 1, { groupId: GROUP, topics: [{ topic: 'orders', partitions: [{ partition: 0 }, { partition: 3 }] }] }, 77));
    frame.writeInt16BE(0, 2);
    const decoded = decodeOurs(OffsetFetchApi, 0, 77, frame);
    assertMatch(decoded, { groupId: GROUP, topics: [{ name: 'orders', partitionIndexes: [0, 3] }] });
    covered.request.add(`${OffsetFetchApi.apiKey}/0`);
  });
});

// ---- responses ------------------------------------------------------------------------------

describe('responses we encode at restored versions decode with kafkajs', () => {
  test('Produce v0-v2', async () => {
    const body = {
      responses: [
        {
          name: 'orders',
          partitionResponses: [
            { index: 0, errorCode: 0, baseOffset: 9007199254740993n, logAppendTimeMs: BigInt(T0) },
            { index: 7, errorCode: 0, baseOffset: 0n, logAppendTimeMs: -1n },
          ],
        },
        { name: 'audit-ü', partitionResponses: [{ index: 2, errorCode: 0, baseOffset: 12n, logAppendTimeMs: -1n }] },
      ],
      throttleTimeMs: 3,
    };
    for (const v of legacyVersions('Produce', ProduceApi)) {
      // Before v2 there is no log append time; before v1 no throttle time (both ignorable).
      const decoded = await kafkajsReads('Produce', ProduceApi, v, body, { acks: 1, timeout: 100, topicData: [] });
      const partition = (index: number, offset: string, ts: string): Record<string, string | number> => ({
        partition: index,
        errorCode: 0,
        offset,
        ...(v >= 2 ? { timestamp: ts } : {}),
      });
      assert.deepStrictEqual(decoded, {
        topics: [
          { topicName: 'orders', partitions: [partition(0, '9007199254740993', String(T0)), partition(7, '0', '-1')] },
          { topicName: 'audit-ü', partitions: [partition(2, '12', '-1')] },
        ],
        ...(v >= 1 ? { throttleTime: 3 } : {}),
      }, `Produce v${v}`);
      covered.response.add(`${ProduceApi.apiKey}/${v}`);
    }
  });

  test('Fetch v0-v3 carrying legacy message sets (magic 0 for v0-v1, magic 1 for v2-v3)', async () => {
    for (const v of legacyVersions('Fetch', FetchApi)) {
      const magic: LegacyMagic = v >= 2 ? 1 : 0;
      const plain = await buildMessageSet({
        magic,
        messages: [
          { offset: 10n, timestamp: BigInt(T0), key: Buffer.from('k1'), value: Buffer.from('v1') },
          { offset: 11n, timestamp: BigInt(T0 + 1), key: null, value: Buffer.from('v2') },
        ],
      });
      const gzipped = await buildMessageSet({
        magic,
        compression: CompressionCodec.Gzip,
        messages: [
          { offset: 20n, timestamp: BigInt(T0 + 2), key: Buffer.from('k3'), value: Buffer.from('v3') },
          { offset: 21n, timestamp: BigInt(T0 + 3), key: Buffer.from('k4'), value: null },
        ],
      });
      const body: FetchResponse = {
        throttleTimeMs: 9,
        sessionId: 0,
        responses: [
          {
            topic: 'orders',
            partitions: [
              { partitionIndex: 0, errorCode: 0, highWatermark: 12n, records: plain },
              { partitionIndex: 1, errorCode: 0, highWatermark: 22n, records: gzipped },
              { partitionIndex: 2, errorCode: 0, highWatermark: 0n, records: null },
            ],
          },
        ],
      };
      const decoded = (await kafkajsReads('Fetch', FetchApi, v, body, { maxWaitTime: 100, minBytes: 1, maxBytes: 1000, topics: [] })) as {
        throttleTime?: number;
        responses: { topicName: string; partitions: { partition: number; errorCode: number; highWatermark: string; messages: Record<string, unknown>[] }[] }[];
      };
      assert.equal(decoded.throttleTime, v >= 1 ? 9 : undefined, `Fetch v${v} throttle time`);
      assert.equal(decoded.responses.length, 1);
      const [p0, p1, p2] = decoded.responses[0]!.partitions;
      const message = (offset: string, ts: number, key: string | null, value: string | null): Record<string, unknown> => ({
        offset,
        magicByte: magic,
        ...(magic === 1 ? { timestamp: String(ts) } : {}),
        key: key === null ? null : Buffer.from(key),
        value: value === null ? null : Buffer.from(value),
      });
      assertMatch(p0, { partition: 0, errorCode: 0, highWatermark: '12', messages: [message('10', T0, 'k1', 'v1'), message('11', T0 + 1, null, 'v2')] }, `Fetch v${v} p0`);
      assertMatch(p1, { partition: 1, errorCode: 0, highWatermark: '22', messages: [message('20', T0 + 2, 'k3', 'v3'), message('21', T0 + 3, 'k4', null)] }, `Fetch v${v} p1`);
      assertMatch(p2, { partition: 2, errorCode: 0, highWatermark: '0', messages: [] }, `Fetch v${v} p2`);
      covered.response.add(`${FetchApi.apiKey}/${v}`);
    }
  });

  test('ListOffsets v0 (OldStyleOffsets)', async () => {
    const body = {
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, errorCode: 0, oldStyleOffsets: [1_234_567_890_123n, 0n] },
            { partitionIndex: 5, errorCode: 0, oldStyleOffsets: [] },
          ],
        },
      ],
    };
    assert.deepEqual(legacyVersions('ListOffsets', ListOffsetsApi), [0]);
    const decoded = await kafkajsReads('ListOffsets', ListOffsetsApi, 0, body, { replicaId: -1, topics: [] });
    assert.deepStrictEqual(decoded, {
      responses: [
        {
          topic: 'orders',
          partitions: [
            { partition: 0, errorCode: 0, offsets: ['1234567890123', '0'] },
            { partition: 5, errorCode: 0, offsets: [] },
          ],
        },
      ],
    });
    covered.response.add(`${ListOffsetsApi.apiKey}/0`);
  });

  test('OffsetCommit v0-v1', async () => {
    const body = { topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, errorCode: 0 }, { partitionIndex: 1, errorCode: 0 }] }] };
    for (const v of legacyVersions('OffsetCommit', OffsetCommitApi)) {
      const decoded = await kafkajsReads('OffsetCommit', OffsetCommitApi, v, body, { groupId: GROUP, topics: [] });
      assert.deepStrictEqual(decoded, { responses: [{ topic: 'orders', partitions: [{ partition: 0, errorCode: 0 }, { partition: 1, errorCode: 0 }] }] }, `OffsetCommit v${v}`);
      covered.response.add(`${OffsetCommitApi.apiKey}/${v}`);
    }
  });

  test('CreateTopics v0-v1 and DeleteTopics v0', async () => {
    const create = { throttleTimeMs: 0, topics: [{ name: 'b', errorCode: 0, errorMessage: null }, { name: 'a', errorCode: 0, errorMessage: 'ok' }] };
    for (const v of legacyVersions('CreateTopics', CreateTopicsApi)) {
      const decoded = await kafkajsReads('CreateTopics', CreateTopicsApi, v, create, { topics: [] });
      // kafkajs sorts by topic name; v1 added the error message.
      const message = (m: string | null): Record<string, string | null> => (v >= 1 ? { errorMessage: m } : {});
      assert.deepStrictEqual(decoded, { topicErrors: [{ topic: 'a', errorCode: 0, ...message('ok') }, { topic: 'b', errorCode: 0, ...message(null) }] }, `CreateTopics v${v}`);
      covered.response.add(`${CreateTopicsApi.apiKey}/${v}`);
    }
    assert.deepEqual(legacyVersions('DeleteTopics', DeleteTopicsApi), [0]);
    const deleted = await kafkajsReads('DeleteTopics', DeleteTopicsApi, 0, { responses: [{ name: 'x', errorCode: 0 }, { name: 'b-ü', errorCode: 0 }] }, { topics: [] });
    assert.deepStrictEqual(deleted, { topicErrors: [{ topic: 'b-ü', errorCode: 0 }, { topic: 'x', errorCode: 0 }] });
    covered.response.add(`${DeleteTopicsApi.apiKey}/0`);
  });

  test('DescribeConfigs v0 (IsDefault)', async () => {
    const config = (name: string, value: string | null, isDefault: boolean): Record<string, unknown> => ({ name, value, readOnly: false, isDefault, isSensitive: false });
    const body = {
      throttleTimeMs: 2,
      results: [
        { errorCode: 0, errorMessage: null, resourceType: 2, resourceName: 'orders', configs: [config('retention.ms', '604800000', true), config('cleanup.policy', 'compact', false)] },
      ],
    };
    assert.deepEqual(legacyVersions('DescribeConfigs', DescribeConfigsApi), [0]);
    const decoded = await kafkajsReads('DescribeConfigs', DescribeConfigsApi, 0, body, { resources: [] });
    // kafkajs derives a config source from IsDefault for v0: 5 (DEFAULT_CONFIG), or 1 (TOPIC_CONFIG) for a topic's own value.
    assert.deepStrictEqual(decoded, {
      throttleTime: 2,
      resources: [
        {
          errorCode: 0,
          errorMessage: null,
          resourceType: 2,
          resourceName: 'orders',
          configEntries: [
            { configName: 'retention.ms', configValue: '604800000', readOnly: false, isDefault: true, configSource: 5, isSensitive: false },
            { configName: 'cleanup.policy', configValue: 'compact', readOnly: false, isDefault: false, configSource: 1, isSensitive: false },
          ],
        },
      ],
    });
    covered.response.add(`${DescribeConfigsApi.apiKey}/0`);
  });

  test('DescribeAcls, CreateAcls and DeleteAcls v0', async () => {
    const acl = { principal: 'User:alice', host: '*', operation: 3, permissionType: 3 };
    const described = await kafkajsReads('DescribeAcls', DescribeAclsApi, 0, {
      throttleTimeMs: 1,
      errorCode: 0,
      errorMessage: null,
      resources: [{ resourceType: 2, resourceName: 'orders', acls: [acl] }],
    }, {});
    assert.deepStrictEqual(described, { throttleTime: 1, errorCode: 0, errorMessage: null, resources: [{ resourceType: 2, resourceName: 'orders', acls: [acl] }] });
    const created = await kafkajsReads('CreateAcls', CreateAclsApi, 0, { throttleTimeMs: 1, results: [{ errorCode: 0, errorMessage: null }] }, { creations: [] });
    assert.deepStrictEqual(created, { throttleTime: 1, creationResponses: [{ errorCode: 0, errorMessage: null }] });
    const matching = { errorCode: 0, errorMessage: null, resourceType: 2, resourceName: 'orders', ...acl };
    const deleted = await kafkajsReads('DeleteAcls', DeleteAclsApi, 0, {
      throttleTimeMs: 1,
      filterResults: [{ errorCode: 0, errorMessage: null, matchingAcls: [matching] }],
    }, { filters: [] });
    assert.deepStrictEqual(deleted, { throttleTime: 1, filterResponses: [{ errorCode: 0, errorMessage: null, matchingAcls: [matching] }] });
    for (const api of [DescribeAclsApi, CreateAclsApi, DeleteAclsApi]) covered.response.add(`${api.apiKey}/0`);
  });
});

test('every restored version that kafkajs implements is covered both ways', () => {
  const missing: string[] = [];
  for (const [name, apiKey] of Object.entries(kafkajsApiKeys)) {
    const codec = API_CODECS.get(apiKey);
    if (codec === undefined || kafkajsRequests[name] === undefined) continue;
    for (const v of legacyVersions(name, codec)) {
      if (!covered.request.has(`${apiKey}/${v}`)) missing.push(`${codec.name} v${v} request`);
      if (!covered.response.has(`${apiKey}/${v}`)) missing.push(`${codec.name} v${v} response`);
    }
  }
  assert.deepEqual(missing, []);
});

// The API versions that Kafka 4.0 removed and scripts/protocol-legacy.json restores.
//  - Known answers: bytes written by hand from the Kafka 2.8 protocol guide's BNF of each
//    version decode, field by field, to the expected message (with every field the version
//    lacks at its default), and that message encodes back to the same bytes.
//  - Framing: restored versions below the first flexible version use request header v1 and
//    response header v0.
//  - The supplement's guards: entries that no longer fit the specs fail the generator.
// The round-trip and fuzz properties of codec-roundtrip.test.ts and decode-fuzz.test.ts cover
// the restored versions on their own, since the schema data includes them.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { ApiCodec } from '../../src/protocol/api-codec.js';
import { ByteReader, ZERO_UUID } from '../../src/protocol/byte-reader.js';
import { ByteWriter } from '../../src/protocol/byte-writer.js';
import { encodeRequestFrame, encodeResponseFrame, readRequestBody, readRequestHeader, readResponse } from '../../src/protocol/frame.js';
import { decodeMessageSet } from '../../src/protocol/legacy-message-set.js';
import {
  API_CODECS,
  AlterPartitionApi,
  DescribeConfigsApi,
  FetchApi,
  ListOffsetsApi,
  OffsetCommitApi,
  ProduceApi,
} from '../../src/protocol/messages/index.js';
import { MESSAGE_SCHEMAS } from '../../src/protocol/messages/schema.js';
import { EncodeError } from '../../src/protocol/protocol-error.js';
import { LEGACY_SUPPLEMENT, OUTPUT_DIR, drift, generate, specsDir } from '../../scripts/gen-protocol.js';
import { type LegacySupplement, applyLegacy, removedVersionsNote } from '../../scripts/protocol-supplement.js';
import { type RawMessage, stripComments } from '../../scripts/protocol-spec.js';

/** Hex digits, with spaces between fields for reading. */
function hex(...parts: string[]): Buffer {
  return Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex');
}

type Api = ApiCodec<unknown, unknown>;

/** A frame: int32 size of the parts that follow, then the parts. */
function framed(...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

/** Decodes `bytes` as the request or response body at `version`, checks it, and re-encodes it. */
function knownAnswer(api: Api, kind: 'request' | 'response', version: number, bytes: Buffer, expected: unknown): void {
  const r = new ByteReader(bytes);
  const decoded = kind === 'request' ? api.readRequest(version, r) : api.readResponse(version, r);
  r.done(`${api.name} v${version} ${kind}`);
  assert.deepStrictEqual(decoded, expected, `${api.name} v${version} ${kind} decodes field by field`);
  for (const m of [decoded, expected]) {
    const w = new ByteWriter();
    if (kind === 'request') {
      w.allocate(api.sizeRequest(version, m, w));
      api.writeRequest(version, m, w);
    } else {
      w.allocate(api.sizeResponse(version, m, w));
      api.writeResponse(version, m, w);
    }
    const again = w.finishOne();
    assert.ok(again.equals(bytes), `${api.name} v${version} ${kind} re-encodes to the same bytes:\n ours: ${again.toString('hex')}\n want: ${bytes.toString('hex')}`);
  }
}

function encodeBody(api: Api, kind: 'request' | 'response', version: number, m: unknown): Buffer {
  const w = new ByteWriter();
  if (kind === 'request') {
    w.allocate(api.sizeRequest(version, m, w));
    api.writeRequest(version, m, w);
  } else {
    w.allocate(api.sizeResponse(version, m, w));
    api.writeResponse(version, m, w);
  }
  return w.finishOne();
}

// ---- ListOffsets v0 --------------------------------------------------------------------------

// ListOffsets Request (Version: 0) => replica_id [topics]
//   topics => name [partitions]; partitions => partition_index timestamp max_num_offsets
const LIST_OFFSETS_V0_REQUEST = hex(
  'ffffffff', // replica_id -1 (a consumer)
  '00000001', // topics: 1
  '0006 6f7264657273', // name "orders"
  '00000002', // partitions: 2
  '00000000 ffffffffffffffff 00000001', // partition 0, timestamp -1 (latest), max_num_offsets 1
  '00000003 fffffffffffffffe 0000000a', // partition 3, timestamp -2 (earliest), max_num_offsets 10
);

// ListOffsets Response (Version: 0) => [topics]
//   topics => name [partitions]; partitions => partition_index error_code [old_style_offsets]
const LIST_OFFSETS_V0_RESPONSE = hex(
  '00000001', // topics: 1
  '0006 6f7264657273', // name "orders"
  '00000002', // partitions: 2
  '00000000 0000 00000002 000000000000002a 0000000000000000', // partition 0, no error, offsets [42, 0]
  '00000003 0003 00000000', // partition 3, UNKNOWN_TOPIC_OR_PARTITION, offsets []
);

describe('ListOffsets v0 (MaxNumOffsets, OldStyleOffsets)', () => {
  test('request', () => {
    knownAnswer(ListOffsetsApi, 'request', 0, LIST_OFFSETS_V0_REQUEST, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 },
            { partitionIndex: 3, currentLeaderEpoch: -1, timestamp: -2n, maxNumOffsets: 10 },
          ],
        },
      ],
      timeoutMs: 0,
    });
  });

  test('response', () => {
    knownAnswer(ListOffsetsApi, 'response', 0, LIST_OFFSETS_V0_RESPONSE, {
      throttleTimeMs: 0,
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, errorCode: 0, oldStyleOffsets: [42n, 0n], timestamp: -1n, offset: -1n, leaderEpoch: -1 },
            { partitionIndex: 3, errorCode: 3, oldStyleOffsets: [], timestamp: -1n, offset: -1n, leaderEpoch: -1 },
          ],
        },
      ],
    });
  });

  test('frames: request header v1, response header v0', () => {
    const r = new ByteReader(LIST_OFFSETS_V0_REQUEST);
    const request = ListOffsetsApi.readRequest(0, r);
    const frame = Buffer.concat(encodeRequestFrame(ListOffsetsApi, 0, 0x01020304, 'ab', request));
    // api key 2, version 0, correlation id, client id "ab", then the body (no tag buffer)
    assert.ok(frame.equals(framed(hex('0002 0000 01020304 0002 6162'), LIST_OFFSETS_V0_REQUEST)), frame.toString('hex'));
    const header = readRequestHeader(frame.subarray(4));
    assert.deepEqual([header.apiVersion, header.headerVersion, header.clientId], [0, 1, 'ab']);
    assert.deepStrictEqual(readRequestBody(ListOffsetsApi, header, frame.subarray(4)), request);

    const response = ListOffsetsApi.readResponse(0, new ByteReader(LIST_OFFSETS_V0_RESPONSE));
    const out = Buffer.concat(encodeResponseFrame(ListOffsetsApi, 0, 0x01020304, response));
    // correlation id, then directly the body
    assert.ok(out.equals(framed(hex('01020304'), LIST_OFFSETS_V0_RESPONSE)), out.toString('hex'));
    assert.deepStrictEqual(readResponse(ListOffsetsApi, 0, out.subarray(4)), response);
  });

  test('v0 carries offsets only in OldStyleOffsets, v1+ only in Timestamp/Offset', () => {
    const partition = { partitionIndex: 0, errorCode: 0, timestamp: -1n, offset: 5n, leaderEpoch: -1 };
    const response = { throttleTimeMs: 0, topics: [{ name: 't', partitions: [partition] }] };
    assert.throws(() => encodeBody(ListOffsetsApi, 'response', 0, response), (e: unknown) => e instanceof EncodeError && /offset is set but only versions 1\+ carry it/.test(e.message));
    const old = { throttleTimeMs: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 0, errorCode: 0, oldStyleOffsets: [5n] }] }] };
    assert.throws(() => encodeBody(ListOffsetsApi, 'response', 1, old), /oldStyleOffsets is set but only versions 0 carry it/);
    const request = { replicaId: -1, topics: [{ name: 't', partitions: [{ partitionIndex: 0, timestamp: -1n, maxNumOffsets: 3 }] }] };
    assert.throws(() => encodeBody(ListOffsetsApi, 'request', 1, request), /maxNumOffsets is set but only versions 0 carry it/);
    // At their defaults the v0-only fields do not stand in the way of later versions.
    assert.doesNotThrow(() => encodeBody(ListOffsetsApi, 'request', 1, { ...request, topics: [{ name: 't', partitions: [{ partitionIndex: 0, timestamp: -1n, maxNumOffsets: 1 }] }] }));
  });
});

// ---- OffsetCommit v0-v1 ----------------------------------------------------------------------

// OffsetCommit Request (Version: 1) => group_id generation_id member_id [topics]
//   topics => name [partitions]
//   partitions => partition_index committed_offset commit_timestamp committed_metadata
const OFFSET_COMMIT_V1_REQUEST = hex(
  '0002 6731', // group_id "g1"
  '00000005', // generation_id 5
  '0003 6d2d31', // member_id "m-1"
  '00000001', // topics: 1
  '0006 6f7264657273', // name "orders"
  '00000002', // partitions: 2
  '00000000 0000000000000064 0000018bcfe56800 ffff', // partition 0, offset 100, timestamp 1700000000000, metadata null
  '00000001 0000000000000007 ffffffffffffffff 0001 78', // partition 1, offset 7, timestamp -1, metadata "x"
);

// OffsetCommit Request (Version: 0) => group_id [topics]
//   partitions => partition_index committed_offset committed_metadata
const OFFSET_COMMIT_V0_REQUEST = hex('0002 6731', '00000001', '0006 6f7264657273', '00000001', '00000000 0000000000000064 0000');

// OffsetCommit Response (Version: 0 and 1) => [topics]; partitions => partition_index error_code
const OFFSET_COMMIT_V0_V1_RESPONSE = hex('00000001', '0006 6f7264657273', '00000002', '00000000 0000', '00000001 0019');

describe('OffsetCommit v0-v1 (CommitTimestamp)', () => {
  const partition = (index: number, offset: bigint, timestamp: bigint, metadata: string | null): Record<string, unknown> => ({
    partitionIndex: index,
    committedOffset: offset,
    committedLeaderEpoch: -1,
    commitTimestamp: timestamp,
    committedMetadata: metadata,
  });

  test('v1 request', () => {
    knownAnswer(OffsetCommitApi, 'request', 1, OFFSET_COMMIT_V1_REQUEST, {
      groupId: 'g1',
      generationIdOrMemberEpoch: 5,
      memberId: 'm-1',
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [{ name: 'orders', topicId: ZERO_UUID, partitions: [partition(0, 100n, 1_700_000_000_000n, null), partition(1, 7n, -1n, 'x')] }],
    });
  });

  test('v0 request', () => {
    knownAnswer(OffsetCommitApi, 'request', 0, OFFSET_COMMIT_V0_REQUEST, {
      groupId: 'g1',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [{ name: 'orders', topicId: ZERO_UUID, partitions: [partition(0, 100n, -1n, '')] }],
    });
  });

  test('v0 and v1 responses', () => {
    for (const v of [0, 1]) {
      knownAnswer(OffsetCommitApi, 'response', v, OFFSET_COMMIT_V0_V1_RESPONSE, {
        throttleTimeMs: 0,
        topics: [{ name: 'orders', topicId: ZERO_UUID, partitions: [{ partitionIndex: 0, errorCode: 0 }, { partitionIndex: 1, errorCode: 25 }] }],
      });
    }
  });

  test('only v1 carries a commit timestamp', () => {
    const m = { groupId: 'g', generationIdOrMemberEpoch: 1, memberId: 'm', topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 1n, commitTimestamp: 9n, committedMetadata: null }] }] };
    assert.throws(() => encodeBody(OffsetCommitApi, 'request', 2, m), /commitTimestamp is set but only versions 1 carry it/);
    assert.throws(() => encodeBody(OffsetCommitApi, 'request', 0, m), /commitTimestamp is set but only versions 1 carry it/);
  });
});

// ---- Produce v0 ------------------------------------------------------------------------------

// One magic 0 message: offset int64, message_size int32, then crc uint32 (IEEE CRC-32 of the
// rest), magic 0, attributes 0, key int32 -1 (null), value int32 length + bytes.
const MESSAGE_SET_V = hex('0000000000000000 0000000f', 'd20cbff5 00 00 ffffffff 00000001 76'); // offset 0, value "v"
const MESSAGE_SET_HI = hex('0000000000000005 00000010', 'fd6ebddb 00 00 ffffffff 00000002 6869'); // offset 5, value "hi"

// Produce Request (Version: 0) => acks timeout_ms [topic_data]
//   topic_data => name [partition_data]; partition_data => index records
const PRODUCE_V0_REQUEST = Buffer.concat([
  hex('0001', '000003e8', '00000001', '0006 6f7264657273', '00000001', '00000002', '0000001b'), // acks 1, timeout 1000, 1 topic "orders", 1 partition: index 2, records of 27 bytes
  MESSAGE_SET_V,
]);

// Produce Response (Version: 0) => [responses]
//   responses => name [partition_responses]; partition_responses => index error_code base_offset
const PRODUCE_V0_RESPONSE = hex('00000001', '0006 6f7264657273', '00000001', '00000002 0000 000000000000004d');

describe('Produce v0', () => {
  test('request carrying a magic 0 message set', async () => {
    const r = new ByteReader(PRODUCE_V0_REQUEST);
    const m = ProduceApi.readRequest(0, r);
    r.done('Produce v0');
    const records = m.topicData[0]!.partitionData[0]!.records!;
    knownAnswer(ProduceApi as Api, 'request', 0, PRODUCE_V0_REQUEST, {
      transactionalId: null,
      acks: 1,
      timeoutMs: 1000,
      topicData: [{ name: 'orders', topicId: ZERO_UUID, partitionData: [{ index: 2, records }] }],
    });
    assert.ok(records.equals(MESSAGE_SET_V));
    // The message set is intact (its CRC checks out) and holds the one message.
    const decoded = await decodeMessageSet(records, 1 << 20);
    assert.equal(decoded.records.length, 1);
    assert.deepEqual([decoded.records[0]!.offset, decoded.records[0]!.magic, decoded.records[0]!.key, decoded.records[0]!.value?.toString()], [0n, 0, null, 'v']);
  });

  test('response', () => {
    knownAnswer(ProduceApi as Api, 'response', 0, PRODUCE_V0_RESPONSE, {
      responses: [
        {
          name: 'orders',
          topicId: ZERO_UUID,
          partitionResponses: [
            {
              index: 2,
              errorCode: 0,
              baseOffset: 77n,
              logAppendTimeMs: -1n,
              logStartOffset: -1n,
              recordErrors: [],
              errorMessage: null,
              currentLeader: { leaderId: -1, leaderEpoch: -1 },
            },
          ],
        },
      ],
      throttleTimeMs: 0,
      nodeEndpoints: [],
    });
  });

  test('header v1 with the client id, no tag buffer', () => {
    const r = new ByteReader(PRODUCE_V0_REQUEST);
    const m = ProduceApi.readRequest(0, r);
    const frame = Buffer.concat(encodeRequestFrame(ProduceApi, 0, 9, 'c', m));
    assert.ok(frame.equals(framed(hex('0000 0000 00000009 0001 63'), PRODUCE_V0_REQUEST)), frame.toString('hex'));
  });
});

// ---- Fetch v0 --------------------------------------------------------------------------------

// Fetch Request (Version: 0) => replica_id max_wait_ms min_bytes [topics]
//   topics => topic [partitions]; partitions => partition fetch_offset partition_max_bytes
const FETCH_V0_REQUEST = hex('ffffffff', '000001f4', '00000001', '00000001', '0006 6f7264657273', '00000001', '00000002 0000000000000005 00100000');

// Fetch Response (Version: 0) => [responses]
//   responses => topic [partition_responses]
//   partition_responses => partition error_code high_watermark record_set
const FETCH_V0_RESPONSE = Buffer.concat([
  hex('00000001', '0006 6f7264657273', '00000001', '00000002 0000 0000000000000006 0000001c'), // 1 topic "orders", partition 2, no error, high watermark 6, records of 28 bytes
  MESSAGE_SET_HI,
]);

describe('Fetch v0', () => {
  test('request', () => {
    knownAnswer(FetchApi as Api, 'request', 0, FETCH_V0_REQUEST, {
      clusterId: null,
      replicaId: -1,
      replicaState: { replicaId: -1, replicaEpoch: -1n },
      maxWaitMs: 500,
      minBytes: 1,
      maxBytes: 0x7fffffff,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic: 'orders',
          topicId: ZERO_UUID,
          partitions: [
            {
              partition: 2,
              currentLeaderEpoch: -1,
              fetchOffset: 5n,
              lastFetchedEpoch: -1,
              logStartOffset: -1n,
              partitionMaxBytes: 1 << 20,
              replicaDirectoryId: ZERO_UUID,
              highWatermark: 0x7fffffffffffffffn,
            },
          ],
        },
      ],
      forgottenTopicsData: [],
      rackId: '',
    });
  });

  test('response carrying a magic 0 message set', async () => {
    const r = new ByteReader(FETCH_V0_RESPONSE);
    const m = FetchApi.readResponse(0, r);
    r.done('Fetch v0');
    const records = m.responses[0]!.partitions[0]!.records!;
    assert.ok(records.equals(MESSAGE_SET_HI));
    knownAnswer(FetchApi as Api, 'response', 0, FETCH_V0_RESPONSE, {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: [
        {
          topic: 'orders',
          topicId: ZERO_UUID,
          partitions: [
            {
              partitionIndex: 2,
              errorCode: 0,
              highWatermark: 6n,
              lastStableOffset: -1n,
              logStartOffset: -1n,
              divergingEpoch: { epoch: -1, endOffset: -1n },
              currentLeader: { leaderId: -1, leaderEpoch: -1 },
              snapshotId: { endOffset: -1n, epoch: -1 },
              abortedTransactions: [],
              preferredReadReplica: -1,
              records,
            },
          ],
        },
      ],
      nodeEndpoints: [],
    });
    const decoded = await decodeMessageSet(records, 1 << 20);
    assert.deepEqual(decoded.records.map((x) => [x.offset, x.value?.toString()]), [[5n, 'hi']]);
    // v1-v3 add only the throttle time in front.
    const v1 = Buffer.concat([hex('00000000'), FETCH_V0_RESPONSE]);
    for (const v of [1, 2, 3]) assert.ok(encodeBody(FetchApi as Api, 'response', v, { ...m, throttleTimeMs: 0 }).equals(v1), `Fetch v${v}`);
  });
});

// ---- DescribeConfigs v0 ----------------------------------------------------------------------

// DescribeConfigs Response (Version: 0) => throttle_time_ms [results]
//   results => error_code error_message resource_type resource_name [configs]
//   configs => name value read_only is_default is_sensitive
const DESCRIBE_CONFIGS_V0_RESPONSE = hex(
  '00000000', // throttle_time_ms 0
  '00000001', // results: 1
  '0000 ffff 02 0006 6f7264657273', // no error, message null, resource type 2 (topic), "orders"
  '00000001', // configs: 1
  '000c 726574656e74696f6e2e6d73', // name "retention.ms"
  '0009 363034383030303030', // value "604800000"
  '00 01 00', // read_only false, is_default true, is_sensitive false
);

test('DescribeConfigs v0 response (IsDefault)', () => {
  knownAnswer(DescribeConfigsApi as Api, 'response', 0, DESCRIBE_CONFIGS_V0_RESPONSE, {
    throttleTimeMs: 0,
    results: [
      {
        errorCode: 0,
        errorMessage: null,
        resourceType: 2,
        resourceName: 'orders',
        configs: [
          {
            name: 'retention.ms',
            value: '604800000',
            readOnly: false,
            isDefault: true,
            configSource: -1,
            isSensitive: false,
            synonyms: [],
            configType: 0,
            documentation: '',
          },
        ],
      },
    ],
  });
});

// ---- AlterPartition v0 (flexible from v0) -----------------------------------------------------

// AlterPartition Request (Version: 0) => broker_id broker_epoch [topics] TAG_BUFFER
//   topics => topic_name [partitions] TAG_BUFFER
//   partitions => partition_index leader_epoch [new_isr] partition_epoch TAG_BUFFER
const ALTER_PARTITION_V0_REQUEST = hex(
  '00000001 000000000000000a', // broker_id 1, broker_epoch 10
  '02', // topics: compact array of 1
  '07 6f7264657273', // topic_name: compact string "orders"
  '02', // partitions: compact array of 1
  '00000000 00000004 03 00000001 00000002 00000009 00', // partition 0, leader_epoch 4, new_isr [1, 2], partition_epoch 9, tags
  '00', // topic tags
  '00', // message tags
);

test('AlterPartition v0 request (TopicName) uses the flexible header v2', () => {
  knownAnswer(AlterPartitionApi as Api, 'request', 0, ALTER_PARTITION_V0_REQUEST, {
    brokerId: 1,
    brokerEpoch: 10n,
    topics: [
      {
        topicName: 'orders',
        topicId: ZERO_UUID,
        partitions: [{ partitionIndex: 0, leaderEpoch: 4, newIsr: [1, 2], newIsrWithEpochs: [], leaderRecoveryState: 0, partitionEpoch: 9 }],
      },
    ],
  });
  assert.deepEqual([AlterPartitionApi.requestHeaderVersion(0), AlterPartitionApi.responseHeaderVersion(1)], [2, 1]);
});

// ---- the restored versions as a whole --------------------------------------------------------

/** What scripts/protocol-legacy.json restores, by API key. */
const RESTORED: Record<number, [number, number]> = {
  0: [0, 2], // Produce
  1: [0, 3], // Fetch
  2: [0, 0], // ListOffsets
  8: [0, 1], // OffsetCommit
  9: [0, 0], // OffsetFetch
  19: [0, 1], // CreateTopics
  20: [0, 0], // DeleteTopics
  23: [0, 1], // OffsetForLeaderEpoch
  27: [0, 0], // WriteTxnMarkers
  29: [0, 0], // DescribeAcls
  30: [0, 0], // CreateAcls
  31: [0, 0], // DeleteAcls
  32: [0, 0], // DescribeConfigs
  34: [0, 0], // AlterReplicaLogDirs
  35: [0, 0], // DescribeLogDirs
  38: [0, 0], // CreateDelegationToken
  39: [0, 0], // RenewDelegationToken
  40: [0, 0], // ExpireDelegationToken
  41: [0, 0], // DescribeDelegationToken
  56: [0, 1], // AlterPartition
};

test('the schema data records the restored versions of request and response', () => {
  const found: Record<number, [number, number]> = {};
  for (const s of MESSAGE_SCHEMAS) {
    if (s.restoredVersions === undefined) continue;
    assert.ok(s.kind === 'request' || s.kind === 'response', s.name);
    const prev = found[s.apiKey!];
    if (prev !== undefined) assert.deepEqual(prev, [...s.restoredVersions], s.name);
    found[s.apiKey!] = [...s.restoredVersions] as [number, number];
    assert.equal(s.validVersions[0], s.restoredVersions[0], `${s.name} validVersions start at the restored versions`);
  }
  assert.deepEqual(found, RESTORED);
});

test('every API starts at v0, except the share-group APIs whose v0 was early access', () => {
  const notFromZero = [...API_CODECS.values()].filter((api) => api.minVersion !== 0).map((api) => api.name).sort();
  assert.deepEqual(notFromZero, ['ShareAcknowledge', 'ShareFetch', 'ShareGroupDescribe', 'ShareGroupHeartbeat']);
  for (const [key, [lo]] of Object.entries(RESTORED)) assert.equal(API_CODECS.get(Number(key))!.minVersion, lo);
});

test('restored versions below the first flexible version use request header v1 and response header v0', () => {
  for (const [key, [lo, hi]] of Object.entries(RESTORED)) {
    const api = API_CODECS.get(Number(key))!;
    for (let v = lo; v <= hi; v++) {
      const flexible = api.firstFlexibleVersion >= 0 && v >= api.firstFlexibleVersion;
      assert.equal(flexible, api.name === 'AlterPartition', `${api.name} v${v} flexible`);
      assert.equal(api.requestHeaderVersion(v), flexible ? 2 : 1, `${api.name} v${v} request header`);
      assert.equal(api.responseHeaderVersion(v), flexible ? 1 : 0, `${api.name} v${v} response header`);
    }
  }
});

// ---- the supplement's guards -----------------------------------------------------------------

describe('scripts/protocol-supplement.ts refuses entries that do not fit the specs', () => {
  const note = '  // Version 0 was removed in Apache Kafka 4.0, Version 1 is the new baseline.\n';
  const spec = (validVersions = '1-3'): RawMessage => ({
    apiKey: 99,
    type: 'request',
    name: 'TestRequest',
    validVersions,
    flexibleVersions: '3+',
    fields: [
      { name: 'A', type: 'int32', versions: '0+' },
      { name: 'Items', type: '[]Item', versions: '0+', fields: [{ name: 'B', type: 'int64', versions: '0+' }] },
    ],
  });
  const supplement = (edits: LegacySupplement['apis'][number]['request'], restore = '0'): LegacySupplement => ({
    source: 'test',
    apis: [{ api: 'Test', apiKey: 99, restore, request: edits }],
    notRestored: [],
  });

  test('a fitting entry extends validVersions and inserts the field', () => {
    const s = spec();
    const applied = applyLegacy(supplement([{ in: 'Items', after: 'B', insert: { name: 'C', type: 'int8', versions: '0' } }]), 'f', note, s);
    assert.deepEqual(applied, { source: 'test', restoredVersions: [0, 0] });
    assert.equal(s.validVersions, '0-3');
    assert.deepEqual(s.fields![1]!.fields!.map((f) => f.name), ['B', 'C']);
  });

  test('versions that Kafka defines again', () => {
    assert.throws(() => applyLegacy(supplement([]), 'f', note, spec('0-3')), /must end right below/);
  });

  test('a removal note that disagrees with the entry, or is missing', () => {
    assert.throws(() => applyLegacy(supplement([]), 'f', '', spec()), /comments say no versions were removed/);
    assert.throws(() => applyLegacy(supplement([], '0-1'), 'f', note, spec('2-3')), /comments say 0 were removed/);
  });

  test('a removal note without an entry', () => {
    assert.throws(() => applyLegacy({ source: 'test', apis: [], notRestored: [] }, 'f', note, spec()), /restore them or list TestRequest under "notRestored"/);
    assert.equal(applyLegacy({ source: 'test', apis: [], notRestored: [{ spec: 'TestRequest', versions: '0', reason: 'r' }] }, 'f', note, spec()), null);
  });

  test('an inserted field reaching into current versions, existing already, or without its anchor', () => {
    assert.throws(() => applyLegacy(supplement([{ in: '', after: 'A', insert: { name: 'C', type: 'int8', versions: '0-1' } }]), 'f', note, spec()), /reach beyond the restored/);
    assert.throws(() => applyLegacy(supplement([{ in: 'Items', before: 'B', insert: { name: 'B', type: 'int8', versions: '0' } }]), 'f', note, spec()), /already has this field/);
    assert.throws(() => applyLegacy(supplement([{ in: 'Items', after: 'Z', insert: { name: 'C', type: 'int8', versions: '0' } }]), 'f', note, spec()), /no field "Z"/);
    assert.throws(() => applyLegacy(supplement([{ in: 'Nope', after: 'B', insert: { name: 'C', type: 'int8', versions: '0' } }]), 'f', note, spec()), /no field "Nope"/);
  });

  test('a range change is allowed only where Kafka defines nothing', () => {
    const ok = spec();
    ok.fields![0]!.versions = '1+';
    applyLegacy(supplement([{ change: 'A', versions: '0+' }]), 'f', note, ok);
    assert.equal(ok.fields![0]!.versions, '0+');
    assert.throws(() => applyLegacy(supplement([{ change: 'Items.B', versions: '0-1' }]), 'f', note, spec()), /would change versions 1-3/);
  });

  test('removal notes are read from comment lines only', () => {
    assert.deepEqual(removedVersionsNote('// Versions 0-3 were removed in Apache Kafka 4.0, Version 4 is the new baseline.'), [0, 3]);
    assert.equal(removedVersionsNote('  // This request was removed in Apache Kafka 4.0.'), null);
    assert.equal(removedVersionsNote('  // Version 0 was used for early access of KIP-932 in Apache Kafka 4.0 but removed in Apache Kafka 4.1.'), null);
    assert.equal(removedVersionsNote('"about": "Version 0 was removed in Apache Kafka 4.0"'), null);
  });
});

test('the drift check covers the supplement: a changed entry makes the committed code stale', () => {
  const root = specsDir();
  // Like generated-code.test.ts: without the specs this check cannot run, which is a failure.
  assert.ok(existsSync(join(root, 'messages')), `Kafka message specs not found at ${root}; set FERRY_KAFKA_PROTOCOL_DIR`);
  const data = JSON.parse(stripComments(readFileSync(LEGACY_SUPPLEMENT, 'utf8'))) as { apis: Array<{ api: string; response?: unknown[] }> };
  delete data.apis.find((e) => e.api === 'DescribeConfigs')!.response;
  const dir = mkdtempSync(join(tmpdir(), 'ferry-legacy-'));
  try {
    const path = join(dir, 'protocol-legacy.json');
    writeFileSync(path, JSON.stringify(data));
    const problems = drift(root, OUTPUT_DIR, path);
    assert.ok(problems.includes('differs: 32-describe-configs.ts') && problems.includes('differs: schema.ts'), problems.join(', '));
    // Beyond the lines that name the other file: DescribeConfigs v0 lost IsDefault.
    const withoutSources = (text: string): string =>
      text
        .split('\n')
        .filter((l) => !l.startsWith('// Sources:') && !l.startsWith('// Content-SHA256:'))
        .join('\n')
        .replace(/ restored by [^)]*\)/g, ' restored by the supplement)');
    const files = generate(root, path);
    const committed = (name: string): string => readFileSync(join(OUTPUT_DIR, name), 'utf8');
    assert.notEqual(withoutSources(files.get('32-describe-configs.ts')!), withoutSources(committed('32-describe-configs.ts')));
    assert.doesNotMatch(files.get('32-describe-configs.ts')!, /isDefault/);
    assert.equal(withoutSources(files.get('30-create-acls.ts')!), withoutSources(committed('30-create-acls.ts')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

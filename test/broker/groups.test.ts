/**
 * The group APIs over real TCP against a real broker on disk: every version's request shape,
 * commits that survive a restart, the records in __consumer_offsets in Kafka's formats, and lag.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Broker, startBroker } from '../../src/broker/broker.js';
import { decodeOffsetsRecord, OFFSETS_TOPIC, offsetsPartitionFor } from '../../src/broker/groups/offsets-records.js';
import { ByteWriter } from '../../src/protocol/byte-writer.js';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import { ConsumerProtocolAssignmentCodec } from '../../src/protocol/messages/data/consumer-protocol-assignment.js';
import {
  ApiVersionsApi,
  CreateTopicsApi,
  DeleteGroupsApi,
  DeleteTopicsApi,
  DescribeGroupsApi,
  FetchApi,
  FindCoordinatorApi,
  HeartbeatApi,
  JoinGroupApi,
  LeaveGroupApi,
  ListGroupsApi,
  MetadataApi,
  OffsetCommitApi,
  OffsetDeleteApi,
  OffsetFetchApi,
  ProduceApi,
  SyncGroupApi,
} from '../../src/protocol/messages/index.js';
import { buildUncompressedRecordBatch, readRecords, splitRecordBatches } from '../../src/protocol/record-batch.js';
import { WireClient } from './wire-client.js';

const SETTINGS = { 'group.initial.rebalance.delay.ms': 0, 'offsets.topic.num.partitions': 5, 'group.min.session.timeout.ms': 1000 } as const;

function assignmentBytes(partitions: Record<string, number[]>): Buffer {
  const m = { assignedPartitions: Object.entries(partitions).map(([topic, ps]) => ({ topic, partitions: ps })), userData: null };
  const w = new ByteWriter();
  w.allocate(2 + ConsumerProtocolAssignmentCodec.size(0, m, w));
  w.int16(0);
  ConsumerProtocolAssignmentCodec.write(0, m, w);
  return w.finishOne();
}

describe('group APIs over real TCP', () => {
  let dir: string;
  let broker: Broker;
  let client: WireClient;

  const restart = async (): Promise<void> => {
    client.close();
    await broker.close();
    broker = await startBroker({ port: 0, dataDir: dir, log: (m) => process.env.FERRY_TEST_LOG ? console.error(m) : undefined, settings: SETTINGS });
    client = await WireClient.connect(broker.port);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-groups-'));
    broker = await startBroker({ port: 0, dataDir: dir, log: (m) => process.env.FERRY_TEST_LOG ? console.error(m) : undefined, settings: SETTINGS });
    client = await WireClient.connect(broker.port);
    const r = await client.send(CreateTopicsApi, 5, { topics: [{ name: 'orders', numPartitions: 3, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 1000, validateOnly: false });
    assert.equal(r.topics[0]!.errorCode, ErrorCode.NONE);
  });

  after(async () => {
    client.close();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('ApiVersions advertises every group API from v0', async () => {
    const r = await client.send(ApiVersionsApi, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' });
    const ranges = new Map(r.apiKeys.map((k) => [k.apiKey, [k.minVersion, k.maxVersion]]));
    for (const [key, max] of [[8, 8], [9, 8], [10, 4], [11, 9], [12, 4], [13, 5], [14, 5], [15, 5], [16, 5], [42, 2], [47, 0]] as const) {
      assert.deepEqual(ranges.get(key), [0, max], `API ${key}`);
    }
  });

  test('FindCoordinator v4 answers a batch of group ids with this broker', async () => {
    const r = await client.send(FindCoordinatorApi, 4, { keyType: 0, coordinatorKeys: ['a', 'b'] });
    assert.deepEqual(r.coordinators!.map((c) => [c.key, c.nodeId, c.port, c.errorCode]), [['a', 0, broker.port, 0], ['b', 0, broker.port, 0]]);
  });

  test('JoinGroup v0 (no rebalance timeout) through SyncGroup v0 and Heartbeat v0', async () => {
    const j = await client.send(JoinGroupApi, 0, { groupId: 'old', sessionTimeoutMs: 6000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('m') }] });
    assert.equal(j.errorCode, ErrorCode.NONE, 'before v4 no MEMBER_ID_REQUIRED round trip');
    assert.equal(j.generationId, 1);
    assert.equal(j.protocolName, 'range');
    const s = await client.send(SyncGroupApi, 0, { groupId: 'old', generationId: 1, memberId: j.memberId, assignments: [{ memberId: j.memberId, assignment: Buffer.from('a') }] });
    assert.deepEqual([s.errorCode, s.assignment.toString()], [ErrorCode.NONE, 'a']);
    assert.equal((await client.send(HeartbeatApi, 0, { groupId: 'old', generationId: 1, memberId: j.memberId })).errorCode, ErrorCode.NONE);
    assert.equal((await client.send(LeaveGroupApi, 0, { groupId: 'old', memberId: j.memberId })).errorCode, ErrorCode.NONE);
    assert.equal((await client.send(LeaveGroupApi, 0, { groupId: 'old', memberId: j.memberId })).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  });

  test('a consumer group at the newest versions: join, sync, commit, fetch; lag inside the broker', async () => {
    const join1 = await client.send(JoinGroupApi, 9, { groupId: 'g', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('sub') }], reason: null });
    assert.equal(join1.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
    const join2 = await client.send(JoinGroupApi, 9, { groupId: 'g', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: join1.memberId, groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('sub') }], reason: null });
    assert.equal(join2.errorCode, ErrorCode.NONE);
    assert.equal(join2.protocolType, 'consumer');
    const member = join2.memberId;
    const sync = await client.send(SyncGroupApi, 5, { groupId: 'g', generationId: 1, memberId: member, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: member, assignment: assignmentBytes({ orders: [0, 1, 2] }) }] });
    assert.equal(sync.errorCode, ErrorCode.NONE);
    assert.equal(sync.protocolName, 'range');
    const batch = buildUncompressedRecordBatch({ records: Array.from({ length: 10 }, (_, i) => ({ key: null, value: Buffer.from(`v${i}`) })) });
    const produced = await client.send(ProduceApi, 9, { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: 'orders', partitionData: [{ index: 0, records: batch }] }] });
    assert.equal(produced.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE);
    const commit = await client.send(OffsetCommitApi, 8, {
      groupId: 'g',
      generationIdOrMemberEpoch: 1,
      memberId: member,
      groupInstanceId: null,
      topics: [
        { name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 4n, committedLeaderEpoch: 0, committedMetadata: 'half way' }, { partitionIndex: 9, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: null }] },
        { name: 'nope', partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: null }] },
      ],
    });
    assert.deepEqual(
      commit.topics.map((t) => t.partitions.map((p) => p.errorCode)),
      [[ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION], [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]],
    );
    const stale = await client.send(OffsetCommitApi, 8, { groupId: 'g', generationIdOrMemberEpoch: 0, memberId: member, groupInstanceId: null, topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: null }] }] });
    assert.equal(stale.topics[0]!.partitions[0]!.errorCode, ErrorCode.ILLEGAL_GENERATION);
    const fetched = await client.send(OffsetFetchApi, 8, { groups: [{ groupId: 'g', topics: null }, { groupId: 'g', topics: [{ name: 'orders', partitionIndexes: [0, 1] }] }, { groupId: 'unknown', topics: null }], requireStable: true });
    assert.deepEqual(
      fetched.groups!.map((g) => [g.errorCode, g.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.committedOffset, p.committedLeaderEpoch, p.metadata])])]),
      [
        [0, [['orders', [[0, 4n, 0, 'half way']]]]],
        [0, [['orders', [[0, 4n, 0, 'half way'], [1, -1n, -1, '']]]]],
        [0, []],
      ],
    );
    const lag = broker.groupLag('g');
    assert.deepEqual(
      lag.partitions.map((p) => [p.topic, p.partition, p.committedOffset, p.logEndOffset, p.lag, p.memberId]),
      [
        ['orders', 0, 4, 10, 6, member],
        ['orders', 1, -1, 0, null, member],
        ['orders', 2, -1, 0, null, member],
      ],
    );
    assert.equal(lag.totalLag, 6);
    const described = await client.send(DescribeGroupsApi, 5, { groups: ['g', 'missing'], includeAuthorizedOperations: true });
    const [g, missing] = described.groups;
    assert.deepEqual([g!.groupState, g!.protocolType, g!.protocolData, g!.members.length, g!.members[0]!.clientHost], ['Stable', 'consumer', 'range', 1, '/127.0.0.1']);
    assert.equal(g!.members[0]!.memberMetadata.toString(), 'sub');
    assert.deepEqual([missing!.errorCode, missing!.groupState], [ErrorCode.NONE, 'Dead']);
    const listed = await client.send(ListGroupsApi, 4, { statesFilter: ['Stable'] });
    assert.deepEqual(listed.groups.map((x) => [x.groupId, x.groupState]), [['g', 'Stable']]);
    assert.equal((await client.send(DeleteGroupsApi, 2, { groupsNames: ['g'] })).results[0]!.errorCode, ErrorCode.NON_EMPTY_GROUP);
    const offDel = await client.send(OffsetDeleteApi, 0, { groupId: 'g', topics: [{ name: 'orders', partitions: [{ partitionIndex: 0 }] }] });
    assert.equal(offDel.errorCode, ErrorCode.NONE);
    assert.equal(offDel.topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE, 'the metadata "sub" is not a consumer subscription naming orders');
    const left = await client.send(LeaveGroupApi, 5, { groupId: 'g', members: [{ memberId: member, groupInstanceId: null, reason: 'done' }] });
    assert.deepEqual([left.errorCode, left.members!.map((m) => m.errorCode)], [ErrorCode.NONE, [ErrorCode.NONE]]);
  });

  test('commits outside a generation (v2 with retention, v1 with timestamps) and OffsetFetch v1 / v7', async () => {
    const v2 = await client.send(OffsetCommitApi, 2, { groupId: 'manual', generationIdOrMemberEpoch: -1, memberId: '', retentionTimeMs: -1n, topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, committedOffset: 3n, committedMetadata: 'x' }] }] });
    assert.equal(v2.topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
    const v1 = await client.send(OffsetCommitApi, 1, { groupId: 'manual', generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: 'orders', partitions: [{ partitionIndex: 2, committedOffset: 5n, commitTimestamp: -1n, committedMetadata: null }] }] });
    assert.equal(v1.topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
    const f1 = await client.send(OffsetFetchApi, 1, { groupId: 'manual', topics: [{ name: 'orders', partitionIndexes: [1, 2] }] });
    assert.deepEqual(f1.topics!.map((t) => t.partitions.map((p) => [p.partitionIndex, p.committedOffset, p.metadata])), [[[1, 3n, 'x'], [2, 5n, '']]]);
    const f7 = await client.send(OffsetFetchApi, 7, { groupId: 'manual', topics: null, requireStable: true });
    assert.equal(f7.errorCode, ErrorCode.NONE);
    assert.equal(f7.topics![0]!.partitions.length, 2);
  });

  test('__consumer_offsets is an internal topic holding Kafka-format records', async () => {
    const md = await client.send(MetadataApi, 9, { topics: [{ name: OFFSETS_TOPIC }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    const t = md.topics[0]!;
    assert.equal(t.errorCode, ErrorCode.NONE);
    assert.equal(t.isInternal, true);
    assert.equal(t.partitions.length, 5);
    const partition = offsetsPartitionFor('manual', 5);
    const f = await client.send(FetchApi, 12, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic: OFFSETS_TOPIC, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [],
      rackId: '',
    });
    const records = f.responses[0]!.partitions[0]!.records!;
    const decoded = [];
    for (const batch of splitRecordBatches(records).batches) for (const r of await readRecords(batch, 1 << 20)) decoded.push(decodeOffsetsRecord(r.key!, r.value));
    const mine = decoded.filter((d) => d !== null && d.group === 'manual');
    assert.deepEqual(
      mine.map((d) => (d!.type === 'offset' ? [d!.topic, d!.partition, d!.value?.offset, d!.value?.metadata] : null)),
      [['orders', 1, 3n, 'x'], ['orders', 2, 5n, '']],
    );
    const stray = await client.send(ProduceApi, 9, { transactionalId: null, acks: 1, timeoutMs: 1000, topicData: [{ name: OFFSETS_TOPIC, partitionData: [{ index: 0, records: buildUncompressedRecordBatch({ records: [{ key: Buffer.from('k'), value: Buffer.from('v') }] }) }] }] });
    assert.equal(stray.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION, 'clients cannot write to the internal topic');
    // Kafka's key layout: int16 key version (1: offset commit, 2: group metadata), then the key fields.
    const keyVersions = new Set<number>();
    for (const batch of splitRecordBatches(records).batches) for (const r of await readRecords(batch, 1 << 20)) keyVersions.add(r.key!.readInt16BE(0));
    assert.ok([...keyVersions].every((v) => v === 1 || v === 2), `key versions ${[...keyVersions]}`);
    assert.ok(keyVersions.has(1));
  });

  test('committed offsets and stable groups survive a restart; loaded members must keep heartbeating', async () => {
    const join = await client.send(JoinGroupApi, 5, { groupId: 'durable', sessionTimeoutMs: 6000, rebalanceTimeoutMs: 6000, memberId: '', groupInstanceId: 'host-1', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('m') }] });
    assert.equal(join.errorCode, ErrorCode.NONE, 'static members join without MEMBER_ID_REQUIRED');
    await client.send(SyncGroupApi, 3, { groupId: 'durable', generationId: 1, memberId: join.memberId, groupInstanceId: 'host-1', assignments: [{ memberId: join.memberId, assignment: assignmentBytes({ orders: [0] }) }] });
    const c = await client.send(OffsetCommitApi, 7, { groupId: 'durable', generationIdOrMemberEpoch: 1, memberId: join.memberId, groupInstanceId: 'host-1', topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 7n, committedLeaderEpoch: 0, committedMetadata: 'meta' }] }] });
    assert.equal(c.topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
    await restart();
    const f = await client.send(OffsetFetchApi, 6, { groupId: 'durable', topics: [{ name: 'orders', partitionIndexes: [0] }] });
    assert.deepEqual(f.topics!.map((t) => t.partitions.map((p) => [p.committedOffset, p.committedLeaderEpoch, p.metadata])), [[[7n, 0, 'meta']]]);
    const d = (await client.send(DescribeGroupsApi, 4, { groups: ['durable'], includeAuthorizedOperations: false })).groups[0]!;
    assert.deepEqual([d.groupState, d.members.map((m) => [m.memberId, m.groupInstanceId])], ['Stable', [[join.memberId, 'host-1']]]);
    // The static member restarts too: same generation, its assignment back, no rebalance.
    const again = await client.send(JoinGroupApi, 5, { groupId: 'durable', sessionTimeoutMs: 6000, rebalanceTimeoutMs: 6000, memberId: '', groupInstanceId: 'host-1', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('m') }] });
    assert.deepEqual([again.errorCode, again.generationId], [ErrorCode.NONE, 1]);
    const s = await client.send(SyncGroupApi, 3, { groupId: 'durable', generationId: 1, memberId: again.memberId, groupInstanceId: 'host-1', assignments: [] });
    assert.deepEqual(s.assignment, assignmentBytes({ orders: [0] }));
    assert.equal(broker.groupLag('durable').partitions[0]!.memberId, again.memberId);
  });

  test('deleting a topic removes the offsets groups committed for it; __consumer_offsets cannot be deleted', async () => {
    await client.send(CreateTopicsApi, 5, { topics: [{ name: 'brief', numPartitions: 1, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 1000, validateOnly: false });
    const c = await client.send(OffsetCommitApi, 2, { groupId: 'tidy', generationIdOrMemberEpoch: -1, memberId: '', retentionTimeMs: -1n, topics: [{ name: 'brief', partitions: [{ partitionIndex: 0, committedOffset: 1n, committedMetadata: null }] }, { name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 2n, committedMetadata: null }] }] });
    assert.deepEqual(c.topics.map((t) => t.partitions[0]!.errorCode), [ErrorCode.NONE, ErrorCode.NONE]);
    const d = await client.send(DeleteTopicsApi, 5, { topicNames: ['brief', OFFSETS_TOPIC], timeoutMs: 1000 });
    assert.deepEqual(d.responses.map((r) => [r.name, r.errorCode]), [['brief', ErrorCode.NONE], [OFFSETS_TOPIC, ErrorCode.INVALID_TOPIC_EXCEPTION]]);
    await restart();
    const f = await client.send(OffsetFetchApi, 7, { groupId: 'tidy', topics: null, requireStable: false });
    assert.deepEqual(f.topics!.map((t) => t.name), ['orders']);
  });

  test('DeleteGroups removes an empty group with its offsets, durably', async () => {
    const r = await client.send(DeleteGroupsApi, 2, { groupsNames: ['manual', 'never-was', ''] });
    assert.deepEqual(r.results.map((x) => [x.groupId, x.errorCode]), [['manual', ErrorCode.NONE], ['never-was', ErrorCode.GROUP_ID_NOT_FOUND], ['', ErrorCode.INVALID_GROUP_ID]]);
    await restart();
    const f = await client.send(OffsetFetchApi, 7, { groupId: 'manual', topics: null, requireStable: false });
    assert.deepEqual(f.topics, []);
    const listed = await client.send(ListGroupsApi, 0, {});
    assert.ok(!listed.groups.some((g) => g.groupId === 'manual'));
  });
});

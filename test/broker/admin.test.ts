// The admin APIs (CreateTopics, DeleteTopics, CreatePartitions, DeleteRecords, DescribeConfigs,
// AlterConfigs, IncrementalAlterConfigs, DescribeCluster) over real TCP with our wire client,
// then the same operations through kafkajs's admin client.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { type Broker, startBroker } from '../../src/broker/broker.js';
import { ConfigSource, ConfigType } from '../../src/broker/config-entries.js';
import { TOPIC_SETTINGS } from '../../src/broker/topic-config.js';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import {
  AlterConfigsApi,
  ApiVersionsApi,
  CreatePartitionsApi,
  CreateTopicsApi,
  type CreateTopicsRequestCreatableTopic,
  DeleteRecordsApi,
  DeleteTopicsApi,
  DescribeClusterApi,
  DescribeConfigsApi,
  type DescribeConfigsResponseDescribeConfigsResult,
  IncrementalAlterConfigsApi,
  ListOffsetsApi,
  MetadataApi,
  ProduceApi,
} from '../../src/protocol/messages/index.js';
import { buildUncompressedRecordBatch } from '../../src/protocol/record-batch.js';
import { WireClient } from './wire-client.js';

const TOPIC = 2;
const BROKER = 4;
const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';
const SET = 0;
const DELETE = 1;
const APPEND = 2;
const SUBTRACT = 3;

function newTopic(name: string, opts: Partial<CreateTopicsRequestCreatableTopic> = {}): CreateTopicsRequestCreatableTopic {
  return { name, numPartitions: -1, replicationFactor: -1, assignments: [], configs: [], ...opts };
}

function batch(values: string[]): Buffer {
  return buildUncompressedRecordBatch({ records: values.map((v) => ({ key: null, value: Buffer.from(v), headers: [] })), baseTimestamp: BigInt(Date.now()) });
}

function configsOf(r: DescribeConfigsResponseDescribeConfigsResult): Map<string, DescribeConfigsResponseDescribeConfigsResult['configs'][number]> {
  return new Map(r.configs.map((c) => [c.name, c]));
}

describe('admin APIs over real TCP', () => {
  let dir: string;
  let broker: Broker;
  let client: WireClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-admin-'));
    broker = await startBroker({
      port: 0,
      dataDir: dir,
      log: () => undefined,
      settings: { 'num.partitions': 2, 'log.retention.hours': 24 },
    });
    client = await WireClient.connect(broker.port);
  });

  after(async () => {
    client.close();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const metadata = (names: string[]) => client.send(MetadataApi, 9, { topics: names.map((name) => ({ name })), allowAutoTopicCreation: false });
  const describeTopic = async (name: string, version = 4, extra: { includeSynonyms?: boolean; includeDocumentation?: boolean; keys?: string[] | null } = {}) =>
    (
      await client.send(DescribeConfigsApi, version, {
        resources: [{ resourceType: TOPIC, resourceName: name, configurationKeys: extra.keys ?? null }],
        includeSynonyms: extra.includeSynonyms ?? false,
        includeDocumentation: extra.includeDocumentation ?? false,
      })
    ).results[0]!;

  test('ApiVersions advertises the admin APIs from v0', async () => {
    const r = await client.send(ApiVersionsApi, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' });
    const ranges = new Map(r.apiKeys.map((k) => [k.apiKey, [k.minVersion, k.maxVersion]]));
    for (const [key, max] of [[19, 7], [20, 5], [21, 2], [32, 4], [33, 2], [37, 3], [44, 1], [60, 1]] as const) {
      assert.deepEqual(ranges.get(key), [0, max], `API ${key}`);
    }
  });

  test('CreateTopics v7: defaults, configs with their sources, topic id; the topic exists afterwards', async () => {
    const r = await client.send(CreateTopicsApi, 7, {
      topics: [newTopic('orders', { configs: [{ name: 'retention.bytes', value: '1000' }, { name: 'cleanup.policy', value: 'compact, delete' }] })],
      timeoutMs: 5000,
      validateOnly: false,
    });
    const t = r.topics[0]!;
    assert.equal(t.errorCode, ErrorCode.NONE);
    assert.equal(t.errorMessage, null);
    assert.equal(t.numPartitions, 2, 'num.partitions');
    assert.equal(t.replicationFactor, 1);
    assert.notEqual(t.topicId, ZERO_UUID);
    const configs = new Map(t.configs!.map((c) => [c.name, c]));
    assert.deepEqual(configs.get('retention.bytes'), { name: 'retention.bytes', value: '1000', readOnly: false, configSource: ConfigSource.DYNAMIC_TOPIC_CONFIG, isSensitive: false });
    assert.equal(configs.get('cleanup.policy')!.value, 'compact,delete', 'normalized');
    assert.equal(configs.get('segment.bytes')!.configSource, ConfigSource.DEFAULT_CONFIG);
    assert.equal(configs.get('retention.ms')!.value, String(24 * 3_600_000));
    assert.equal(configs.get('retention.ms')!.configSource, ConfigSource.STATIC_BROKER_CONFIG, 'log.retention.hours is set on the broker');
    const md = await metadata(['orders']);
    assert.equal(md.topics[0]!.errorCode, ErrorCode.NONE);
    assert.equal(md.topics[0]!.partitions.length, 2);
    assert.equal(broker.topics.partitionLog('orders', 1)!.config.retentionBytes, 1000, 'the log was opened with the topic config');
  });

  test('CreateTopics errors: exists, bad name, partitions, replication factor, configs, assignments, duplicates', async () => {
    await client.send(CreateTopicsApi, 5, { topics: [newTopic('taken'), newTopic('dot.ted')], timeoutMs: 5000, validateOnly: false });
    const r = await client.send(CreateTopicsApi, 5, {
      topics: [
        newTopic('taken'),
        newTopic('bad name!'),
        newTopic('zero-partitions', { numPartitions: 0 }),
        newTopic('three-replicas', { replicationFactor: 3 }),
        newTopic('zero-replicas', { numPartitions: 1, replicationFactor: 0 }),
        newTopic('bad-config', { configs: [{ name: 'retention.ms', value: 'soon' }] }),
        newTopic('unknown-config', { configs: [{ name: 'no.such.config', value: '1' }] }),
        newTopic('null-config', { configs: [{ name: 'retention.ms', value: null }] }),
        newTopic('twice'),
        newTopic('assigned', { assignments: [{ partitionIndex: 0, brokerIds: [broker.config.nodeId] }, { partitionIndex: 1, brokerIds: [broker.config.nodeId] }, { partitionIndex: 2, brokerIds: [broker.config.nodeId] }] }),
        newTopic('elsewhere', { assignments: [{ partitionIndex: 0, brokerIds: [42] }] }),
        newTopic('both', { numPartitions: 1, assignments: [{ partitionIndex: 0, brokerIds: [broker.config.nodeId] }] }),
        newTopic('twice', { numPartitions: 3 }),
        newTopic('dot_ted'),
      ],
      timeoutMs: 5000,
      validateOnly: false,
    });
    const byName = new Map(r.topics.map((t) => [t.name, t]));
    const code = (name: string) => byName.get(name)!.errorCode;
    assert.equal(code('taken'), ErrorCode.TOPIC_ALREADY_EXISTS);
    assert.match(byName.get('taken')!.errorMessage!, /already exists/);
    assert.equal(code('bad name!'), ErrorCode.INVALID_TOPIC_EXCEPTION);
    assert.equal(code('zero-partitions'), ErrorCode.INVALID_PARTITIONS);
    assert.equal(code('three-replicas'), ErrorCode.INVALID_REPLICATION_FACTOR);
    assert.equal(code('zero-replicas'), ErrorCode.INVALID_REPLICATION_FACTOR);
    assert.equal(code('bad-config'), ErrorCode.INVALID_CONFIG);
    assert.match(byName.get('bad-config')!.errorMessage!, /retention\.ms/);
    assert.equal(code('unknown-config'), ErrorCode.INVALID_CONFIG);
    assert.equal(code('null-config'), ErrorCode.INVALID_CONFIG);
    assert.equal(code('assigned'), ErrorCode.NONE);
    assert.equal(byName.get('assigned')!.numPartitions, 3);
    assert.equal(code('elsewhere'), ErrorCode.INVALID_REPLICA_ASSIGNMENT);
    assert.equal(code('both'), ErrorCode.INVALID_REQUEST);
    assert.equal(code('dot_ted'), ErrorCode.INVALID_TOPIC_EXCEPTION, "collides with 'dot.ted'");
    assert.equal(r.topics.filter((t) => t.name === 'twice').length, 1, 'one result per duplicated name');
    assert.equal(code('twice'), ErrorCode.INVALID_REQUEST);
    assert.equal(byName.get('twice')!.errorMessage, 'Duplicate topic name.');
    assert.equal(byName.get('twice')!.numPartitions, -1);
    const md = await metadata(['twice', 'zero-partitions', 'assigned']);
    assert.deepEqual(
      md.topics.map((t) => [t.name, t.errorCode, t.partitions.length]),
      [['twice', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 0], ['zero-partitions', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 0], ['assigned', ErrorCode.NONE, 3]],
    );
  });

  test('CreateTopics validate_only checks without creating; old versions answer in their shape', async () => {
    const ok = await client.send(CreateTopicsApi, 7, { topics: [newTopic('dry-run', { numPartitions: 4, configs: [{ name: 'retention.ms', value: '1000' }] })], timeoutMs: 5000, validateOnly: true });
    assert.equal(ok.topics[0]!.errorCode, ErrorCode.NONE);
    assert.equal(ok.topics[0]!.numPartitions, 4);
    assert.equal(ok.topics[0]!.topicId, ZERO_UUID);
    assert.equal(ok.topics[0]!.configs!.find((c) => c.name === 'retention.ms')!.configSource, ConfigSource.DYNAMIC_TOPIC_CONFIG);
    const bad = await client.send(CreateTopicsApi, 1, { topics: [newTopic('dry-run', { numPartitions: -5 })], timeoutMs: 5000, validateOnly: true });
    assert.equal(bad.topics[0]!.errorCode, ErrorCode.INVALID_PARTITIONS);
    assert.ok(bad.topics[0]!.errorMessage);
    assert.equal((await metadata(['dry-run'])).topics[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'not created');
    const v0 = await client.send(CreateTopicsApi, 0, { topics: [newTopic('created-v0'), newTopic('created-v0')], timeoutMs: 5000 });
    assert.deepEqual(v0.topics.map((t) => [t.name, t.errorCode]), [['created-v0', ErrorCode.INVALID_REQUEST]]);
    const v0b = await client.send(CreateTopicsApi, 0, { topics: [newTopic('created-v0', { numPartitions: 1 })], timeoutMs: 5000 });
    assert.deepEqual(v0b.topics.map((t) => [t.name, t.errorCode]), [['created-v0', ErrorCode.NONE]]);
    const v4 = await client.send(CreateTopicsApi, 4, { topics: [newTopic('created-v0')], timeoutMs: 5000, validateOnly: false });
    assert.equal(v4.topics[0]!.errorCode, ErrorCode.TOPIC_ALREADY_EXISTS);
  });

  test('DeleteTopics removes topics and their logs; unknown and duplicate names', async () => {
    await client.send(CreateTopicsApi, 7, { topics: [newTopic('doomed'), newTopic('doomed-too')], timeoutMs: 5000, validateOnly: false });
    await client.send(ProduceApi, 9, { transactionalId: null, acks: 1, timeoutMs: 5000, topicData: [{ name: 'doomed', partitionData: [{ index: 0, records: batch(['x']) }] }] });
    assert.ok(existsSync(join(dir, 'doomed-0')));
    const r = await client.send(DeleteTopicsApi, 5, { topicNames: ['doomed', 'never-was', 'doomed-too', 'doomed-too'], timeoutMs: 5000 });
    const byName = new Map(r.responses.map((t) => [t.name, t]));
    assert.equal(r.responses.length, 3);
    assert.deepEqual([byName.get('doomed')!.errorCode, byName.get('doomed')!.errorMessage], [ErrorCode.NONE, null]);
    assert.equal(byName.get('never-was')!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.ok(byName.get('never-was')!.errorMessage);
    assert.deepEqual([byName.get('doomed-too')!.errorCode, byName.get('doomed-too')!.errorMessage], [ErrorCode.INVALID_REQUEST, 'Duplicate topic name.']);
    assert.equal((await metadata(['doomed'])).topics[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.ok(!existsSync(join(dir, 'doomed-0')), 'the partition directory is gone');
    const v0 = await client.send(DeleteTopicsApi, 0, { topicNames: ['doomed-too'], timeoutMs: 5000 });
    assert.deepEqual(v0.responses.map((x) => [x.name, x.errorCode]), [['doomed-too', ErrorCode.NONE]]);
    assert.equal((await metadata(['doomed-too'])).topics[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  test('CreatePartitions grows a topic; not larger, unknown, assignments, validate_only, duplicates', async () => {
    await client.send(CreateTopicsApi, 7, { topics: [newTopic('growing', { numPartitions: 1 })], timeoutMs: 5000, validateOnly: false });
    const node = broker.config.nodeId;
    const dry = await client.send(CreatePartitionsApi, 3, { topics: [{ name: 'growing', count: 5, assignments: null }], timeoutMs: 5000, validateOnly: true });
    assert.equal(dry.results[0]!.errorCode, ErrorCode.NONE);
    assert.equal((await metadata(['growing'])).topics[0]!.partitions.length, 1, 'validate_only changed nothing');
    const r = await client.send(CreatePartitionsApi, 3, {
      topics: [
        { name: 'growing', count: 3, assignments: [{ brokerIds: [node] }, { brokerIds: [node] }] },
        { name: 'no-such-topic', count: 3, assignments: null },
        { name: 'orders', count: 2, assignments: null },
        { name: 'orders', count: 4, assignments: null },
      ],
      timeoutMs: 5000,
      validateOnly: false,
    });
    assert.deepEqual(
      r.results.map((x) => [x.name, x.errorCode]),
      [['growing', ErrorCode.NONE], ['no-such-topic', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION], ['orders', ErrorCode.INVALID_REQUEST]],
    );
    assert.equal((await metadata(['growing'])).topics[0]!.partitions.length, 3);
    const p = await client.send(ProduceApi, 9, { transactionalId: null, acks: 1, timeoutMs: 5000, topicData: [{ name: 'growing', partitionData: [{ index: 2, records: batch(['new']) }] }] });
    assert.equal(p.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE, 'the new partition takes writes');
    const errors = await client.send(CreatePartitionsApi, 0, {
      topics: [
        { name: 'growing', count: 3, assignments: null },
        { name: 'orders', count: 1, assignments: null },
        { name: 'assigned', count: 5, assignments: [{ brokerIds: [node] }] },
        { name: 'taken', count: 3, assignments: [{ brokerIds: [node + 1] }] },
        { name: 'created-v0', count: 2, assignments: [{ brokerIds: [node, node] }] },
      ],
      timeoutMs: 5000,
      validateOnly: false,
    });
    assert.deepEqual(
      errors.results.map((x) => [x.name, x.errorCode]),
      [
        ['growing', ErrorCode.INVALID_PARTITIONS],
        ['orders', ErrorCode.INVALID_PARTITIONS],
        ['assigned', ErrorCode.INVALID_REPLICA_ASSIGNMENT],
        ['taken', ErrorCode.INVALID_REPLICA_ASSIGNMENT],
        ['created-v0', ErrorCode.INVALID_REPLICA_ASSIGNMENT],
      ],
    );
    assert.match(errors.results[0]!.errorMessage!, /already has 3 partitions/);
    assert.equal((await metadata(['orders'])).topics[0]!.partitions.length, 2);
  });

  test('DeleteRecords moves the log start; -1 = high watermark; out of range; unknown; compact-only', async () => {
    await client.send(CreateTopicsApi, 7, { topics: [newTopic('trim', { numPartitions: 1 }), newTopic('compacted', { numPartitions: 1, configs: [{ name: 'cleanup.policy', value: 'compact' }] })], timeoutMs: 5000, validateOnly: false });
    for (let i = 0; i < 5; i++) {
      await client.send(ProduceApi, 9, { transactionalId: null, acks: 1, timeoutMs: 5000, topicData: [{ name: 'trim', partitionData: [{ index: 0, records: batch([`r${i}`]) }] }] });
    }
    const del = (partitions: Array<{ partitionIndex: number; offset: bigint }>, name = 'trim', version = 2) =>
      client.send(DeleteRecordsApi, version, { topics: [{ name, partitions }], timeoutMs: 5000 });
    const r = await del([{ partitionIndex: 0, offset: 3n }]);
    assert.deepEqual(r.topics[0]!.partitions[0], { partitionIndex: 0, lowWatermark: 3n, errorCode: ErrorCode.NONE });
    const earliest = await client.send(ListOffsetsApi, 5, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'trim', partitions: [{ partitionIndex: 0, timestamp: -2n, currentLeaderEpoch: -1 }] }] });
    assert.equal(earliest.topics[0]!.partitions[0]!.offset, 3n);
    const lower = await del([{ partitionIndex: 0, offset: 1n }], 'trim', 0);
    assert.equal(lower.topics[0]!.partitions[0]!.lowWatermark, 3n, 'never moves back');
    const errors = await del([
      { partitionIndex: 0, offset: 99n },
      { partitionIndex: 0, offset: -7n },
      { partitionIndex: 4, offset: 0n },
    ]);
    assert.deepEqual(
      errors.topics[0]!.partitions.map((p) => [p.errorCode, p.lowWatermark]),
      [[ErrorCode.OFFSET_OUT_OF_RANGE, -1n], [ErrorCode.OFFSET_OUT_OF_RANGE, -1n], [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1n]],
    );
    const all = await del([{ partitionIndex: 0, offset: -1n }], 'trim', 1);
    assert.deepEqual(all.topics[0]!.partitions[0], { partitionIndex: 0, lowWatermark: 5n, errorCode: ErrorCode.NONE });
    assert.equal(broker.topics.partitionLog('trim', 0)!.logStartOffset, 5);
    const unknown = await del([{ partitionIndex: 0, offset: 0n }], 'no-such-topic');
    assert.equal(unknown.topics[0]!.partitions[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const compact = await del([{ partitionIndex: 0, offset: 0n }], 'compacted');
    assert.equal(compact.topics[0]!.partitions[0]!.errorCode, ErrorCode.POLICY_VIOLATION);
  });

  test('DescribeConfigs of a topic: values, sources, synonyms, types, documentation; key filter', async () => {
    await client.send(CreateTopicsApi, 7, { topics: [newTopic('described', { configs: [{ name: 'retention.ms', value: '60000' }] })], timeoutMs: 5000, validateOnly: false });
    const r = await describeTopic('described', 4, { includeSynonyms: true, includeDocumentation: true });
    assert.equal(r.errorCode, ErrorCode.NONE);
    assert.deepEqual([r.resourceType, r.resourceName], [TOPIC, 'described']);
    const c = configsOf(r);
    assert.equal(c.size, Object.keys(TOPIC_SETTINGS).length, 'every topic setting');
    const retention = c.get('retention.ms')!;
    assert.deepEqual([retention.value, retention.configSource, retention.readOnly, retention.isSensitive, retention.configType], ['60000', ConfigSource.DYNAMIC_TOPIC_CONFIG, false, false, ConfigType.LONG]);
    assert.deepEqual(retention.synonyms, [
      { name: 'retention.ms', value: '60000', source: ConfigSource.DYNAMIC_TOPIC_CONFIG },
      { name: 'log.retention.hours', value: '24', source: ConfigSource.STATIC_BROKER_CONFIG },
      { name: 'log.retention.hours', value: '168', source: ConfigSource.DEFAULT_CONFIG },
    ]);
    assert.ok(retention.documentation && retention.documentation.length > 0);
    const segment = c.get('segment.bytes')!;
    assert.deepEqual([segment.value, segment.configSource, segment.configType], ['1073741824', ConfigSource.DEFAULT_CONFIG, ConfigType.INT]);
    assert.deepEqual(segment.synonyms, [{ name: 'log.segment.bytes', value: '1073741824', source: ConfigSource.DEFAULT_CONFIG }]);
    assert.equal(c.get('cleanup.policy')!.configType, ConfigType.LIST);
    assert.equal(c.get('unclean.leader.election.enable')!.configType, ConfigType.BOOLEAN);
    assert.equal(c.get('min.cleanable.dirty.ratio')!.configType, ConfigType.DOUBLE);
    assert.equal(c.get('delete.retention.ms')!.synonyms!.length, 0);

    const plain = await describeTopic('described', 3);
    assert.equal(plain.configs[0]!.documentation, null, 'documentation only when asked');
    assert.deepEqual(plain.configs[0]!.synonyms, [], 'synonyms only when asked');
    const keys = await describeTopic('described', 2, { keys: ['retention.ms', 'no.such.key', 'segment.ms'] });
    assert.deepEqual(keys.configs.map((x) => x.name).sort(), ['retention.ms', 'segment.ms']);
    const empty = await describeTopic('described', 1, { keys: [] });
    assert.equal(empty.configs.length, Object.keys(TOPIC_SETTINGS).length, 'an empty key list means all, as in Kafka');

    const v0 = configsOf(await describeTopic('described', 0));
    assert.equal(v0.get('retention.ms')!.isDefault, false);
    assert.equal(v0.get('segment.bytes')!.isDefault, true);
    assert.equal(v0.get('retention.ms')!.value, '60000');
  });

  test('DescribeConfigs of the broker, and errors', async () => {
    const node = String(broker.config.nodeId);
    const r = await client.send(DescribeConfigsApi, 4, {
      resources: [
        { resourceType: BROKER, resourceName: node, configurationKeys: null },
        { resourceType: BROKER, resourceName: '', configurationKeys: null },
        { resourceType: BROKER, resourceName: '77', configurationKeys: null },
        { resourceType: BROKER, resourceName: 'abc', configurationKeys: null },
        { resourceType: TOPIC, resourceName: 'no-such-topic', configurationKeys: null },
        { resourceType: TOPIC, resourceName: 'bad/name', configurationKeys: null },
        { resourceType: 99, resourceName: 'x', configurationKeys: null },
        { resourceType: 8, resourceName: node, configurationKeys: null },
      ],
      includeSynonyms: true,
      includeDocumentation: false,
    });
    const [self, defaults, other, notInt, unknownTopic, badTopic, badType, logger] = r.results;
    assert.equal(self!.errorCode, ErrorCode.NONE);
    const c = configsOf(self!);
    assert.ok(c.size >= 30);
    assert.ok(self!.configs.every((x) => x.readOnly), 'no dynamic broker configs');
    assert.deepEqual([c.get('num.partitions')!.value, c.get('num.partitions')!.configSource, c.get('num.partitions')!.configType], ['2', ConfigSource.STATIC_BROKER_CONFIG, ConfigType.INT]);
    assert.deepEqual(c.get('num.partitions')!.synonyms, [
      { name: 'num.partitions', value: '2', source: ConfigSource.STATIC_BROKER_CONFIG },
      { name: 'num.partitions', value: '1', source: ConfigSource.DEFAULT_CONFIG },
    ]);
    assert.deepEqual([c.get('log.segment.bytes')!.value, c.get('log.segment.bytes')!.configSource], ['1073741824', ConfigSource.DEFAULT_CONFIG]);
    assert.deepEqual([c.get('log.retention.ms')!.value, c.get('log.retention.ms')!.configSource], [null, ConfigSource.DEFAULT_CONFIG]);
    assert.equal(c.get('auto.create.topics.enable')!.configType, ConfigType.BOOLEAN);
    assert.deepEqual([defaults!.errorCode, defaults!.configs.length], [ErrorCode.NONE, 0]);
    assert.equal(other!.errorCode, ErrorCode.INVALID_REQUEST);
    assert.match(other!.errorMessage!, /Unexpected broker id/);
    assert.equal(notInt!.errorCode, ErrorCode.INVALID_REQUEST);
    assert.equal(unknownTopic!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.equal(badTopic!.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
    assert.equal(badType!.errorCode, ErrorCode.INVALID_REQUEST);
    assert.deepEqual([badType!.resourceType, badType!.resourceName], [99, 'x']);
    assert.equal(logger!.errorCode, ErrorCode.INVALID_REQUEST);
    const v0 = await client.send(DescribeConfigsApi, 0, { resources: [{ resourceType: BROKER, resourceName: node, configurationKeys: ['log.segment.bytes', 'num.partitions'] }] });
    assert.deepEqual(
      v0.results[0]!.configs.map((x) => [x.name, x.isDefault]),
      [['log.segment.bytes', true], ['num.partitions', false]],
    );
  });

  test('AlterConfigs replaces the overrides, reaches the open logs, validates, and refuses broker resources', async () => {
    await client.send(CreateTopicsApi, 7, { topics: [newTopic('altered', { configs: [{ name: 'cleanup.policy', value: 'delete' }] })], timeoutMs: 5000, validateOnly: false });
    const log = () => broker.topics.partitionLog('altered', 1)!;
    const alter = (configs: Array<{ name: string; value: string | null }>, validateOnly = false, version = 2, resourceName = 'altered', resourceType = TOPIC) =>
      client.send(AlterConfigsApi, version, { resources: [{ resourceType, resourceName, configs }], validateOnly });
    const ok = await alter([{ name: 'retention.bytes', value: '5000' }, { name: 'segment.bytes', value: '100000' }]);
    assert.deepEqual(ok.responses[0], { resourceType: TOPIC, resourceName: 'altered', errorCode: ErrorCode.NONE, errorMessage: null });
    assert.equal(log().config.retentionBytes, 5000);
    assert.equal(log().config.segmentBytes, 100000);
    const c = configsOf(await describeTopic('altered'));
    assert.deepEqual([c.get('retention.bytes')!.value, c.get('retention.bytes')!.configSource], ['5000', ConfigSource.DYNAMIC_TOPIC_CONFIG]);
    assert.equal(c.get('cleanup.policy')!.configSource, ConfigSource.DEFAULT_CONFIG, 'an override not repeated is removed');

    const dry = await alter([{ name: 'retention.bytes', value: '7' }], true, 0);
    assert.equal(dry.responses[0]!.errorCode, ErrorCode.NONE);
    assert.equal(log().config.retentionBytes, 5000, 'validate_only changed nothing');

    const bad = await alter([{ name: 'retention.bytes', value: '1' }, { name: 'segment.bytes', value: '3' }]);
    assert.equal(bad.responses[0]!.errorCode, ErrorCode.INVALID_CONFIG);
    assert.match(bad.responses[0]!.errorMessage!, /segment\.bytes/);
    assert.equal(log().config.retentionBytes, 5000, 'a failed resource changes nothing');
    assert.equal((await alter([{ name: 'bogus.setting', value: '1' }])).responses[0]!.errorCode, ErrorCode.INVALID_CONFIG);
    const nul = await alter([{ name: 'retention.ms', value: null }], false, 1);
    assert.deepEqual([nul.responses[0]!.errorCode, nul.responses[0]!.errorMessage], [ErrorCode.INVALID_REQUEST, 'Null value not supported for : retention.ms']);

    const reset = await alter([{ name: 'retention.ms', value: '1000' }]);
    assert.equal(reset.responses[0]!.errorCode, ErrorCode.NONE);
    assert.equal(log().config.retentionBytes, -1, 'retention.bytes is back at the broker default');
    assert.equal(log().config.segmentBytes, 1073741824);
    assert.equal(log().config.retentionMs, 1000);

    const brokerRes = await alter([{ name: 'num.partitions', value: '3' }], false, 2, String(broker.config.nodeId), BROKER);
    assert.equal(brokerRes.responses[0]!.errorCode, ErrorCode.INVALID_REQUEST);
    assert.match(brokerRes.responses[0]!.errorMessage!, /static/);
    assert.equal((await alter([], false, 2, 'no-such-topic')).responses[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.equal((await alter([], false, 2, '')).responses[0]!.errorCode, ErrorCode.INVALID_REQUEST);
    assert.equal((await alter([], false, 2, 'x', 99)).responses[0]!.errorCode, ErrorCode.INVALID_REQUEST);
    const dup = await client.send(AlterConfigsApi, 2, {
      resources: [
        { resourceType: TOPIC, resourceName: 'altered', configs: [] },
        { resourceType: TOPIC, resourceName: 'orders', configs: [{ name: 'retention.bytes', value: '1' }] },
        { resourceType: TOPIC, resourceName: 'altered', configs: [] },
      ],
      validateOnly: false,
    });
    assert.deepEqual(dup.responses.map((x) => [x.resourceName, x.errorCode]), [['altered', ErrorCode.INVALID_REQUEST], ['orders', ErrorCode.NONE], ['altered', ErrorCode.INVALID_REQUEST]]);
    assert.equal(log().config.retentionMs, 1000, 'the duplicated resource was not changed');
  });

  test('IncrementalAlterConfigs: SET, DELETE, APPEND, SUBTRACT, validate_only, errors', async () => {
    await client.send(CreateTopicsApi, 7, { topics: [newTopic('incremental', { configs: [{ name: 'retention.ms', value: '5000' }] })], timeoutMs: 5000, validateOnly: false });
    const log = () => broker.topics.partitionLog('incremental', 0)!;
    const inc = (configs: Array<{ name: string; configOperation: number; value: string | null }>, validateOnly = false, version = 1, resourceName = 'incremental', resourceType = TOPIC) =>
      client.send(IncrementalAlterConfigsApi, version, { resources: [{ resourceType, resourceName, configs }], validateOnly });
    const set = await inc([{ name: 'retention.bytes', configOperation: SET, value: '2048' }]);
    assert.equal(set.responses[0]!.errorCode, ErrorCode.NONE);
    assert.equal(log().config.retentionBytes, 2048);
    assert.equal(log().config.retentionMs, 5000, 'other overrides stay');

    const appended = await inc([{ name: 'cleanup.policy', configOperation: APPEND, value: 'compact' }], false, 0);
    assert.equal(appended.responses[0]!.errorCode, ErrorCode.NONE);
    assert.equal(configsOf(await describeTopic('incremental')).get('cleanup.policy')!.value, 'delete,compact');
    assert.equal(log().config.cleanupPolicy, 'compact,delete');
    await inc([{ name: 'cleanup.policy', configOperation: SUBTRACT, value: 'delete' }]);
    assert.equal(configsOf(await describeTopic('incremental')).get('cleanup.policy')!.value, 'compact');
    assert.equal(log().config.cleanupPolicy, 'compact');
    const emptied = await inc([{ name: 'cleanup.policy', configOperation: SUBTRACT, value: 'compact' }]);
    assert.equal(emptied.responses[0]!.errorCode, ErrorCode.INVALID_CONFIG);

    const del = await inc([{ name: 'retention.ms', configOperation: DELETE, value: null }, { name: 'cleanup.policy', configOperation: DELETE, value: null }]);
    assert.equal(del.responses[0]!.errorCode, ErrorCode.NONE);
    assert.equal(log().config.retentionMs, 24 * 3_600_000, 'back to the broker default');
    assert.equal(log().config.cleanupPolicy, 'delete');
    assert.equal(log().config.retentionBytes, 2048);

    const dry = await inc([{ name: 'retention.bytes', configOperation: SET, value: '1' }], true);
    assert.equal(dry.responses[0]!.errorCode, ErrorCode.NONE);
    assert.equal(log().config.retentionBytes, 2048, 'validate_only changed nothing');

    const code = async (...args: Parameters<typeof inc>) => {
      const r = (await inc(...args)).responses[0]!;
      return [r.errorCode, r.errorMessage];
    };
    assert.equal((await code([{ name: 'retention.bytes', configOperation: APPEND, value: '5' }]))[0], ErrorCode.INVALID_CONFIG);
    assert.equal((await code([{ name: 'retention.bytes', configOperation: SET, value: 'lots' }]))[0], ErrorCode.INVALID_CONFIG);
    assert.equal((await code([{ name: 'retention.bytes', configOperation: 9, value: '5' }]))[0], ErrorCode.INVALID_REQUEST);
    assert.deepEqual(await code([{ name: 'retention.bytes', configOperation: SET, value: null }]), [ErrorCode.INVALID_REQUEST, 'Null value not supported for : retention.bytes']);
    assert.equal((await code([{ name: 'retention.bytes', configOperation: SET, value: '5' }, { name: 'retention.bytes', configOperation: DELETE, value: null }]))[0], ErrorCode.INVALID_REQUEST);
    assert.equal((await code([{ name: 'retention.bytes', configOperation: SET, value: '5' }], false, 1, 'nope'))[0], ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.equal((await code([{ name: 'log.retention.bytes', configOperation: SET, value: '5' }], false, 1, '', BROKER))[0], ErrorCode.INVALID_REQUEST);
    assert.equal(log().config.retentionBytes, 2048, 'no failed request changed anything');
  });

  test('topic config overrides survive a restart', async () => {
    const d = mkdtempSync(join(tmpdir(), 'ferry-admin-restart-'));
    try {
      let b = await startBroker({ port: 0, dataDir: d, log: () => undefined });
      let c = await WireClient.connect(b.port);
      await c.send(CreateTopicsApi, 7, { topics: [newTopic('kept', { numPartitions: 1 })], timeoutMs: 5000, validateOnly: false });
      await c.send(IncrementalAlterConfigsApi, 1, { resources: [{ resourceType: TOPIC, resourceName: 'kept', configs: [{ name: 'retention.bytes', configOperation: SET, value: '12345' }] }], validateOnly: false });
      c.close();
      await b.close();
      b = await startBroker({ port: 0, dataDir: d, log: () => undefined });
      c = await WireClient.connect(b.port);
      assert.equal(b.topics.partitionLog('kept', 0)!.config.retentionBytes, 12345);
      const r = await c.send(DescribeConfigsApi, 1, { resources: [{ resourceType: TOPIC, resourceName: 'kept', configurationKeys: ['retention.bytes'] }], includeSynonyms: false });
      assert.deepEqual(r.results[0]!.configs.map((x) => [x.value, x.configSource]), [['12345', ConfigSource.DYNAMIC_TOPIC_CONFIG]]);
      c.close();
      await b.close();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('DescribeCluster: this node, controller, cluster id, operations; endpoint types', async () => {
    const md = await client.send(MetadataApi, 9, { topics: [], allowAutoTopicCreation: false });
    for (const v of [0, 1]) {
      const r = await client.send(DescribeClusterApi, v, { includeClusterAuthorizedOperations: v === 1, endpointType: 1 });
      assert.equal(r.errorCode, ErrorCode.NONE);
      assert.equal(r.errorMessage, null);
      assert.equal(r.clusterId, md.clusterId);
      assert.equal(r.controllerId, broker.config.nodeId);
      assert.deepEqual(r.brokers.map((x) => [x.brokerId, x.host, x.port, x.rack]), [[broker.config.nodeId, '127.0.0.1', broker.port, null]]);
      assert.equal(r.clusterAuthorizedOperations, v === 1 ? [4, 5, 7, 8, 9, 10, 11, 12].reduce((bits, op) => bits | (1 << op), 0) : -2147483648);
      if (v === 1) assert.equal(r.endpointType, 1);
    }
    const controllers = await client.send(DescribeClusterApi, 1, { includeClusterAuthorizedOperations: false, endpointType: 2 });
    assert.equal(controllers.errorCode, ErrorCode.MISMATCHED_ENDPOINT_TYPE);
    assert.deepEqual(controllers.brokers, []);
    const unknown = await client.send(DescribeClusterApi, 1, { includeClusterAuthorizedOperations: false, endpointType: 7 });
    assert.equal(unknown.errorCode, ErrorCode.UNSUPPORTED_ENDPOINT_TYPE);
  });
});

describe('admin APIs', () => {
  test('DeleteTopics with delete.topic.enable=false: INVALID_REQUEST before v3, TOPIC_DELETION_DISABLED from v3', async () => {
    const d = mkdtempSync(join(tmpdir(), 'ferry-admin-nodelete-'));
    const b = await startBroker({ port: 0, dataDir: d, log: () => undefined, settings: { 'delete.topic.enable': false } });
    const c = await WireClient.connect(b.port);
    try {
      await c.send(CreateTopicsApi, 7, { topics: [newTopic('stays')], timeoutMs: 5000, validateOnly: false });
      const v1 = await c.send(DeleteTopicsApi, 1, { topicNames: ['stays'], timeoutMs: 5000 });
      assert.equal(v1.responses[0]!.errorCode, ErrorCode.INVALID_REQUEST);
      const v5 = await c.send(DeleteTopicsApi, 5, { topicNames: ['stays'], timeoutMs: 5000 });
      assert.deepEqual([v5.responses[0]!.errorCode, v5.responses[0]!.errorMessage], [ErrorCode.TOPIC_DELETION_DISABLED, 'Topic deletion is disabled.']);
      assert.ok(b.registry.get('stays'));
    } finally {
      c.close();
      await b.close();
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('kafkajs admin: createTopics, fetchTopicMetadata, createPartitions, describeConfigs, alterConfigs, deleteTopicRecords, deleteTopics', async () => {
    const d = mkdtempSync(join(tmpdir(), 'ferry-admin-kafkajs-'));
    const b = await startBroker({ port: 0, dataDir: d, log: () => undefined });
    const kafka = new Kafka({ clientId: 'ferry-admin-test', brokers: [`127.0.0.1:${b.port}`], logLevel: logLevel.NOTHING, retry: { retries: 2 } });
    const admin = kafka.admin();
    const producer = kafka.producer();
    try {
      await admin.connect();
      const created = await admin.createTopics({
        topics: [{ topic: 'kjs-topic', numPartitions: 2, configEntries: [{ name: 'retention.ms', value: '3600000' }] }],
      });
      assert.equal(created, true);
      assert.equal(await admin.createTopics({ topics: [{ topic: 'kjs-topic' }] }), false, 'already exists');
      // waitForLeaders would send Metadata, which auto-creates the topic.
      assert.equal(await admin.createTopics({ validateOnly: true, waitForLeaders: false, topics: [{ topic: 'kjs-dry-run', numPartitions: 3 }] }), true);
      assert.ok(!(await admin.listTopics()).includes('kjs-dry-run'), 'validate_only created nothing');
      await assert.rejects(admin.createTopics({ topics: [{ topic: 'kjs-bad', configEntries: [{ name: 'retention.ms', value: 'never' }] }] }), (e: { errors?: Array<{ type: string; message: string }> }) => {
        assert.equal(e.errors?.[0]?.type, 'INVALID_CONFIG');
        return true;
      });

      const { topics } = await admin.fetchTopicMetadata({ topics: ['kjs-topic'] });
      assert.equal(topics[0]!.partitions.length, 2);
      assert.ok(topics[0]!.partitions.every((p) => p.leader === b.config.nodeId));

      await admin.createPartitions({ topicPartitions: [{ topic: 'kjs-topic', count: 4 }] });
      assert.equal((await admin.fetchTopicMetadata({ topics: ['kjs-topic'] })).topics[0]!.partitions.length, 4);
      await assert.rejects(admin.createPartitions({ topicPartitions: [{ topic: 'kjs-topic', count: 2 }] }));

      const described = await admin.describeConfigs({ includeSynonyms: true, resources: [{ type: TOPIC as never, name: 'kjs-topic', configNames: ['retention.ms', 'retention.bytes'] }] });
      const entries = new Map(described.resources[0]!.configEntries.map((e) => [e.configName, e]));
      assert.equal(entries.size, 2);
      assert.equal(entries.get('retention.ms')!.configValue, '3600000');
      assert.equal(entries.get('retention.ms')!.isDefault, false);
      assert.equal(entries.get('retention.bytes')!.isDefault, true);
      const brokerConfigs = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: BROKER as never, name: String(b.config.nodeId) }] });
      assert.ok(brokerConfigs.resources[0]!.configEntries.some((e) => e.configName === 'num.partitions' && e.readOnly));

      await admin.alterConfigs({ validateOnly: false, resources: [{ type: TOPIC as never, name: 'kjs-topic', configEntries: [{ name: 'retention.bytes', value: '65536' }] }] });
      assert.equal(b.topics.partitionLog('kjs-topic', 3)!.config.retentionBytes, 65536, 'the change reached the open log');
      assert.equal(b.topics.partitionLog('kjs-topic', 0)!.config.retentionMs, 7 * 24 * 3_600_000, 'AlterConfigs replaced the whole override set');
      const after = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: TOPIC as never, name: 'kjs-topic', configNames: ['retention.bytes'] }] });
      assert.equal(after.resources[0]!.configEntries[0]!.configValue, '65536');

      await producer.connect();
      await producer.send({ topic: 'kjs-topic', messages: [0, 1, 2, 3, 4].map((i) => ({ partition: 0, value: `m${i}` })) });
      await admin.deleteTopicRecords({ topic: 'kjs-topic', partitions: [{ partition: 0, offset: '3' }] });
      const offsets = await admin.fetchTopicOffsets('kjs-topic');
      const p0 = offsets.find((o) => o.partition === 0)!;
      assert.deepEqual([p0.low, p0.high], ['3', '5']);
      await admin.deleteTopicRecords({ topic: 'kjs-topic', partitions: [{ partition: 0, offset: '-1' }] });
      assert.equal((await admin.fetchTopicOffsets('kjs-topic')).find((o) => o.partition === 0)!.low, '5');

      await admin.deleteTopics({ topics: ['kjs-topic'] });
      assert.ok(!(await admin.listTopics()).includes('kjs-topic'));
      assert.equal(b.registry.get('kjs-topic'), undefined);
    } finally {
      await producer.disconnect();
      await admin.disconnect();
      await b.close();
      rmSync(d, { recursive: true, force: true });
    }
  });
});

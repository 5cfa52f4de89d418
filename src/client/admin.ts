/**
 * The admin client: topics, configs, log offsets and consumer groups.
 *
 * Topic and config changes go to the controller named in the metadata (any broker of a
 * KRaft cluster forwards them; older clusters need the controller); broker configs go to
 * that broker; offsets go to partition leaders; group operations go to the group's
 * coordinator, and listing groups asks every broker.
 */
import { ErrorCode } from '../protocol/error-codes.js';
import {
  AlterConfigsApi,
  CreatePartitionsApi,
  CreateTopicsApi,
  DeleteGroupsApi,
  DeleteRecordsApi,
  DeleteTopicsApi,
  DescribeConfigsApi,
  DescribeGroupsApi,
  IncrementalAlterConfigsApi,
  ListGroupsApi,
} from '../protocol/messages/index.js';
import type { BrokerConnection } from './broker-connection.js';
import { Cluster, type ClientOptions, type TopicInfo, ZERO_TOPIC_ID } from './cluster.js';
import { CONSUMER_PROTOCOL_TYPE, decodeAssignment } from './consumer-protocol.js';
import { KafkaError } from './errors.js';
import {
  EARLIEST_TIMESTAMP,
  LATEST_TIMESTAMP,
  MAX_TIMESTAMP,
  type CommittedOffset,
  commitOffsets,
  coordinatorAware,
  coordinatorRetry,
  fetchCommittedOffsets,
  listOffsets,
} from './offset-requests.js';
import { type TopicPartition, partitionKey } from './record-types.js';
import { withRetries } from './retry.js';

export interface NewTopic {
  name: string;
  /** -1 or absent: the broker's num.partitions. */
  partitions?: number;
  /** -1 or absent: the broker's default.replication.factor. */
  replicationFactor?: number;
  configs?: Record<string, string>;
}

export interface TopicDescription {
  name: string;
  topicId: string;
  isInternal: boolean;
  partitions: Array<{ partition: number; leader: number; replicas: number[]; isr: number[]; offlineReplicas: number[] }>;
}

export type ConfigResourceType = 'topic' | 'broker' | 'broker-logger' | 'group';

const RESOURCE_TYPES: Record<ConfigResourceType, number> = { topic: 2, broker: 4, 'broker-logger': 8, group: 32 };
const RESOURCE_NAMES = new Map(Object.entries(RESOURCE_TYPES).map(([k, v]) => [v, k as ConfigResourceType]));

export type ConfigSource =
  | 'unknown'
  | 'dynamic-topic'
  | 'dynamic-broker'
  | 'dynamic-default-broker'
  | 'static-broker'
  | 'default'
  | 'dynamic-broker-logger'
  | 'client-metrics'
  | 'group';

const CONFIG_SOURCES: ConfigSource[] = [
  'unknown',
  'dynamic-topic',
  'dynamic-broker',
  'dynamic-default-broker',
  'static-broker',
  'default',
  'dynamic-broker-logger',
  'client-metrics',
  'group',
];

export interface ConfigResource {
  type: ConfigResourceType;
  name: string;
}

export interface ConfigEntry {
  name: string;
  value: string | null;
  readOnly: boolean;
  isDefault: boolean;
  source: ConfigSource;
  isSensitive: boolean;
}

export interface ResourceConfigs extends ConfigResource {
  entries: ConfigEntry[];
}

export type ConfigOperation = 'set' | 'delete' | 'append' | 'subtract';
const CONFIG_OPERATIONS: Record<ConfigOperation, number> = { set: 0, delete: 1, append: 2, subtract: 3 };

export interface ConfigChange {
  name: string;
  operation?: ConfigOperation;
  value?: string | null;
}

export type OffsetSpec = 'earliest' | 'latest' | 'max-timestamp' | { timestamp: number | Date };

export interface PartitionOffset {
  partition: number;
  /** -1 when no record is at or after the timestamp. */
  offset: bigint;
  timestamp: number;
}

export interface GroupListing {
  groupId: string;
  protocolType: string;
  /** Empty when the broker does not say (ListGroups before v4). */
  state: string;
}

export interface GroupMemberDescription {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  /** Decoded for consumer groups; empty otherwise. */
  assignment: TopicPartition[];
}

export interface GroupDescription {
  groupId: string;
  state: string;
  protocolType: string;
  /** The assignor of a consumer group. */
  protocol: string;
  members: GroupMemberDescription[];
}

export interface PartitionLag extends TopicPartition {
  /** null when the group has no commit for the partition. */
  committedOffset: bigint | null;
  logEndOffset: bigint;
  /** logEndOffset - committedOffset; the whole log when nothing is committed. */
  lag: bigint;
  /** The member that owns the partition now, or null. */
  memberId: string | null;
  clientId: string | null;
}

export type OffsetResetTarget =
  | 'earliest'
  | 'latest'
  | { timestamp: number | Date }
  | { offset: bigint | number }
  | { shiftBy: bigint | number };

export class Admin {
  readonly cluster: Cluster;

  constructor(options: ClientOptions) {
    this.cluster = new Cluster(options);
  }

  async close(): Promise<void> {
    await this.cluster.close();
  }

  /** The controller's connection, or any broker's when the metadata names none. */
  private async controller(): Promise<BrokerConnection> {
    if (this.cluster.controllerId < 0 || this.cluster.metadataStale) await this.cluster.fetchMetadata([]);
    const id = this.cluster.controllerId;
    return id >= 0 && this.cluster.broker(id) !== undefined ? this.cluster.connectionTo(id) : this.cluster.anyConnection();
  }

  // ---- cluster ---------------------------------------------------------------------------------------

  async describeCluster(): Promise<{ clusterId: string | null; controllerId: number; brokers: Array<{ nodeId: number; host: string; port: number; rack: string | null }> }> {
    await this.cluster.fetchMetadata([]);
    return { clusterId: this.cluster.clusterId, controllerId: this.cluster.controllerId, brokers: this.cluster.allBrokers() };
  }

  // ---- topics ----------------------------------------------------------------------------------------

  /**
   * Creates topics. With `ifNotExists` a topic that exists already is not an error. The
   * metadata is refreshed until the new topics show up, so they can be used right away.
   */
  async createTopics(topics: NewTopic[], options: { validateOnly?: boolean; ifNotExists?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const connection = await this.controller();
    const response = await connection.request(CreateTopicsApi, {
      topics: topics.map((t) => ({
        name: t.name,
        numPartitions: t.partitions ?? -1,
        replicationFactor: t.replicationFactor ?? -1,
        assignments: [],
        configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
      })),
      timeoutMs: options.timeoutMs ?? this.cluster.requestTimeoutMs,
      validateOnly: options.validateOnly ?? false,
    });
    for (const r of response.topics) {
      if (r.errorCode === ErrorCode.NONE) continue;
      if (r.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS && options.ifNotExists === true) continue;
      throw new KafkaError(r.errorCode, undefined, { topic: r.name, brokerMessage: r.errorMessage ?? null });
    }
    if (options.validateOnly !== true) await this.waitForTopics(topics.map((t) => t.name), true);
  }

  /** Waits until the metadata shows (or no longer shows) the topics. */
  private async waitForTopics(names: string[], present: boolean): Promise<void> {
    await withRetries(
      async () => {
        await this.cluster.fetchMetadata(names);
        for (const name of names) {
          const info = this.cluster.topic(name);
          const ready = info !== undefined && info.partitions.every((p) => p.leaderId >= 0);
          if (present ? !ready : info !== undefined) {
            throw new KafkaError(present ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.REQUEST_TIMED_OUT, `topic ${name} is not ${present ? 'ready' : 'gone'} yet`, { retriable: true });
          }
        }
      },
      { ...this.cluster.retry, retries: 20 },
    );
  }

  async deleteTopics(names: string[], options: { timeoutMs?: number } = {}): Promise<void> {
    const connection = await this.controller();
    const version = connection.version(DeleteTopicsApi);
    const response = await connection.request(
      DeleteTopicsApi,
      {
        // v6 names topics in a list of (name, id) pairs, earlier versions by name only.
        ...(version >= 6 ? { topics: names.map((name) => ({ name, topicId: ZERO_TOPIC_ID })) } : { topicNames: names }),
        timeoutMs: options.timeoutMs ?? this.cluster.requestTimeoutMs,
      },
      { version },
    );
    for (const r of response.responses) {
      if (r.errorCode !== ErrorCode.NONE) throw new KafkaError(r.errorCode, undefined, { topic: r.name ?? '', brokerMessage: r.errorMessage ?? null });
    }
    await this.waitForTopics(names, false);
  }

  async listTopics(options: { includeInternal?: boolean } = {}): Promise<string[]> {
    const response = await this.cluster.fetchMetadata(null);
    return response.topics
      .filter((t) => t.errorCode === ErrorCode.NONE && t.name !== null && (options.includeInternal === true || t.isInternal !== true))
      .map((t) => t.name!)
      .sort();
  }

  async describeTopics(names: string[]): Promise<TopicDescription[]> {
    const response = await this.cluster.fetchMetadata(names);
    const out: TopicDescription[] = [];
    for (const name of names) {
      const t = response.topics.find((x) => x.name === name);
      if (t === undefined) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, undefined, { topic: name, retriable: false });
      if (t.errorCode !== ErrorCode.NONE) throw new KafkaError(t.errorCode, undefined, { topic: name });
      const info = this.cluster.topic(name) as TopicInfo;
      out.push({
        name,
        topicId: info.topicId,
        isInternal: info.isInternal,
        partitions: info.partitions.map((p) => ({ partition: p.partition, leader: p.leaderId, replicas: p.replicas, isr: p.isr, offlineReplicas: p.offlineReplicas })),
      });
    }
    return out;
  }

  /** Grows topics to `count` partitions in total (Kafka cannot shrink them). */
  async createPartitions(changes: Array<{ topic: string; count: number }>, options: { validateOnly?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const connection = await this.controller();
    const response = await connection.request(CreatePartitionsApi, {
      topics: changes.map((c) => ({ name: c.topic, count: c.count, assignments: null })),
      timeoutMs: options.timeoutMs ?? this.cluster.requestTimeoutMs,
      validateOnly: options.validateOnly ?? false,
    });
    for (const r of response.results) {
      if (r.errorCode !== ErrorCode.NONE) throw new KafkaError(r.errorCode, undefined, { topic: r.name, brokerMessage: r.errorMessage });
    }
    if (options.validateOnly !== true) {
      await withRetries(
        async () => {
          await this.cluster.fetchMetadata(changes.map((c) => c.topic));
          for (const c of changes) {
            if ((this.cluster.topic(c.topic)?.partitions.length ?? 0) < c.count) throw new KafkaError(ErrorCode.LEADER_NOT_AVAILABLE, undefined, { topic: c.topic });
          }
        },
        { ...this.cluster.retry, retries: 20 },
      );
    }
  }

  /** Removes records before `offset` in each partition (DeleteRecords); returns the new log start offsets. */
  async deleteRecords(topic: string, partitions: Array<{ partition: number; offset: bigint }>): Promise<PartitionOffset[]> {
    await this.cluster.topicMetadata(topic);
    const byLeader = new Map<number, Array<{ partition: number; offset: bigint }>>();
    for (const p of partitions) {
      const leader = this.cluster.leaderFor(topic, p.partition);
      if (leader < 0) throw new KafkaError(ErrorCode.LEADER_NOT_AVAILABLE, undefined, { topic, partition: p.partition });
      let list = byLeader.get(leader);
      if (list === undefined) byLeader.set(leader, (list = []));
      list.push(p);
    }
    const out: PartitionOffset[] = [];
    for (const [leader, list] of byLeader) {
      const connection = await this.cluster.connectionTo(leader);
      const response = await connection.request(DeleteRecordsApi, {
        topics: [{ name: topic, partitions: list.map((p) => ({ partitionIndex: p.partition, offset: p.offset })) }],
        timeoutMs: this.cluster.requestTimeoutMs,
      });
      for (const t of response.topics) {
        for (const p of t.partitions) {
          if (p.errorCode !== ErrorCode.NONE) throw new KafkaError(p.errorCode, undefined, { topic, partition: p.partitionIndex });
          out.push({ partition: p.partitionIndex, offset: p.lowWatermark, timestamp: -1 });
        }
      }
    }
    return out.sort((a, b) => a.partition - b.partition);
  }

  // ---- configs ---------------------------------------------------------------------------------------

  /** A broker resource's request must go to that broker; everything else to the controller. */
  private async connectionFor(resource: ConfigResource): Promise<BrokerConnection> {
    if ((resource.type === 'broker' || resource.type === 'broker-logger') && resource.name !== '') {
      const id = Number(resource.name);
      if (Number.isInteger(id)) return this.cluster.connectionTo(id);
    }
    return this.controller();
  }

  /** Configs of resources; `names` limits each resource to those config names. */
  async describeConfigs(resources: Array<ConfigResource & { names?: string[] }>): Promise<ResourceConfigs[]> {
    const out: ResourceConfigs[] = [];
    for (const resource of resources) {
      const connection = await this.connectionFor(resource);
      const response = await connection.request(DescribeConfigsApi, {
        resources: [{ resourceType: RESOURCE_TYPES[resource.type], resourceName: resource.name, configurationKeys: resource.names ?? null }],
        includeSynonyms: false,
        includeDocumentation: false,
      });
      for (const r of response.results) {
        if (r.errorCode !== ErrorCode.NONE) {
          throw new KafkaError(r.errorCode, undefined, { brokerMessage: `${resource.type} ${resource.name}${r.errorMessage ? `: ${r.errorMessage}` : ''}` });
        }
        out.push({
          type: RESOURCE_NAMES.get(r.resourceType) ?? resource.type,
          name: r.resourceName,
          entries: r.configs.map((c) => {
            const source = c.configSource !== undefined && c.configSource >= 0 ? (CONFIG_SOURCES[c.configSource] ?? 'unknown') : c.isDefault ? 'default' : 'unknown';
            return {
              name: c.name,
              value: c.value,
              readOnly: c.readOnly,
              isDefault: c.isDefault ?? source === 'default',
              source,
              isSensitive: c.isSensitive,
            };
          }),
        });
      }
    }
    return out;
  }

  /**
   * Changes configs one by one: `set` (the default), `delete` (back to the default),
   * `append` and `subtract` (list-valued configs). Uses IncrementalAlterConfigs, falling
   * back to AlterConfigs (which replaces a resource's whole config) for brokers without it:
   * then the current values are read first and the change applied to them.
   */
  async alterConfigs(resources: Array<ConfigResource & { changes: ConfigChange[] }>, options: { validateOnly?: boolean } = {}): Promise<void> {
    for (const resource of resources) {
      const connection = await this.connectionFor(resource);
      const resourceType = RESOURCE_TYPES[resource.type];
      if (connection.supports(IncrementalAlterConfigsApi)) {
        const response = await connection.request(IncrementalAlterConfigsApi, {
          resources: [
            {
              resourceType,
              resourceName: resource.name,
              configs: resource.changes.map((c) => ({ name: c.name, configOperation: CONFIG_OPERATIONS[c.operation ?? 'set'], value: c.value ?? null })),
            },
          ],
          validateOnly: options.validateOnly ?? false,
        });
        for (const r of response.responses) {
          if (r.errorCode !== ErrorCode.NONE) throw new KafkaError(r.errorCode, undefined, { brokerMessage: `${resource.type} ${resource.name}${r.errorMessage ? `: ${r.errorMessage}` : ''}` });
        }
        continue;
      }
      const [current] = await this.describeConfigs([resource]);
      const values = new Map<string, string | null>();
      for (const e of current?.entries ?? []) if (!e.isDefault && !e.readOnly && e.source !== 'static-broker') values.set(e.name, e.value);
      for (const c of resource.changes) {
        const op = c.operation ?? 'set';
        if (op === 'set') values.set(c.name, c.value ?? null);
        else if (op === 'delete') values.delete(c.name);
        else {
          const list = (values.get(c.name) ?? '').split(',').filter((x) => x !== '');
          const items = (c.value ?? '').split(',').filter((x) => x !== '');
          const next = op === 'append' ? [...list, ...items.filter((x) => !list.includes(x))] : list.filter((x) => !items.includes(x));
          values.set(c.name, next.join(','));
        }
      }
      await this.replaceConfigs([{ ...resource, configs: Object.fromEntries(values) }], options);
    }
  }

  /** AlterConfigs: replaces the resource's whole set of non-default configs with `configs`. */
  async replaceConfigs(resources: Array<ConfigResource & { configs: Record<string, string | null> }>, options: { validateOnly?: boolean } = {}): Promise<void> {
    for (const resource of resources) {
      const connection = await this.connectionFor(resource);
      const response = await connection.request(AlterConfigsApi, {
        resources: [
          {
            resourceType: RESOURCE_TYPES[resource.type],
            resourceName: resource.name,
            configs: Object.entries(resource.configs).map(([name, value]) => ({ name, value })),
          },
        ],
        validateOnly: options.validateOnly ?? false,
      });
      for (const r of response.responses) {
        if (r.errorCode !== ErrorCode.NONE) throw new KafkaError(r.errorCode, undefined, { brokerMessage: `${resource.type} ${resource.name}${r.errorMessage ? `: ${r.errorMessage}` : ''}` });
      }
    }
  }

  // ---- offsets ---------------------------------------------------------------------------------------

  /** Each partition's offset at `spec`: the log start, the log end, or the first record at or after a time. */
  async listOffsets(topic: string, spec: OffsetSpec = 'latest', partitions?: number[]): Promise<PartitionOffset[]> {
    const info = await this.cluster.topicMetadata(topic, { retries: 0 });
    const wanted = partitions ?? info.partitions.map((p) => p.partition);
    const timestamp =
      spec === 'earliest'
        ? EARLIEST_TIMESTAMP
        : spec === 'latest'
          ? LATEST_TIMESTAMP
          : spec === 'max-timestamp'
            ? MAX_TIMESTAMP
            : BigInt(spec.timestamp instanceof Date ? spec.timestamp.getTime() : spec.timestamp);
    const answers = await listOffsets(
      this.cluster,
      wanted.map((partition) => ({ topic, partition, timestamp })),
    );
    return wanted.map((partition) => {
      const a = answers.get(partitionKey(topic, partition));
      return { partition, offset: a?.offset ?? -1n, timestamp: Number(a?.timestamp ?? -1n) };
    });
  }

  /** Log start and end offsets of each partition of a topic. */
  async topicOffsets(topic: string): Promise<Array<{ partition: number; earliest: bigint; latest: bigint }>> {
    const [earliest, latest] = await Promise.all([this.listOffsets(topic, 'earliest'), this.listOffsets(topic, 'latest')]);
    return earliest.map((e, i) => ({ partition: e.partition, earliest: e.offset, latest: latest[i]!.offset }));
  }

  // ---- groups -----------------------------------------------------------------------------------------

  /** Every group on every broker. */
  async listGroups(options: { states?: string[] } = {}): Promise<GroupListing[]> {
    await this.cluster.fetchMetadata([]);
    const out: GroupListing[] = [];
    for (const broker of this.cluster.allBrokers()) {
      const connection = await this.cluster.connectionTo(broker.nodeId);
      const version = connection.version(ListGroupsApi);
      if (options.states !== undefined && version < 4) throw new KafkaError(ErrorCode.UNSUPPORTED_VERSION, 'filtering groups by state needs ListGroups v4', { retriable: false });
      const response = await connection.request(ListGroupsApi, { statesFilter: options.states ?? [], typesFilter: [] }, { version });
      if (response.errorCode !== ErrorCode.NONE) throw new KafkaError(response.errorCode);
      for (const g of response.groups) out.push({ groupId: g.groupId, protocolType: g.protocolType, state: g.groupState ?? '' });
    }
    return out.sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
  }

  async describeGroups(groupIds: string[]): Promise<GroupDescription[]> {
    const out: GroupDescription[] = [];
    for (const groupId of groupIds) {
      const group = await withRetries(async () => {
        const connection = await this.cluster.coordinatorConnection(groupId);
        const response = await connection.request(DescribeGroupsApi, { groups: [groupId], includeAuthorizedOperations: false });
        const g = response.groups[0];
        if (g === undefined) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, 'DescribeGroups answered no group', { groupId });
        if (g.errorCode !== ErrorCode.NONE) throw coordinatorAware(this.cluster, groupId, g.errorCode);
        return g;
      }, coordinatorRetry(this.cluster, groupId));
      out.push({
        groupId: group.groupId,
        state: group.groupState,
        protocolType: group.protocolType,
        protocol: group.protocolData,
        members: group.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId ?? null,
          clientId: m.clientId,
          clientHost: m.clientHost,
          assignment: group.protocolType === CONSUMER_PROTOCOL_TYPE && m.memberAssignment.length > 0 ? safeAssignment(m.memberAssignment) : [],
        })),
      });
    }
    return out;
  }

  async deleteGroups(groupIds: string[]): Promise<void> {
    for (const groupId of groupIds) {
      await withRetries(async () => {
        const connection = await this.cluster.coordinatorConnection(groupId);
        const response = await connection.request(DeleteGroupsApi, { groupsNames: [groupId] });
        for (const r of response.results) {
          if (r.errorCode !== ErrorCode.NONE) throw coordinatorAware(this.cluster, groupId, r.errorCode);
        }
      }, coordinatorRetry(this.cluster, groupId));
    }
  }

  /** The group's committed offsets (all topics, or those given). */
  async fetchGroupOffsets(groupId: string, topics?: string[]): Promise<Array<TopicPartition & CommittedOffset>> {
    let partitions: TopicPartition[] | null = null;
    if (topics !== undefined) {
      partitions = [];
      for (const topic of topics) {
        const info = await this.cluster.topicMetadata(topic, { retries: 0 });
        for (const p of info.partitions) partitions.push({ topic, partition: p.partition });
      }
    }
    const found = await fetchCommittedOffsets(this.cluster, groupId, partitions, false);
    return [...found.values()].sort(compareTopicPartitions);
  }

  /**
   * Each partition the group has committed to or owns: committed offset, log end offset,
   * lag, and the owning member. Lag counts the whole log where nothing is committed.
   */
  async describeGroupLag(groupId: string): Promise<PartitionLag[]> {
    const [description] = await this.describeGroups([groupId]);
    const committed = await fetchCommittedOffsets(this.cluster, groupId, null, false);
    const owners = new Map<string, { memberId: string; clientId: string }>();
    for (const m of description?.members ?? []) for (const tp of m.assignment) owners.set(partitionKey(tp.topic, tp.partition), { memberId: m.memberId, clientId: m.clientId });
    const partitions = new Map<string, TopicPartition>();
    for (const c of committed.values()) partitions.set(partitionKey(c.topic, c.partition), { topic: c.topic, partition: c.partition });
    for (const m of description?.members ?? []) for (const tp of m.assignment) partitions.set(partitionKey(tp.topic, tp.partition), tp);
    const list = [...partitions.values()].sort(compareTopicPartitions);
    const ends = await listOffsets(
      this.cluster,
      list.map((tp) => ({ ...tp, timestamp: LATEST_TIMESTAMP })),
    );
    const starts = await listOffsets(
      this.cluster,
      list.filter((tp) => !committed.has(partitionKey(tp.topic, tp.partition))).map((tp) => ({ ...tp, timestamp: EARLIEST_TIMESTAMP })),
    );
    return list.map((tp) => {
      const key = partitionKey(tp.topic, tp.partition);
      const logEndOffset = ends.get(key)?.offset ?? -1n;
      const c = committed.get(key)?.offset ?? null;
      const from = c ?? starts.get(key)?.offset ?? 0n;
      const owner = owners.get(key) ?? null;
      return {
        ...tp,
        committedOffset: c,
        logEndOffset,
        lag: logEndOffset >= from ? logEndOffset - from : 0n,
        memberId: owner?.memberId ?? null,
        clientId: owner?.clientId ?? null,
      };
    });
  }

  /**
   * Computes new committed offsets for a group's partitions of `topics`, and commits them
   * unless `dryRun`. The group must have no active members (the coordinator refuses
   * commits from outside an active group). Returns the offsets it set (or would set).
   */
  async resetGroupOffsets(
    groupId: string,
    topics: string[],
    target: OffsetResetTarget,
    options: { dryRun?: boolean; partitions?: number[] } = {},
  ): Promise<Array<TopicPartition & { previousOffset: bigint | null; offset: bigint }>> {
    const partitions: TopicPartition[] = [];
    for (const topic of topics) {
      const info = await this.cluster.topicMetadata(topic, { retries: 0 });
      for (const p of info.partitions) if (options.partitions === undefined || options.partitions.includes(p.partition)) partitions.push({ topic, partition: p.partition });
    }
    const committed = await fetchCommittedOffsets(this.cluster, groupId, partitions, false);
    const bounds = await Promise.all([
      listOffsets(this.cluster, partitions.map((tp) => ({ ...tp, timestamp: EARLIEST_TIMESTAMP }))),
      listOffsets(this.cluster, partitions.map((tp) => ({ ...tp, timestamp: LATEST_TIMESTAMP }))),
    ]);
    const [earliest, latest] = bounds;
    let byTime: Map<string, { offset: bigint }> | null = null;
    if (typeof target === 'object' && 'timestamp' in target) {
      const ts = BigInt(target.timestamp instanceof Date ? target.timestamp.getTime() : target.timestamp);
      byTime = await listOffsets(this.cluster, partitions.map((tp) => ({ ...tp, timestamp: ts })));
    }
    const plan = partitions.map((tp) => {
      const key = partitionKey(tp.topic, tp.partition);
      const low = earliest.get(key)?.offset ?? 0n;
      const high = latest.get(key)?.offset ?? 0n;
      const previous = committed.get(key)?.offset ?? null;
      let offset: bigint;
      if (target === 'earliest') offset = low;
      else if (target === 'latest') offset = high;
      else if ('timestamp' in target) {
        const found = byTime!.get(key)?.offset ?? -1n;
        offset = found < 0n ? high : found;
      } else if ('offset' in target) offset = BigInt(target.offset);
      else offset = (previous ?? high) + BigInt(target.shiftBy);
      // Kafka's tool clamps to the log's range, so a reset can never point outside it.
      if (offset < low) offset = low;
      if (offset > high) offset = high;
      return { ...tp, previousOffset: previous, offset };
    });
    if (options.dryRun !== true) {
      await commitOffsets(
        this.cluster,
        { groupId, generationId: -1, memberId: '', groupInstanceId: null },
        plan.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.offset })),
      );
    }
    return plan;
  }

  /** Commits the given offsets for a group from outside it (generation -1, no member). */
  async commitGroupOffsets(groupId: string, offsets: Array<TopicPartition & { offset: bigint; metadata?: string | null }>): Promise<void> {
    await commitOffsets(this.cluster, { groupId, generationId: -1, memberId: '', groupInstanceId: null }, offsets);
  }
}

function compareTopicPartitions(a: TopicPartition, b: TopicPartition): number {
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition;
}

/** A member assignment that does not decode (another client's format) shows as empty rather than failing the describe. */
function safeAssignment(buf: Buffer): TopicPartition[] {
  try {
    return decodeAssignment(buf).partitions;
  } catch {
    return [];
  }
}

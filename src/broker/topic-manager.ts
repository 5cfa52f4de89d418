/**
 * Topics as the broker sees them: the registry (what exists, with ids and config overrides)
 * joined with the partition logs. Creation validates names, partition counts, replication
 * factors and configs the way Kafka does and answers with Kafka's error codes; it registers
 * the topic durably before creating its logs. Deletion unregisters first, then removes logs.
 */
import { ErrorCode } from '../protocol/error-codes.js';
import type { LogConfig } from '../storage/log-config.js';
import type { LogManager } from '../storage/log-manager.js';
import type { PartitionLog } from '../storage/partition-log.js';
import { type BrokerConfig, type TopicDefaults, logConfigOf } from './broker-config.js';
import { collisionKey, effectiveTopicDefaults, topicNameProblem, validateTopicSetting } from './topic-config.js';
import type { TopicInfo, TopicRegistry } from './topic-registry.js';

/** Partitions one topic may have. */
export const PARTITIONS_MAX = 10_000;

export interface TopicError {
  errorCode: number;
  message: string;
}

export interface CreateTopicSpec {
  name: string;
  /** -1: num.partitions */
  numPartitions: number;
  /** -1: default.replication.factor */
  replicationFactor: number;
  /** Manual assignment: partition → replica broker ids. */
  assignments?: ReadonlyArray<{ partitionIndex: number; brokerIds: readonly number[] }>;
  configs?: ReadonlyArray<{ name: string; value: string | null }>;
}

export class TopicManager {
  /** Creations in progress, so that concurrent auto-creates of one topic create it once. */
  private readonly creating = new Map<string, Promise<TopicInfo | TopicError>>();

  constructor(
    readonly config: BrokerConfig,
    readonly registry: TopicRegistry,
    readonly logs: LogManager,
    private readonly log: (message: string) => void,
  ) {}

  static logConfigFor(config: BrokerConfig, topic: TopicInfo | undefined): Partial<LogConfig> {
    return logConfigOf(effectiveTopicDefaults(config.topicDefaults, topic?.configs ?? {}));
  }

  /** The effective topic-level settings of a topic (defaults plus its overrides). */
  settingsOf(topic: TopicInfo): TopicDefaults {
    return effectiveTopicDefaults(this.config.topicDefaults, topic.configs);
  }

  /**
   * Makes the logs match the registry after a start: partitions of unregistered topics
   * (a crash between unregistering and removing) are deleted; missing ones are created.
   */
  async reconcile(): Promise<void> {
    for (const [key, log] of [...this.logs.all()]) {
      const m = /^(.+)-(\d+)$/.exec(key)!;
      if (this.registry.get(m[1]!) === undefined) {
        this.log(`removing ${log.dir}: its topic is not registered`);
        await this.logs.deleteTopic(m[1]!);
      }
    }
    for (const t of this.registry.list()) {
      for (let p = 0; p < t.partitions; p++) await this.logs.getOrCreate(t.name, p, TopicManager.logConfigFor(this.config, t));
    }
  }

  get(name: string): TopicInfo | undefined {
    return this.registry.get(name);
  }

  partitionLog(topic: string, partition: number): PartitionLog | undefined {
    const t = this.registry.get(topic);
    if (t === undefined || partition < 0 || partition >= t.partitions) return undefined;
    return this.logs.get(topic, partition);
  }

  /** Checks a creation without doing it (also CreateTopics validate_only). */
  validateCreate(spec: CreateTopicSpec): TopicError | { partitions: number; configs: Record<string, string> } {
    const nameProblem = topicNameProblem(spec.name);
    if (nameProblem !== null) return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, message: nameProblem };
    if (this.registry.get(spec.name) !== undefined) {
      return { errorCode: ErrorCode.TOPIC_ALREADY_EXISTS, message: `Topic '${spec.name}' already exists.` };
    }
    const key = collisionKey(spec.name);
    const clash = this.registry.list().find((t) => collisionKey(t.name) === key);
    if (clash !== undefined) {
      return {
        errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION,
        message: `Topic '${spec.name}' collides with existing topic: ${clash.name}`,
      };
    }
    let partitions = spec.numPartitions === -1 ? this.config.numPartitions : spec.numPartitions;
    const assignments = spec.assignments ?? [];
    if (assignments.length > 0) {
      if (spec.numPartitions !== -1 || spec.replicationFactor !== -1) {
        return { errorCode: ErrorCode.INVALID_REQUEST, message: 'Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.' };
      }
      partitions = assignments.length;
      const seen = new Set<number>();
      for (const a of assignments) {
        if (a.partitionIndex < 0 || a.partitionIndex >= assignments.length || seen.has(a.partitionIndex)) {
          return { errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, message: 'Partitions should be a consecutive 0-based integer sequence' };
        }
        seen.add(a.partitionIndex);
        if (a.brokerIds.length !== 1 || a.brokerIds[0] !== this.config.nodeId) {
          return { errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, message: `Replica assignment must name exactly this broker (${this.config.nodeId})` };
        }
      }
    }
    if (partitions < 1 || partitions > PARTITIONS_MAX) {
      return { errorCode: ErrorCode.INVALID_PARTITIONS, message: `Number of partitions must be between 1 and ${PARTITIONS_MAX}, not ${partitions}.` };
    }
    const rf = spec.replicationFactor === -1 ? 1 : spec.replicationFactor;
    if (rf !== 1) {
      return {
        errorCode: ErrorCode.INVALID_REPLICATION_FACTOR,
        message: `Replication factor: ${rf} larger than available brokers: 1.`,
      };
    }
    const configs: Record<string, string> = {};
    for (const c of spec.configs ?? []) {
      const v = validateTopicSetting(c.name, c.value);
      if ('errorCode' in v) return v;
      configs[c.name] = v.value;
    }
    return { partitions, configs };
  }

  /** Creates a topic and its logs; concurrent creations of one name create it once. */
  create(spec: CreateTopicSpec): Promise<TopicInfo | TopicError> {
    const pending = this.creating.get(spec.name);
    if (pending !== undefined) {
      return pending.then((r) => ('errorCode' in r ? r : { errorCode: ErrorCode.TOPIC_ALREADY_EXISTS, message: `Topic '${spec.name}' already exists.` }));
    }
    const run = (async (): Promise<TopicInfo | TopicError> => {
      const checked = this.validateCreate(spec);
      if ('errorCode' in checked) return checked;
      const topic = await this.registry.create(spec.name, checked.partitions, checked.configs);
      for (let p = 0; p < topic.partitions; p++) await this.logs.getOrCreate(topic.name, p, TopicManager.logConfigFor(this.config, topic));
      return topic;
    })();
    this.creating.set(spec.name, run);
    return run.finally(() => this.creating.delete(spec.name));
  }

  /** Auto-creation on first use (Metadata, Produce), with num.partitions; null if not allowed. */
  async autoCreate(name: string): Promise<TopicInfo | TopicError | null> {
    if (!this.config.autoCreateTopics) return null;
    const existing = this.registry.get(name);
    if (existing !== undefined) return existing;
    const r = await this.create({ name, numPartitions: -1, replicationFactor: -1 });
    if ('errorCode' in r && r.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS) return this.registry.get(name) ?? r;
    return r;
  }

  async delete(name: string): Promise<TopicError | null> {
    if (!this.config.deleteTopicEnable) {
      return { errorCode: ErrorCode.TOPIC_DELETION_DISABLED, message: 'Topic deletion is disabled.' };
    }
    const t = await this.registry.delete(name);
    if (t === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: 'This server does not host this topic-partition.' };
    await this.logs.deleteTopic(name);
    return null;
  }

  /**
   * Checks growing a topic to `count` partitions without doing it (also CreatePartitions
   * validate_only). `assignments`, when given, places each new partition: one list of broker
   * ids per new partition, which on one node must be exactly [this node].
   */
  validateAddPartitions(name: string, count: number, assignments?: ReadonlyArray<readonly number[]> | null): TopicError | null {
    const t = this.registry.get(name);
    if (t === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: `The topic '${name}' does not exist.` };
    if (count <= t.partitions) {
      return {
        errorCode: ErrorCode.INVALID_PARTITIONS,
        message: count === t.partitions ? `Topic already has ${t.partitions} partitions.` : `Topic currently has ${t.partitions} partitions, which is higher than the requested ${count}.`,
      };
    }
    if (count > PARTITIONS_MAX) return { errorCode: ErrorCode.INVALID_PARTITIONS, message: `Number of partitions must be at most ${PARTITIONS_MAX}.` };
    if (assignments !== undefined && assignments !== null) {
      const added = count - t.partitions;
      if (assignments.length !== added) {
        return {
          errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
          message: `Attempted to add ${added} additional partition(s), but only ${assignments.length} assignment(s) were specified.`,
        };
      }
      for (const brokerIds of assignments) {
        if (brokerIds.length !== 1) {
          return {
            errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
            message: `The manual partition assignment includes a partition with ${brokerIds.length} replica(s), but this is not consistent with previous partitions, which have 1 replica(s).`,
          };
        }
        if (brokerIds[0] !== this.config.nodeId) {
          return { errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, message: `The manual partition assignment includes broker ${brokerIds[0]}, but no such broker is registered.` };
        }
      }
    }
    return null;
  }

  async addPartitions(name: string, count: number, assignments?: ReadonlyArray<readonly number[]> | null): Promise<TopicError | null> {
    const problem = this.validateAddPartitions(name, count, assignments);
    if (problem !== null) return problem;
    const t = this.registry.get(name)!;
    const from = t.partitions;
    await this.registry.setPartitions(name, count);
    for (let p = from; p < count; p++) await this.logs.getOrCreate(name, p, TopicManager.logConfigFor(this.config, t));
    return null;
  }

  /** Replaces a topic's config overrides and applies them to its open logs. */
  async setConfigs(name: string, configs: Record<string, string>): Promise<void> {
    await this.registry.setConfigs(name, configs);
    const t = this.registry.get(name)!;
    const logConfig = TopicManager.logConfigFor(this.config, t);
    for (let p = 0; p < t.partitions; p++) {
      const log = this.logs.get(name, p);
      if (log !== undefined) log.config = { ...log.config, ...logConfig };
    }
  }
}

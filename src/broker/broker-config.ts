/**
 * Broker settings, with Kafka's names and defaults. A value comes from (last wins): the
 * defaults below, a Java-style properties file (`--config FILE`), environment variables
 * (`FERRY_` + the name upper-cased with dots as underscores: FERRY_LOG_RETENTION_HOURS), and
 * command-line options (`--log.retention.hours=24`, or the shorthands --host, --port,
 * --data-dir). Unknown names and values of the wrong type are errors, reported with the name.
 */
import { readFileSync } from 'node:fs';
import type { LogConfig } from '../storage/log-config.js';

type Kind = 'int' | 'long' | 'bool' | 'string' | 'list';

interface Setting {
  kind: Kind;
  default: string | null;
  /** Inclusive bounds for numbers. */
  min?: number;
  max?: number;
  oneOf?: readonly string[];
  doc: string;
}

const MAX_LONG = '9223372036854775807';

/** Every setting the broker understands. Names and defaults are Kafka's unless marked ferry.*. */
export const BROKER_SETTINGS = {
  'node.id': { kind: 'int', default: '0', min: 0, doc: 'This broker\'s id.' },
  'ferry.host': { kind: 'string', default: '127.0.0.1', doc: 'Address to listen on.' },
  'ferry.port': { kind: 'int', default: '9092', min: 0, max: 65535, doc: 'Port to listen on (0: any free port).' },
  'advertised.host': { kind: 'string', default: null, doc: 'Host given to clients in Metadata; defaults to the listen address.' },
  'advertised.port': { kind: 'int', default: null, min: 1, max: 65535, doc: 'Port given to clients; defaults to the bound port.' },
  'log.dirs': { kind: 'string', default: './ferry-data', doc: 'Data directory.' },
  'cluster.id': { kind: 'string', default: null, doc: 'Cluster id; generated and stored in the data directory when absent.' },
  'num.partitions': { kind: 'int', default: '1', min: 1, max: 100_000, doc: 'Partitions of auto-created topics.' },
  'default.replication.factor': { kind: 'int', default: '1', min: 1, max: 1, doc: 'Replication factor of auto-created topics (one node).' },
  'auto.create.topics.enable': { kind: 'bool', default: 'true', doc: 'Create topics on first use by Metadata or Produce.' },
  'delete.topic.enable': { kind: 'bool', default: 'true', doc: 'Allow DeleteTopics.' },
  'message.max.bytes': { kind: 'int', default: '1048588', min: 0, doc: 'The largest record batch accepted (topic: max.message.bytes).' },
  'socket.request.max.bytes': { kind: 'int', default: '104857600', min: 1024, doc: 'The largest request frame accepted.' },
  'connections.max.idle.ms': { kind: 'long', default: '600000', min: 1, doc: 'Idle connections are closed after this.' },
  'max.connections': { kind: 'int', default: '10000', min: 1, doc: 'Connections accepted at once.' },
  'queued.max.requests': { kind: 'int', default: '500', min: 1, doc: 'Requests read but not yet answered, across connections.' },
  'ferry.connection.max.inflight.requests': { kind: 'int', default: '100', min: 1, doc: 'Requests read but not answered, per connection.' },
  'ferry.fetch.max.wait.ms': { kind: 'int', default: '30000', min: 0, doc: 'Upper bound on a Fetch long poll, whatever the client asks.' },
  'log.segment.bytes': { kind: 'int', default: '1073741824', min: 14, doc: 'segment.bytes of topics.' },
  'log.roll.ms': { kind: 'long', default: null, min: 1, doc: 'segment.ms of topics; log.roll.hours when unset.' },
  'log.roll.hours': { kind: 'int', default: '168', min: 1, doc: 'segment.ms in hours.' },
  'log.retention.ms': { kind: 'long', default: null, min: -1, doc: 'retention.ms; log.retention.minutes or hours when unset.' },
  'log.retention.minutes': { kind: 'int', default: null, min: -1, doc: 'retention.ms in minutes.' },
  'log.retention.hours': { kind: 'int', default: '168', min: -1, doc: 'retention.ms in hours.' },
  'log.retention.bytes': { kind: 'long', default: '-1', min: -1, doc: 'retention.bytes of topics.' },
  'log.retention.check.interval.ms': { kind: 'long', default: '300000', min: 1, doc: 'How often retention runs.' },
  'log.flush.interval.messages': { kind: 'long', default: MAX_LONG, min: 1, doc: 'flush.messages of topics.' },
  'log.flush.interval.ms': { kind: 'long', default: null, min: 0, doc: 'flush.ms of topics (never when unset).' },
  'log.index.interval.bytes': { kind: 'int', default: '4096', min: 0, doc: 'index.interval.bytes of topics.' },
  'log.index.size.max.bytes': { kind: 'int', default: '10485760', min: 8, doc: 'segment.index.bytes of topics.' },
  'log.cleanup.policy': { kind: 'list', default: 'delete', oneOf: ['delete', 'compact'], doc: 'cleanup.policy of topics.' },
  'log.message.timestamp.type': { kind: 'string', default: 'CreateTime', oneOf: ['CreateTime', 'LogAppendTime'], doc: 'message.timestamp.type of topics.' },
  'min.insync.replicas': { kind: 'int', default: '1', min: 1, doc: 'min.insync.replicas of topics.' },
  'offsets.topic.num.partitions': { kind: 'int', default: '50', min: 1, max: 1000, doc: 'Partitions of __consumer_offsets (fixed once the topic exists).' },
  'offsets.topic.segment.bytes': { kind: 'int', default: '104857600', min: 14, doc: 'segment.bytes of __consumer_offsets.' },
  'offsets.retention.minutes': { kind: 'int', default: '10080', min: 1, doc: 'Committed offsets of a group that has been empty this long are removed.' },
  'offsets.retention.check.interval.ms': { kind: 'long', default: '600000', min: 1, doc: 'How often expired offsets are looked for.' },
  'offset.metadata.max.bytes': { kind: 'int', default: '4096', min: 0, doc: 'The largest metadata string of a committed offset.' },
  'offsets.commit.timeout.ms': { kind: 'int', default: '5000', min: 1, doc: 'How long a commit may wait for its write to be durable.' },
  'group.min.session.timeout.ms': { kind: 'int', default: '6000', min: 0, doc: 'The smallest session timeout a member may ask for.' },
  'group.max.session.timeout.ms': { kind: 'int', default: '1800000', min: 0, doc: 'The largest session timeout a member may ask for.' },
  'group.initial.rebalance.delay.ms': { kind: 'int', default: '3000', min: 0, doc: 'How long the first rebalance of an empty group waits for more members.' },
  'group.max.size': { kind: 'int', default: '2147483647', min: 1, doc: 'Members one group may have.' },
  'ferry.groups.max': { kind: 'int', default: '100000', min: 1, doc: 'Groups the coordinator keeps (a bound on its memory).' },
  'compression.type': { kind: 'string', default: 'producer', oneOf: ['producer', 'uncompressed', 'gzip', 'snappy', 'lz4', 'zstd'], doc: 'compression.type of topics.' },
} as const satisfies Record<string, Setting>;

export type BrokerSettingName = keyof typeof BROKER_SETTINGS;
export type BrokerSettings = Record<BrokerSettingName, string | null>;

const SHORTHANDS: Record<string, BrokerSettingName> = {
  host: 'ferry.host',
  port: 'ferry.port',
  'data-dir': 'log.dirs',
  'node-id': 'node.id',
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function isSetting(name: string): name is BrokerSettingName {
  return Object.hasOwn(BROKER_SETTINGS, name);
}

/** Checks a value against its setting; returns the normalized text. */
export function validateSetting(name: string, value: string, source: string): string {
  if (!isSetting(name)) throw new ConfigError(`${source}: unknown setting ${JSON.stringify(name)}`);
  const s: Setting = BROKER_SETTINGS[name];
  const v = value.trim();
  switch (s.kind) {
    case 'bool':
      if (v !== 'true' && v !== 'false') throw new ConfigError(`${source}: ${name} must be true or false, not ${JSON.stringify(value)}`);
      return v;
    case 'int':
    case 'long': {
      if (!/^-?\d+$/.test(v)) throw new ConfigError(`${source}: ${name} must be an integer, not ${JSON.stringify(value)}`);
      const n = Number(v);
      const max = s.max ?? (s.kind === 'int' ? 2147483647 : Number.MAX_VALUE);
      if ((s.min !== undefined && n < s.min) || n > max) {
        throw new ConfigError(`${source}: ${name} = ${v} is outside [${s.min ?? '-inf'}, ${s.max ?? (s.kind === 'int' ? 2147483647 : MAX_LONG)}]`);
      }
      return v;
    }
    case 'list': {
      const items = v.split(',').map((x) => x.trim());
      for (const item of items) {
        if (s.oneOf && !s.oneOf.includes(item)) throw new ConfigError(`${source}: ${name} may contain only ${s.oneOf.join(', ')}, not ${JSON.stringify(item)}`);
      }
      return items.join(',');
    }
    default:
      if (s.oneOf && !s.oneOf.includes(v)) throw new ConfigError(`${source}: ${name} must be one of ${s.oneOf.join(', ')}, not ${JSON.stringify(value)}`);
      return v;
  }
}

/** Parses Java properties text: `name=value` or `name: value`, `#`/`!` comments. */
export function parseProperties(text: string, source: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + lines[++i]!.trim();
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (m === null) throw new ConfigError(`${source}:${i + 1}: expected name=value`);
    out.push([m[1]!, m[2]!]);
  }
  return out;
}

export interface ConfigSources {
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Settings given in code (embedding), applied last. */
  overrides?: Partial<Record<BrokerSettingName, string | number | boolean>>;
}

/**
 * The names given a value by a config file, the environment, the command line or code, per
 * resolved settings object (DescribeConfigs reports them as STATIC_BROKER_CONFIG, the others
 * as DEFAULT_CONFIG).
 */
const EXPLICIT_SETTINGS = new WeakMap<BrokerSettings, Set<BrokerSettingName>>();

/** Resolves settings from defaults, a --config file, the environment and the command line. */
export function resolveBrokerSettings(sources: ConfigSources = {}): BrokerSettings {
  const settings = Object.fromEntries(Object.entries(BROKER_SETTINGS).map(([k, s]) => [k, s.default])) as BrokerSettings;
  const explicit = new Set<BrokerSettingName>();
  EXPLICIT_SETTINGS.set(settings, explicit);
  const set = (name: string, value: string, source: string): void => {
    settings[name as BrokerSettingName] = validateSetting(name, value, source);
    explicit.add(name as BrokerSettingName);
  };
  const argv = sources.argv ?? [];
  const cli: Array<[string, string]> = [];
  let configFile: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--([^=]+)(?:=(.*))?$/.exec(arg);
    if (m === null) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)}`);
    const name = m[1]!;
    let value = m[2];
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new ConfigError(`--${name} needs a value`);
      value = next;
      i++;
    }
    if (name === 'config') configFile = value;
    else cli.push([SHORTHANDS[name] ?? name, value]);
  }
  if (configFile !== null) {
    let text: string;
    try {
      text = readFileSync(configFile, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file ${configFile}: ${(e as Error).message}`);
    }
    for (const [k, v] of parseProperties(text, configFile)) set(k, v, configFile);
  }
  const env = sources.env ?? {};
  for (const name of Object.keys(BROKER_SETTINGS)) {
    const key = `FERRY_${name.toUpperCase().replace(/[.-]/g, '_')}`;
    const v = env[key];
    if (v !== undefined && v !== '') set(name, v, `environment ${key}`);
  }
  for (const [k, v] of cli) set(k, v, `--${k}`);
  for (const [k, v] of Object.entries(sources.overrides ?? {})) if (v !== undefined) set(k, String(v), `option ${k}`);
  return settings;
}

function num(s: BrokerSettings, name: BrokerSettingName): number {
  const v = s[name];
  if (v === null) throw new ConfigError(`${name} has no value`);
  return v === MAX_LONG ? Infinity : Number(v);
}

function optionalNum(s: BrokerSettings, name: BrokerSettingName): number | null {
  return s[name] === null ? null : num(s, name);
}

/** The typed view of the settings the broker uses. */
export interface BrokerConfig {
  nodeId: number;
  host: string;
  port: number;
  advertisedHost: string | null;
  advertisedPort: number | null;
  dataDir: string;
  clusterId: string | null;
  numPartitions: number;
  autoCreateTopics: boolean;
  deleteTopicEnable: boolean;
  socketRequestMaxBytes: number;
  connectionsMaxIdleMs: number;
  maxConnections: number;
  queuedMaxRequests: number;
  connectionMaxInflightRequests: number;
  fetchMaxWaitMs: number;
  retentionCheckIntervalMs: number;
  groups: GroupConfig;
  /** Defaults of topic-level settings (Kafka's topic config names). */
  topicDefaults: TopicDefaults;
  /** Every setting as resolved (text; null when unset), for DescribeConfigs. */
  settings: Readonly<BrokerSettings>;
  /** The settings given a value rather than left at their default. */
  explicitSettings: ReadonlySet<BrokerSettingName>;
}

/** The group coordinator's settings (Kafka's offsets.* and group.* names). */
export interface GroupConfig {
  offsetsTopicPartitions: number;
  offsetsTopicSegmentBytes: number;
  offsetsRetentionMs: number;
  offsetsRetentionCheckIntervalMs: number;
  offsetMetadataMaxBytes: number;
  offsetCommitTimeoutMs: number;
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  initialRebalanceDelayMs: number;
  groupMaxSize: number;
  groupsMax: number;
}

export interface TopicDefaults {
  'cleanup.policy': string;
  'compression.type': string;
  'flush.messages': number;
  'flush.ms': number;
  'index.interval.bytes': number;
  'max.message.bytes': number;
  'message.timestamp.type': string;
  'min.insync.replicas': number;
  'retention.bytes': number;
  'retention.ms': number;
  'segment.bytes': number;
  'segment.index.bytes': number;
  'segment.ms': number;
}

export function brokerConfig(s: BrokerSettings): BrokerConfig {
  const retentionMs = optionalNum(s, 'log.retention.ms') ?? (optionalNum(s, 'log.retention.minutes') !== null ? num(s, 'log.retention.minutes') * 60_000 : num(s, 'log.retention.hours') * 3_600_000);
  return {
    nodeId: num(s, 'node.id'),
    host: s['ferry.host']!,
    port: num(s, 'ferry.port'),
    advertisedHost: s['advertised.host'],
    advertisedPort: optionalNum(s, 'advertised.port'),
    dataDir: s['log.dirs']!,
    clusterId: s['cluster.id'],
    numPartitions: num(s, 'num.partitions'),
    autoCreateTopics: s['auto.create.topics.enable'] === 'true',
    deleteTopicEnable: s['delete.topic.enable'] === 'true',
    socketRequestMaxBytes: num(s, 'socket.request.max.bytes'),
    connectionsMaxIdleMs: num(s, 'connections.max.idle.ms'),
    maxConnections: num(s, 'max.connections'),
    queuedMaxRequests: num(s, 'queued.max.requests'),
    connectionMaxInflightRequests: num(s, 'ferry.connection.max.inflight.requests'),
    fetchMaxWaitMs: num(s, 'ferry.fetch.max.wait.ms'),
    retentionCheckIntervalMs: num(s, 'log.retention.check.interval.ms'),
    groups: {
      offsetsTopicPartitions: num(s, 'offsets.topic.num.partitions'),
      offsetsTopicSegmentBytes: num(s, 'offsets.topic.segment.bytes'),
      offsetsRetentionMs: num(s, 'offsets.retention.minutes') * 60_000,
      offsetsRetentionCheckIntervalMs: num(s, 'offsets.retention.check.interval.ms'),
      offsetMetadataMaxBytes: num(s, 'offset.metadata.max.bytes'),
      offsetCommitTimeoutMs: num(s, 'offsets.commit.timeout.ms'),
      minSessionTimeoutMs: num(s, 'group.min.session.timeout.ms'),
      maxSessionTimeoutMs: num(s, 'group.max.session.timeout.ms'),
      initialRebalanceDelayMs: num(s, 'group.initial.rebalance.delay.ms'),
      groupMaxSize: num(s, 'group.max.size'),
      groupsMax: num(s, 'ferry.groups.max'),
    },
    settings: { ...s },
    explicitSettings: new Set(EXPLICIT_SETTINGS.get(s) ?? (Object.keys(BROKER_SETTINGS) as BrokerSettingName[]).filter((n) => s[n] !== BROKER_SETTINGS[n].default)),
    topicDefaults: {
      'cleanup.policy': s['log.cleanup.policy']!,
      'compression.type': s['compression.type']!,
      'flush.messages': num(s, 'log.flush.interval.messages'),
      'flush.ms': optionalNum(s, 'log.flush.interval.ms') ?? Infinity,
      'index.interval.bytes': num(s, 'log.index.interval.bytes'),
      'max.message.bytes': num(s, 'message.max.bytes'),
      'message.timestamp.type': s['log.message.timestamp.type']!,
      'min.insync.replicas': num(s, 'min.insync.replicas'),
      'retention.bytes': num(s, 'log.retention.bytes'),
      'retention.ms': retentionMs,
      'segment.bytes': num(s, 'log.segment.bytes'),
      'segment.index.bytes': num(s, 'log.index.size.max.bytes'),
      'segment.ms': optionalNum(s, 'log.roll.ms') ?? num(s, 'log.roll.hours') * 3_600_000,
    },
  };
}

/** The storage engine's view of a topic's effective settings. */
export function logConfigOf(t: TopicDefaults): Partial<LogConfig> {
  const policy = t['cleanup.policy'];
  return {
    segmentBytes: t['segment.bytes'],
    segmentMs: t['segment.ms'],
    flushMessages: t['flush.messages'],
    flushMs: t['flush.ms'],
    retentionMs: t['retention.ms'],
    retentionBytes: t['retention.bytes'],
    indexIntervalBytes: t['index.interval.bytes'],
    segmentIndexBytes: t['segment.index.bytes'],
    maxMessageBytes: t['max.message.bytes'],
    cleanupPolicy: policy === 'compact' ? 'compact' : policy.includes('compact') ? 'compact,delete' : 'delete',
  };
}

/**
 * Topic-level settings (Kafka's topic config names), their validation, and the broker
 * settings they default to. A topic stores only the settings set on it (overrides); every
 * other one is the broker's default, which DescribeConfigs reports with its source.
 */
import { ErrorCode } from '../protocol/error-codes.js';
import type { TopicDefaults } from './broker-config.js';

type Kind = 'int' | 'long' | 'string' | 'list' | 'boolean' | 'double';

export interface TopicSetting {
  kind: Kind;
  /** The broker setting whose value is the default (DescribeConfigs synonym). */
  brokerSynonym: string | null;
  min?: number;
  max?: number;
  oneOf?: readonly string[];
  /** Kafka's default when the broker has no setting for it. */
  fixedDefault?: string;
  doc: string;
}

export const TOPIC_SETTINGS: Record<string, TopicSetting> = {
  'cleanup.policy': { kind: 'list', brokerSynonym: 'log.cleanup.policy', oneOf: ['delete', 'compact'], doc: 'delete (retention) and/or compact.' },
  'compression.type': { kind: 'string', brokerSynonym: 'compression.type', oneOf: ['producer', 'uncompressed', 'gzip', 'snappy', 'lz4', 'zstd'], doc: 'Codec of stored batches.' },
  'delete.retention.ms': { kind: 'long', brokerSynonym: null, min: 0, fixedDefault: '86400000', doc: 'How long delete tombstones are kept (compaction).' },
  'file.delete.delay.ms': { kind: 'long', brokerSynonym: null, min: 0, fixedDefault: '60000', doc: 'Delay before deleted segment files are removed.' },
  'flush.messages': { kind: 'long', brokerSynonym: 'log.flush.interval.messages', min: 1, doc: 'fsync after this many messages.' },
  'flush.ms': { kind: 'long', brokerSynonym: 'log.flush.interval.ms', min: 0, doc: 'fsync when unflushed data is this old.' },
  'index.interval.bytes': { kind: 'int', brokerSynonym: 'log.index.interval.bytes', min: 0, doc: 'Bytes between offset index entries.' },
  'max.compaction.lag.ms': { kind: 'long', brokerSynonym: null, min: 1, fixedDefault: '9223372036854775807', doc: 'Longest time a message stays uncompacted.' },
  'max.message.bytes': { kind: 'int', brokerSynonym: 'message.max.bytes', min: 0, doc: 'The largest record batch accepted.' },
  'message.timestamp.type': { kind: 'string', brokerSynonym: 'log.message.timestamp.type', oneOf: ['CreateTime', 'LogAppendTime'], doc: 'Whose timestamp batches keep.' },
  'min.cleanable.dirty.ratio': { kind: 'double', brokerSynonym: null, min: 0, max: 1, fixedDefault: '0.5', doc: 'Compaction trigger.' },
  'min.compaction.lag.ms': { kind: 'long', brokerSynonym: null, min: 0, fixedDefault: '0', doc: 'Shortest time a message stays uncompacted.' },
  'min.insync.replicas': { kind: 'int', brokerSynonym: 'min.insync.replicas', min: 1, doc: 'Replicas that must have a batch for acks=all.' },
  'retention.bytes': { kind: 'long', brokerSynonym: 'log.retention.bytes', min: -1, doc: 'Size above which old segments are deleted; -1: none.' },
  'retention.ms': { kind: 'long', brokerSynonym: 'log.retention.ms', min: -1, doc: 'Age above which segments are deleted; -1: never.' },
  'segment.bytes': { kind: 'int', brokerSynonym: 'log.segment.bytes', min: 14, doc: 'Segment size.' },
  'segment.index.bytes': { kind: 'int', brokerSynonym: 'log.index.size.max.bytes', min: 8, doc: 'Largest offset index of a segment.' },
  'segment.jitter.ms': { kind: 'long', brokerSynonym: null, min: 0, fixedDefault: '0', doc: 'Random jitter on segment.ms.' },
  'segment.ms': { kind: 'long', brokerSynonym: 'log.roll.ms', min: 1, doc: 'Segment age at which it rolls.' },
  'unclean.leader.election.enable': { kind: 'boolean', brokerSynonym: null, fixedDefault: 'false', doc: 'Single node: no effect.' },
};

const MAX_LONG = 9223372036854775807;

export interface ConfigProblem {
  errorCode: number;
  message: string;
}

/** Validates one topic setting; returns the normalized value or the problem. */
export function validateTopicSetting(name: string, value: string | null): { value: string } | ConfigProblem {
  const s = TOPIC_SETTINGS[name];
  if (s === undefined) return { errorCode: ErrorCode.INVALID_CONFIG, message: `Unknown topic config name: ${name}` };
  if (value === null) return { errorCode: ErrorCode.INVALID_CONFIG, message: `Null value not supported for topic config ${name}` };
  const v = value.trim();
  const bad = (why: string): ConfigProblem => ({ errorCode: ErrorCode.INVALID_CONFIG, message: `Invalid value ${value} for configuration ${name}: ${why}` });
  switch (s.kind) {
    case 'int':
    case 'long': {
      if (!/^-?\d+$/.test(v)) return bad('Not a number of type ' + (s.kind === 'int' ? 'INT' : 'LONG'));
      const n = Number(v);
      const max = s.max ?? (s.kind === 'int' ? 2147483647 : MAX_LONG);
      if ((s.min !== undefined && n < s.min) || n > max) return bad(`Value must be at least ${s.min}`);
      return { value: v };
    }
    case 'double': {
      const n = Number(v);
      if (v === '' || !Number.isFinite(n)) return bad('Not a number of type DOUBLE');
      if ((s.min !== undefined && n < s.min) || (s.max !== undefined && n > s.max)) return bad(`Value must be between ${s.min} and ${s.max}`);
      return { value: v };
    }
    case 'boolean':
      if (v !== 'true' && v !== 'false') return bad('Expected value to be either true or false');
      return { value: v };
    case 'list': {
      const items = v.split(',').map((x) => x.trim()).filter((x) => x !== '');
      if (items.length === 0) return bad('Empty list');
      for (const item of items) if (s.oneOf && !s.oneOf.includes(item)) return bad(`String must be one of: ${s.oneOf.join(', ')}`);
      return { value: items.join(',') };
    }
    default:
      if (s.oneOf && !s.oneOf.includes(v)) return bad(`String must be one of: ${s.oneOf.join(', ')}`);
      return { value: v };
  }
}

/** The broker's default value of a topic setting, as text (Kafka reports Long.MAX as digits). */
export function topicSettingDefault(name: string, defaults: TopicDefaults): string {
  const s = TOPIC_SETTINGS[name]!;
  if (s.fixedDefault !== undefined) return s.fixedDefault;
  const v = (defaults as unknown as Record<string, number | string>)[name];
  if (v === undefined) return '';
  if (v === Infinity) return '9223372036854775807';
  return String(v);
}

/** The effective settings of a topic: its overrides on top of the broker defaults. */
export function effectiveTopicDefaults(defaults: TopicDefaults, overrides: Readonly<Record<string, string>>): TopicDefaults {
  const out: Record<string, number | string> = { ...(defaults as unknown as Record<string, number | string>) };
  for (const [k, v] of Object.entries(overrides)) {
    if (!(k in out)) continue;
    const kind = TOPIC_SETTINGS[k]?.kind;
    out[k] = kind === 'int' || kind === 'long' ? (v === '9223372036854775807' ? Infinity : Number(v)) : v;
  }
  return out as unknown as TopicDefaults;
}

/**
 * Kafka's topic name rules: 1–249 characters of [a-zA-Z0-9._-], not "." or "..". Returns why
 * a name is not legal, or null.
 */
export function topicNameProblem(name: string): string | null {
  if (name.length === 0) return 'Topic name is illegal, it can\'t be empty';
  if (name === '.' || name === '..') return 'Topic name cannot be "." or ".."';
  if (name.length > 249) return `Topic name is illegal, it can't be longer than 249 characters, topic name: ${name.slice(0, 40)}...`;
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) return `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`;
  return null;
}

/** Names that differ only in '.' versus '_' collide in metric names, so Kafka refuses the pair. */
export function collisionKey(name: string): string {
  return name.replace(/\./g, '_');
}

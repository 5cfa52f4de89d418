/**
 * Per-topic log settings, with Kafka's names and defaults (topic-level configs; the broker
 * maps its `log.*` settings onto these). Values that Kafka writes as Long.MAX_VALUE mean
 * "never" and are Infinity here.
 */
export interface LogConfig {
  /** segment.bytes: roll to a new segment when the active one would exceed this. */
  segmentBytes: number;
  /** segment.ms: roll when the active segment's first batch is older than this. */
  segmentMs: number;
  /** flush.messages: fsync after this many messages (records) since the last fsync. */
  flushMessages: number;
  /** flush.ms: fsync when unflushed data is older than this. */
  flushMs: number;
  /** retention.ms: delete segments whose largest timestamp is older; -1 = keep forever. */
  retentionMs: number;
  /** retention.bytes: delete the oldest segments while the log is larger; -1 = no limit. */
  retentionBytes: number;
  /** index.interval.bytes: add an offset/time index entry after this many log bytes. */
  indexIntervalBytes: number;
  /** segment.index.bytes: the most bytes an offset index may hold; the segment rolls then. */
  segmentIndexBytes: number;
  /** max.message.bytes: the largest batch accepted. */
  maxMessageBytes: number;
  /** cleanup.policy: "delete" (retention) or "compact" (reserved for log compaction). */
  cleanupPolicy: 'delete' | 'compact' | 'compact,delete';
}

export const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = Object.freeze({
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * 24 * 60 * 60 * 1000,
  flushMessages: Infinity,
  flushMs: Infinity,
  retentionMs: 7 * 24 * 60 * 60 * 1000,
  retentionBytes: -1,
  indexIntervalBytes: 4096,
  segmentIndexBytes: 10 * 1024 * 1024,
  maxMessageBytes: 1024 * 1024 + 12,
  cleanupPolicy: 'delete',
});

export function logConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  const c = { ...DEFAULT_LOG_CONFIG, ...overrides };
  if (!(c.segmentBytes >= 14)) throw new RangeError(`segment.bytes ${c.segmentBytes} is too small`);
  if (!(c.indexIntervalBytes >= 0)) throw new RangeError(`index.interval.bytes ${c.indexIntervalBytes} is negative`);
  if (!(c.segmentIndexBytes >= 8)) throw new RangeError(`segment.index.bytes ${c.segmentIndexBytes} is too small`);
  if (!(c.maxMessageBytes >= 0)) throw new RangeError(`max.message.bytes ${c.maxMessageBytes} is negative`);
  return c;
}

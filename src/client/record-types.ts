/**
 * The shapes of records as applications see them, shared by the producer and the consumer.
 */
import type { RecordHeader } from '../protocol/record-batch.js';

/** Headers as an object (one value per key) or as a list (Kafka allows repeated keys). */
export type RecordHeadersInput = Record<string, string | Buffer | null | undefined> | Array<{ key: string; value: string | Buffer | null }>;

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface TopicPartitionOffset extends TopicPartition {
  offset: bigint;
}

/** Converts the application's headers to the record format's list. */
export function toRecordHeaders(headers: RecordHeadersInput | undefined): RecordHeader[] {
  if (headers === undefined) return [];
  const toBuffer = (v: string | Buffer | null | undefined): Buffer | null =>
    v === null || v === undefined ? null : typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
  if (Array.isArray(headers)) return headers.map((h) => ({ key: h.key, value: toBuffer(h.value) }));
  return Object.entries(headers).map(([key, value]) => ({ key, value: toBuffer(value) }));
}

/** `topic-partition`, the key the client uses in its maps. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/**
 * The "consumer" embedded protocol of classic groups: what members put in JoinGroup
 * (subscription) and what the leader hands out in SyncGroup (assignment). Each is an int16
 * version followed by the versioned struct (src/protocol/messages/data/consumer-protocol-*).
 *
 * Decoding follows the Java client: a version newer than this client knows is read as the
 * newest known one, ignoring the bytes it does not understand, because newer versions only
 * ever add fields at the end.
 */
import { ByteReader } from '../protocol/byte-reader.js';
import { encodeData } from '../protocol/frame.js';
import {
  type ConsumerProtocolAssignment,
  ConsumerProtocolAssignmentCodec,
  type ConsumerProtocolSubscription,
  ConsumerProtocolSubscriptionCodec,
} from '../protocol/messages/index.js';
import { ProtocolError } from '../protocol/protocol-error.js';
import type { TopicPartition } from './record-types.js';

export const CONSUMER_PROTOCOL_TYPE = 'consumer';
export const SUBSCRIPTION_VERSION = 3;

export interface Subscription {
  version: number;
  topics: string[];
  userData: Buffer | null;
  ownedPartitions: TopicPartition[];
  /** The generation the owned partitions come from; -1 when unknown (versions before 2). */
  generationId: number;
  rackId: string | null;
}

export interface Assignment {
  version: number;
  partitions: TopicPartition[];
  userData: Buffer | null;
}

function withVersion(version: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(2 + body.length);
  out.writeInt16BE(version, 0);
  body.copy(out, 2);
  return out;
}

function groupByTopic(partitions: readonly TopicPartition[]): Array<{ topic: string; partitions: number[] }> {
  const byTopic = new Map<string, number[]>();
  for (const tp of partitions) {
    let list = byTopic.get(tp.topic);
    if (list === undefined) byTopic.set(tp.topic, (list = []));
    list.push(tp.partition);
  }
  return [...byTopic].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([topic, ps]) => ({ topic, partitions: ps.sort((a, b) => a - b) }));
}

function flatten(list: ReadonlyArray<{ topic: string; partitions: number[] }>): TopicPartition[] {
  return list.flatMap((t) => t.partitions.map((partition) => ({ topic: t.topic, partition })));
}

export function encodeSubscription(sub: Omit<Subscription, 'version'>, version = SUBSCRIPTION_VERSION): Buffer {
  const data: ConsumerProtocolSubscription = {
    topics: [...sub.topics].sort(),
    userData: sub.userData,
    ownedPartitions: groupByTopic(sub.ownedPartitions),
    generationId: sub.generationId,
    rackId: sub.rackId,
  };
  return withVersion(version, encodeData(ConsumerProtocolSubscriptionCodec, version, data));
}

export function decodeSubscription(buf: Buffer): Subscription {
  const { version, readAt } = readVersion(buf, ConsumerProtocolSubscriptionCodec.maxVersion, 'subscription');
  const r = new ByteReader(buf, 2);
  const data = ConsumerProtocolSubscriptionCodec.read(readAt, r);
  r.check('consumer protocol subscription');
  return {
    version,
    topics: data.topics,
    userData: data.userData,
    ownedPartitions: flatten(data.ownedPartitions ?? []),
    generationId: data.generationId ?? -1,
    rackId: data.rackId ?? null,
  };
}

export function encodeAssignment(assignment: Omit<Assignment, 'version'>, version: number): Buffer {
  const data: ConsumerProtocolAssignment = { assignedPartitions: groupByTopic(assignment.partitions), userData: assignment.userData };
  return withVersion(version, encodeData(ConsumerProtocolAssignmentCodec, version, data));
}

/** An empty buffer is a valid "nothing assigned" (the coordinator sends one to members the leader skipped). */
export function decodeAssignment(buf: Buffer): Assignment {
  if (buf.length === 0) return { version: 0, partitions: [], userData: null };
  const { version, readAt } = readVersion(buf, ConsumerProtocolAssignmentCodec.maxVersion, 'assignment');
  const r = new ByteReader(buf, 2);
  const data = ConsumerProtocolAssignmentCodec.read(readAt, r);
  r.check('consumer protocol assignment');
  return { version, partitions: flatten(data.assignedPartitions), userData: data.userData };
}

function readVersion(buf: Buffer, maxVersion: number, what: string): { version: number; readAt: number } {
  if (buf.length < 2) throw new ProtocolError(`consumer protocol ${what} of ${buf.length} bytes has no version`);
  const version = buf.readInt16BE(0);
  if (version < 0) throw new ProtocolError(`consumer protocol ${what} has invalid version ${version}`);
  return { version, readAt: Math.min(version, maxVersion) };
}

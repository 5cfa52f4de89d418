/**
 * The "consumer" embedded protocol: what consumers put in JoinGroup metadata (their
 * subscription) and SyncGroup assignments, each an int16 version then the struct. The broker
 * reads them only to answer questions about a group (which topics it consumes, which member
 * owns a partition); it never needs them to run the rebalance. Versions newer than the
 * generated codecs know are read as the newest known one, as Kafka's clients do: fields are
 * only ever added at the end.
 */
import { ByteReader } from '../../protocol/byte-reader.js';
import type { DataCodec } from '../../protocol/api-codec.js';
import { type ConsumerProtocolAssignment, ConsumerProtocolAssignmentCodec } from '../../protocol/messages/data/consumer-protocol-assignment.js';
import { type ConsumerProtocolSubscription, ConsumerProtocolSubscriptionCodec } from '../../protocol/messages/data/consumer-protocol-subscription.js';

function readEmbedded<T>(codec: DataCodec<T>, buf: Buffer): T | null {
  if (buf.length < 2) return null;
  const r = new ByteReader(buf);
  const version = r.int16();
  if (version < 0) return null;
  const m = codec.read(Math.min(version, codec.maxVersion), r);
  return r.failed ? null : m;
}

/** A consumer's subscription, or null when the bytes are not the consumer protocol. */
export function readSubscription(buf: Buffer): ConsumerProtocolSubscription | null {
  try {
    return readEmbedded(ConsumerProtocolSubscriptionCodec, buf);
  } catch {
    return null;
  }
}

/** A consumer's assignment, or null when the bytes are not the consumer protocol. */
export function readAssignment(buf: Buffer): ConsumerProtocolAssignment | null {
  try {
    return readEmbedded(ConsumerProtocolAssignmentCodec, buf);
  } catch {
    return null;
  }
}

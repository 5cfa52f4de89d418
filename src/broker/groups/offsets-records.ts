/**
 * The records of the internal topic `__consumer_offsets`, in Kafka's own formats so that
 * tools reading that topic (kafka-console-consumer with its OffsetsMessageFormatter, kcat
 * with a decoder, Kafka itself) understand them. Each record is a plain magic-2 record:
 *
 *   key   = int16 key version, then the key struct of that version
 *             0, 1: OffsetCommitKey  { group: string, topic: string, partition: int32 }
 *             2:    GroupMetadataKey { group: string }
 *   value = int16 value version, then the value struct of that version, or null (a
 *           tombstone: the offset or the group was deleted)
 *             OffsetCommitValue  v1 when the commit carries an expire timestamp, else v3
 *             GroupMetadataValue v3 (members with group instance ids)
 *
 * Key versions 0 and 1 were written by brokers before and after Kafka 0.10's commit format
 * change; both are read. Values are read at any version the generated codecs know.
 */
import { ByteReader } from '../../protocol/byte-reader.js';
import { ByteWriter } from '../../protocol/byte-writer.js';
import type { DataCodec } from '../../protocol/api-codec.js';
import { GroupMetadataKeyCodec } from '../../protocol/messages/internal/group-metadata-key.js';
import { type GroupMetadataValue, GroupMetadataValueCodec } from '../../protocol/messages/internal/group-metadata-value.js';
import { OffsetCommitKeyCodec } from '../../protocol/messages/internal/offset-commit-key.js';
import { type OffsetCommitValue, OffsetCommitValueCodec } from '../../protocol/messages/internal/offset-commit-value.js';
import { ProtocolError } from '../../protocol/protocol-error.js';

export const OFFSETS_TOPIC = '__consumer_offsets';

const OFFSET_COMMIT_KEY_VERSION = 1;
const GROUP_METADATA_KEY_VERSION = 2;
const OFFSET_COMMIT_VALUE_VERSION = 3;
const OFFSET_COMMIT_VALUE_VERSION_WITH_EXPIRY = 1;
const GROUP_METADATA_VALUE_VERSION = 3;

export type { GroupMetadataValue, OffsetCommitValue };

export type OffsetsRecord =
  | { type: 'offset'; group: string; topic: string; partition: number; value: OffsetCommitValue | null }
  | { type: 'group'; group: string; value: GroupMetadataValue | null };

/** int16 `prefix` (a key's record type or a value's version), then `m` at `version`. */
function encodeVersioned<T>(codec: DataCodec<T>, prefix: number, m: T, version = prefix): Buffer {
  const w = new ByteWriter();
  w.allocate(2 + codec.size(version, m, w));
  w.int16(prefix);
  codec.write(version, m, w);
  return w.finishOne();
}

function decodeVersioned<T>(codec: DataCodec<T>, version: number, r: ByteReader, what: string): T {
  if (version < codec.minVersion || version > codec.maxVersion) throw new ProtocolError(`${what} version ${version} is not known`);
  const m = codec.read(version, r);
  r.done(`${codec.name} v${version}`);
  return m;
}

export function offsetCommitKey(group: string, topic: string, partition: number): Buffer {
  return encodeVersioned(OffsetCommitKeyCodec, OFFSET_COMMIT_KEY_VERSION, { group, topic, partition }, 0);
}

export function groupMetadataKey(group: string): Buffer {
  return encodeVersioned(GroupMetadataKeyCodec, GROUP_METADATA_KEY_VERSION, { group }, 0);
}

export function offsetCommitValue(v: OffsetCommitValue): Buffer {
  const version = v.expireTimestamp !== undefined && v.expireTimestamp >= 0n ? OFFSET_COMMIT_VALUE_VERSION_WITH_EXPIRY : OFFSET_COMMIT_VALUE_VERSION;
  return encodeVersioned(OffsetCommitValueCodec, version, v);
}

export function groupMetadataValue(v: GroupMetadataValue): Buffer {
  return encodeVersioned(GroupMetadataValueCodec, GROUP_METADATA_VALUE_VERSION, v);
}

/** Decodes one record of `__consumer_offsets`; null for record types this broker does not use. */
export function decodeOffsetsRecord(key: Buffer, value: Buffer | null): OffsetsRecord | null {
  const r = new ByteReader(key);
  const keyVersion = r.int16();
  if (r.failed) throw new ProtocolError('__consumer_offsets record key is too short');
  if (keyVersion === 0 || keyVersion === 1) {
    const k = OffsetCommitKeyCodec.read(0, r);
    r.done('OffsetCommitKey');
    if (value === null) return { type: 'offset', ...k, value: null };
    const vr = new ByteReader(value);
    const vv = vr.int16();
    return { type: 'offset', ...k, value: decodeVersioned(OffsetCommitValueCodec, vv, vr, 'OffsetCommitValue') };
  }
  if (keyVersion === 2) {
    const k = GroupMetadataKeyCodec.read(0, r);
    r.done('GroupMetadataKey');
    if (value === null) return { type: 'group', group: k.group, value: null };
    const vr = new ByteReader(value);
    const vv = vr.int16();
    return { type: 'group', group: k.group, value: decodeVersioned(GroupMetadataValueCodec, vv, vr, 'GroupMetadataValue') };
  }
  // Newer record types (KIP-848 consumer groups, share groups) are not written by this broker.
  return null;
}

/** Java's String.hashCode, which Kafka uses to place a group in a partition of the topic. */
export function javaStringHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** The partition of `__consumer_offsets` that holds a group, as Kafka computes it. */
export function offsetsPartitionFor(group: string, partitions: number): number {
  const h = javaStringHashCode(group);
  // Kafka's Utils.abs maps Integer.MIN_VALUE to 0.
  const abs = h === -2147483648 ? 0 : Math.abs(h);
  return abs % partitions;
}

/**
 * Choosing a partition for a record that names none.
 *
 * Keyed records: `toPositive(murmur2(key)) % partitionCount`, exactly the Java client's and
 * kafkajs's default, so equal keys meet in equal partitions whichever client wrote them.
 *
 * Keyless records stick to one partition until about a batch's worth of bytes went there and
 * then move to the next (Kafka's "sticky" partitioner, KIP-480): spreading every record
 * round-robin would cut every partition's batches into tiny pieces, while sticking fills
 * whole batches and still spreads the load over time.
 */
import { murmur2, toPositive } from './murmur2.js';

export interface PartitionerInput {
  topic: string;
  /** The serialized key; null for keyless records. */
  key: Buffer | null;
  /** The serialized value's size, so sticky partitioners can count bytes. */
  valueBytes: number;
  partitionCount: number;
}

export interface Partitioner {
  partition(input: PartitionerInput): number;
}

/** The partition murmur2 assigns to a key, as Java's default partitioner computes it. */
export function partitionForKey(key: Uint8Array, partitionCount: number): number {
  return toPositive(murmur2(key)) % partitionCount;
}

export interface DefaultPartitionerOptions {
  /** Bytes sent to one partition before keyless records move on to the next. */
  stickyBytes?: number;
}

export class DefaultPartitioner implements Partitioner {
  private readonly stickyBytes: number;
  private readonly sticky = new Map<string, { partition: number; bytes: number }>();

  constructor(options: DefaultPartitionerOptions = {}) {
    this.stickyBytes = options.stickyBytes ?? 16384;
  }

  partition(input: PartitionerInput): number {
    if (input.key !== null) return partitionForKey(input.key, input.partitionCount);
    let state = this.sticky.get(input.topic);
    if (state === undefined) {
      // A random start keeps many producers from all piling onto partition 0 at once.
      state = { partition: Math.floor(Math.random() * input.partitionCount), bytes: 0 };
      this.sticky.set(input.topic, state);
    }
    if (state.bytes >= this.stickyBytes || state.partition >= input.partitionCount) {
      state.partition = (state.partition + 1) % input.partitionCount;
      state.bytes = 0;
    }
    state.bytes += input.valueBytes + 1;
    return state.partition;
  }
}

/** Keyless records go round-robin, one record at a time (kafkajs's behaviour); keys still hash with murmur2. */
export class RoundRobinPartitioner implements Partitioner {
  private readonly next = new Map<string, number>();

  partition(input: PartitionerInput): number {
    if (input.key !== null) return partitionForKey(input.key, input.partitionCount);
    const n = this.next.get(input.topic) ?? 0;
    this.next.set(input.topic, n + 1);
    return n % input.partitionCount;
  }
}

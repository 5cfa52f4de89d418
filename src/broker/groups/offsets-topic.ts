/**
 * `__consumer_offsets` on this broker's storage: the GroupLog of the group coordinator.
 *
 * The topic is created on first use, as Kafka does, with offsets.topic.num.partitions
 * partitions (fixed from then on: a group's partition is a hash of its id modulo that count)
 * and cleanup.policy=compact. A group's records go to its partition as one uncompressed batch
 * per call, appended durably: the call resolves after an fdatasync that covers the batch, so
 * an acknowledged commit survives a crash of the process or the machine. At start the whole
 * topic is read back and every record is handed to the coordinator's replay.
 */
import { buildUncompressedRecordBatch, readRecords, splitRecordBatches } from '../../protocol/record-batch.js';
import type { Clock } from '../../storage/clock.js';
import type { PartitionLog } from '../../storage/partition-log.js';
import type { TopicManager } from '../topic-manager.js';
import type { GroupLog, GroupLogRecord } from './group-coordinator.js';
import { decodeOffsetsRecord, OFFSETS_TOPIC, type OffsetsRecord, offsetsPartitionFor } from './offsets-records.js';

/** Bytes read from the log per step while replaying. */
const REPLAY_READ_BYTES = 4 * 1024 * 1024;
/** Bound on one decompressed batch while replaying (Kafka's offsets.load.buffer.size is 5 MiB). */
const REPLAY_BATCH_BYTES_MAX = 64 * 1024 * 1024;

export interface OffsetsTopicOptions {
  topics: TopicManager;
  clock: Clock;
  partitions: number;
  segmentBytes: number;
  log: (message: string) => void;
}

export class OffsetsTopic implements GroupLog {
  private creating: Promise<void> | null = null;

  constructor(private readonly options: OffsetsTopicOptions) {}

  /** Partitions of the topic: as created if it exists, else as configured. */
  get partitionCount(): number {
    return this.options.topics.get(OFFSETS_TOPIC)?.partitions ?? this.options.partitions;
  }

  partitionFor(groupId: string): number {
    return offsetsPartitionFor(groupId, this.partitionCount);
  }

  private ensureTopic(): Promise<void> {
    if (this.options.topics.get(OFFSETS_TOPIC) !== undefined) return Promise.resolve();
    this.creating ??= (async () => {
      const r = await this.options.topics.create({
        name: OFFSETS_TOPIC,
        numPartitions: this.options.partitions,
        replicationFactor: -1,
        configs: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'segment.bytes', value: String(this.options.segmentBytes) },
          { name: 'compression.type', value: 'producer' },
        ],
      });
      if ('errorCode' in r && this.options.topics.get(OFFSETS_TOPIC) === undefined) throw new Error(`cannot create ${OFFSETS_TOPIC}: ${r.message}`);
    })().finally(() => {
      this.creating = null;
    });
    return this.creating;
  }

  private partitionLog(partition: number): PartitionLog {
    const log = this.options.topics.partitionLog(OFFSETS_TOPIC, partition);
    if (log === undefined) throw new Error(`${OFFSETS_TOPIC}-${partition} is not available`);
    return log;
  }

  async append(groupId: string, records: GroupLogRecord[]): Promise<void> {
    await this.ensureTopic();
    const partition = this.partitionFor(groupId);
    const nowMs = BigInt(this.options.clock.nowMs());
    const batch = buildUncompressedRecordBatch({
      baseTimestamp: nowMs,
      records: records.map((r) => ({ key: r.key, value: r.value, timestamp: nowMs })),
    });
    await this.partitionLog(partition).append(batch, { durable: true });
  }

  /** Reads every record of the topic in log order, partition by partition. */
  async replay(apply: (record: OffsetsRecord) => void): Promise<number> {
    const topic = this.options.topics.get(OFFSETS_TOPIC);
    if (topic === undefined) return 0;
    let count = 0;
    let skipped = 0;
    for (let p = 0; p < topic.partitions; p++) {
      const log = this.partitionLog(p);
      let offset = log.logStartOffset;
      const end = log.logEndOffset;
      while (offset < end) {
        const read = await log.read(offset, REPLAY_READ_BYTES);
        if (read.chunks.length === 0) break;
        for (const chunk of read.chunks) {
          for (const batch of splitRecordBatches(chunk).batches) {
            if (batch.isControl) continue;
            for (const record of await readRecords(batch, REPLAY_BATCH_BYTES_MAX)) {
              if (record.key === null) {
                skipped++;
                continue;
              }
              let decoded: OffsetsRecord | null;
              try {
                decoded = decodeOffsetsRecord(record.key, record.value);
              } catch (e) {
                skipped++;
                if (skipped === 1) this.options.log(`${OFFSETS_TOPIC}-${p} offset ${record.offset}: skipping a record that cannot be read: ${(e as Error).message}`);
                continue;
              }
              if (decoded === null) continue;
              apply(decoded);
              count++;
            }
          }
        }
        offset = read.nextOffset;
      }
    }
    if (skipped > 1) this.options.log(`${OFFSETS_TOPIC}: skipped ${skipped} records that cannot be read`);
    return count;
  }
}

import { ErrorCode } from '../../protocol/error-codes.js';
import { DeleteRecordsApi, type DeleteRecordsResponseDeleteRecordsPartitionResult } from '../../protocol/messages/index.js';
import { StorageError } from '../../storage/storage-errors.js';
import { handler } from './handler.js';

/** DeleteRecords offset meaning "up to the high watermark". */
const HIGH_WATERMARK = -1n;

/**
 * DeleteRecords 0–2: moves each partition's log start offset up to the given offset (-1: the
 * high watermark, which on one node is the log end) and answers the new low watermark.
 * Segments wholly below it are removed. OFFSET_OUT_OF_RANGE beyond the end or below -1;
 * POLICY_VIOLATION on a compact-only topic (cleanup.policy without delete), as Kafka;
 * UNKNOWN_TOPIC_OR_PARTITION for partitions this node does not have. Errors carry
 * low_watermark -1.
 */
export const deleteRecordsHandler = handler(DeleteRecordsApi, 0, 2, async (ctx, req) => {
  const { broker } = ctx;
  const topics = [];
  for (const t of req.topics) {
    const partitions: DeleteRecordsResponseDeleteRecordsPartitionResult[] = [];
    const topic = broker.registry.get(t.name);
    const deletes = topic !== undefined && broker.topics.settingsOf(topic)['cleanup.policy'].split(',').includes('delete');
    for (const p of t.partitions) {
      const failed = (errorCode: number): void => void partitions.push({ partitionIndex: p.partitionIndex, lowWatermark: -1n, errorCode });
      const log = broker.topics.partitionLog(t.name, p.partitionIndex);
      if (log === undefined) {
        failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
        continue;
      }
      if (!deletes) {
        failed(ErrorCode.POLICY_VIOLATION);
        continue;
      }
      const offset = p.offset === HIGH_WATERMARK ? log.logEndOffset : Number(p.offset);
      if (offset < 0 || offset > log.logEndOffset) {
        failed(ErrorCode.OFFSET_OUT_OF_RANGE);
        continue;
      }
      try {
        const low = await log.deleteRecordsBefore(offset);
        partitions.push({ partitionIndex: p.partitionIndex, lowWatermark: BigInt(low), errorCode: ErrorCode.NONE });
      } catch (e) {
        if (!(e instanceof StorageError)) throw e;
        failed(e.errorCode);
      }
    }
    topics.push({ name: t.name, partitions });
  }
  return { throttleTimeMs: 0, topics };
});

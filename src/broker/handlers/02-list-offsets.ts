import { ErrorCode } from '../../protocol/error-codes.js';
import { ListOffsetsApi, type ListOffsetsResponseListOffsetsPartitionResponse } from '../../protocol/messages/index.js';
import { StorageError } from '../../storage/storage-errors.js';
import { handler } from './handler.js';

const LATEST = -1n;
const EARLIEST = -2n;
const MAX_TIMESTAMP = -3n;

/**
 * ListOffsets 0–7: the earliest offset (-2), the latest (-1), the record with the largest
 * timestamp (-3, v7), or the first offset whose timestamp is at least the given one. v0
 * answers in its own shape (a list of offsets); later versions with offset and timestamp.
 */
export const listOffsetsHandler = handler(ListOffsetsApi, 0, 7, async (ctx, req) => {
  const { broker, header } = ctx;
  const v = header.apiVersion;
  const topics = [];
  for (const t of req.topics) {
    const partitions: ListOffsetsResponseListOffsetsPartitionResponse[] = [];
    for (const p of t.partitions) {
      const answer = (errorCode: number, offset: number, timestamp: number): ListOffsetsResponseListOffsetsPartitionResponse =>
        v === 0
          ? { partitionIndex: p.partitionIndex, errorCode, oldStyleOffsets: errorCode === ErrorCode.NONE && offset >= 0 ? [BigInt(offset)] : [] }
          : { partitionIndex: p.partitionIndex, errorCode, timestamp: BigInt(timestamp), offset: BigInt(offset), ...(v >= 4 ? { leaderEpoch: errorCode === ErrorCode.NONE ? 0 : -1 } : {}) };
      const log = broker.topics.partitionLog(t.name, p.partitionIndex);
      if (log === undefined) {
        partitions.push(answer(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1, -1));
        continue;
      }
      if ((p.currentLeaderEpoch ?? -1) > 0) {
        partitions.push(answer(ErrorCode.UNKNOWN_LEADER_EPOCH, -1, -1));
        continue;
      }
      try {
        if (p.timestamp === EARLIEST) partitions.push(answer(ErrorCode.NONE, log.logStartOffset, -1));
        else if (p.timestamp === LATEST) partitions.push(answer(ErrorCode.NONE, log.logEndOffset, -1));
        else if (p.timestamp === MAX_TIMESTAMP && v >= 7) {
          const max = log.maxTimestamp;
          const found = max < 0 ? null : await log.offsetForTimestamp(max);
          partitions.push(found === null ? answer(ErrorCode.NONE, -1, -1) : answer(ErrorCode.NONE, found.offset, found.timestamp));
        } else if (p.timestamp < 0n) {
          partitions.push(answer(ErrorCode.INVALID_REQUEST, -1, -1));
        } else {
          const found = await log.offsetForTimestamp(Number(p.timestamp));
          partitions.push(found === null ? answer(ErrorCode.NONE, -1, -1) : answer(ErrorCode.NONE, found.offset, found.timestamp));
        }
      } catch (e) {
        if (!(e instanceof StorageError)) throw e;
        partitions.push(answer(e.errorCode, -1, -1));
      }
    }
    topics.push({ name: t.name, partitions });
  }
  return { throttleTimeMs: 0, topics };
});

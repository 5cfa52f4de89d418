import { ErrorCode } from '../../protocol/error-codes.js';
import { UnsupportedCompressionError, upConvertMessageSet } from '../../protocol/legacy-message-set.js';
import { ProduceApi, type ProduceResponsePartitionProduceResponse, type ProduceResponseTopicProduceResponse } from '../../protocol/messages/index.js';
import { ProtocolError } from '../../protocol/protocol-error.js';
import { RecordBatchView, TimestampType, peekMagic } from '../../protocol/record-batch.js';
import { StorageError } from '../../storage/storage-errors.js';
import type { AppendResult } from '../../storage/partition-log.js';
import { OFFSETS_TOPIC } from '../groups/offsets-records.js';
import { handler } from './handler.js';

/** Decompressed bytes a legacy (magic 0/1) message set may expand to while converting. */
const LEGACY_CONVERSION_BYTES_MAX = 64 * 1024 * 1024;

interface PartitionOutcome {
  errorCode: number;
  errorMessage: string | null;
  append: Promise<AppendResult> | null;
  logStartOffset: number;
  logAppendTime: boolean;
}

function failed(errorCode: number, errorMessage: string): PartitionOutcome {
  return { errorCode, errorMessage, append: null, logStartOffset: -1, logAppendTime: false };
}

const BATCH_PROBLEM_CODES = {
  corrupt: ErrorCode.CORRUPT_MESSAGE,
  'too-large': ErrorCode.MESSAGE_TOO_LARGE,
  'invalid-record': ErrorCode.INVALID_RECORD,
} as const;

/**
 * Produce 0–11. Every batch is validated (magic, size, CRC, record count and offsets) before
 * it is appended; v0–2 message sets (magic 0/1) are converted to one magic-2 batch. acks=0
 * gets no response at all, acks=1 an answer once appended, acks=-1 once fsynced (group
 * commit). Appends of one request are issued in request order before any is awaited.
 */
export const produceHandler = handler(ProduceApi, 0, 11, async (ctx, req) => {
  const { broker, header } = ctx;
  const v = header.apiVersion;
  const acks = req.acks;
  const validAcks = acks === 0 || acks === 1 || acks === -1;
  const now = broker.clock.nowMs();

  // Converting legacy message sets is asynchronous (decompression): do it first, so the
  // appends below all happen in one synchronous stretch, in request order.
  const converted = new Map<string, Buffer | PartitionOutcome>();
  if (validAcks && v <= 2) {
    for (const t of req.topicData) {
      for (const p of t.partitionData) {
        if (p.records === null || p.records.length === 0) continue;
        try {
          const magic = peekMagic(p.records, 0);
          const batch = magic === 2 ? p.records : await upConvertMessageSet(p.records, { maxUncompressedBytes: LEGACY_CONVERSION_BYTES_MAX });
          converted.set(`${t.name}/${p.index}`, batch);
        } catch (e) {
          if (e instanceof ProtocolError) converted.set(`${t.name}/${p.index}`, failed(ErrorCode.CORRUPT_MESSAGE, e.message));
          else if (e instanceof UnsupportedCompressionError) converted.set(`${t.name}/${p.index}`, failed(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, e.message));
          else throw e;
        }
      }
    }
  }

  const outcomes: PartitionOutcome[][] = [];
  for (const t of req.topicData) {
    const name = t.name ?? '';
    const topic = broker.registry.get(name);
    const row: PartitionOutcome[] = [];
    outcomes.push(row);
    for (const p of t.partitionData) {
      if (!validAcks) {
        row.push(failed(ErrorCode.INVALID_REQUIRED_ACKS, `acks must be 0, 1 or -1, not ${acks}`));
        continue;
      }
      const log = topic === undefined ? undefined : broker.topics.partitionLog(name, p.index);
      if (topic === undefined || log === undefined) {
        row.push(failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'This server does not host this topic-partition.'));
        continue;
      }
      if (name === OFFSETS_TOPIC) {
        // Only the group coordinator writes there; a stray record would be replayed as a commit.
        row.push(failed(ErrorCode.INVALID_TOPIC_EXCEPTION, `Cannot append to internal topic ${name}`));
        continue;
      }
      const conv = converted.get(`${name}/${p.index}`);
      if (conv !== undefined && !Buffer.isBuffer(conv)) {
        row.push(conv);
        continue;
      }
      const records = conv ?? p.records;
      if (records === null || records.length === 0) {
        row.push(failed(ErrorCode.CORRUPT_MESSAGE, 'Produce request carries no records for this partition.'));
        continue;
      }
      const settings = broker.topics.settingsOf(topic);
      let batch: RecordBatchView;
      try {
        batch = new RecordBatchView(records, 0);
      } catch (e) {
        row.push(failed(ErrorCode.CORRUPT_MESSAGE, (e as Error).message));
        continue;
      }
      if (batch.sizeBytes !== records.length) {
        row.push(failed(ErrorCode.INVALID_RECORD, 'Produce requests (v3+) carry exactly one record batch per partition.'));
        continue;
      }
      if (batch.magic !== 2 && v >= 3) {
        row.push(failed(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, `magic ${batch.magic} batches need Produce v0-2`));
        continue;
      }
      const problem = batch.validate(settings['max.message.bytes']);
      if (problem !== null) {
        row.push(failed(BATCH_PROBLEM_CODES[problem.kind], problem.reason));
        continue;
      }
      const logAppendTime = settings['message.timestamp.type'] === 'LogAppendTime';
      if (logAppendTime) batch.setMaxTimestamp(TimestampType.LogAppendTime, BigInt(now));
      if (log.isOffline) {
        row.push(failed(ErrorCode.KAFKA_STORAGE_ERROR, 'The partition is offline.'));
        continue;
      }
      row.push({
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        append: log.append(records, { durable: acks === -1 }),
        logStartOffset: log.logStartOffset,
        logAppendTime,
      });
    }
  }

  // Every append of this request is issued (offsets assigned in order): the connection's
  // next request may start while these are written and fsynced.
  ctx.release();
  const responses: ProduceResponseTopicProduceResponse[] = [];
  for (let ti = 0; ti < req.topicData.length; ti++) {
    const t = req.topicData[ti]!;
    const partitionResponses: ProduceResponsePartitionProduceResponse[] = [];
    for (let pi = 0; pi < t.partitionData.length; pi++) {
      const o = outcomes[ti]![pi]!;
      let errorCode = o.errorCode;
      let errorMessage = o.errorMessage;
      let baseOffset = -1n;
      let logAppendTimeMs = -1n;
      if (o.append !== null) {
        try {
          const r = await o.append;
          baseOffset = BigInt(r.baseOffset);
          if (o.logAppendTime) logAppendTimeMs = BigInt(now);
        } catch (e) {
          if (!(e instanceof StorageError)) throw e;
          errorCode = e.errorCode;
          errorMessage = e.message;
        }
      }
      partitionResponses.push({
        index: t.partitionData[pi]!.index,
        errorCode,
        baseOffset,
        logAppendTimeMs,
        logStartOffset: BigInt(o.logStartOffset),
        recordErrors: [],
        errorMessage: v >= 8 ? errorMessage : null,
      });
    }
    responses.push({ name: t.name ?? '', partitionResponses });
  }
  if (acks === 0) {
    // Kafka closes the connection when an acks=0 produce fails, so that the client, which
    // gets no response, notices and refreshes its metadata.
    if (responses.some((r) => r.partitionResponses.some((p) => p.errorCode !== ErrorCode.NONE))) ctx.connection.fail('acks=0 produce failed');
    return null;
  }
  return { responses, throttleTimeMs: 0 };
});

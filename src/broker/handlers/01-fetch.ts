import { ErrorCode } from '../../protocol/error-codes.js';
import { UnsupportedCompressionError, downConvertRecordBatches } from '../../protocol/legacy-message-set.js';
import { FetchApi, type FetchResponsePartitionData, type FetchResponseFetchableTopicResponse } from '../../protocol/messages/index.js';
import { readBufferPool } from '../../storage/buffer-pool.js';
import { StorageError } from '../../storage/storage-errors.js';
import { handler } from './handler.js';

/** Decompressed bytes one batch may expand to while down-converting for an old client. */
const DOWN_CONVERSION_BYTES_MAX = 64 * 1024 * 1024;
const READ_COMMITTED = 1;
const EMPTY_RECORDS = Buffer.alloc(0);
/** Partition reads of one fetch running at once. */
const FETCH_READS_IN_FLIGHT = 8;

interface PartitionRead {
  errorCode: number;
  records: Buffer | null;
  bytes: number;
  highWatermark: number;
  logStartOffset: number;
}

/**
 * Fetch 0–12. Reads every requested partition from its fetch offset; the first partition
 * with data returns at least one whole batch even past max_bytes (KIP-74), later ones only
 * what fits. Below min_bytes the request long-polls, woken by appends, for up to
 * max_wait_ms (capped by ferry.fetch.max.wait.ms). No fetch sessions: session id 0 means
 * full fetches, which every client accepts. v0–3 get magic 1/0 message sets.
 */
export const fetchHandler = handler(FetchApi, 0, 12, async (ctx, req) => {
  const { broker, header } = ctx;
  const v = header.apiVersion;
  const readCommitted = (req.isolationLevel ?? 0) === READ_COMMITTED;
  if ((req.sessionId ?? 0) !== 0) {
    // We never hand out sessions, so a client naming one has it from elsewhere.
    return { throttleTimeMs: 0, errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0, responses: [] };
  }
  const maxWaitMs = Math.max(0, Math.min(req.maxWaitMs, broker.config.fetchMaxWaitMs));
  const deadline = broker.clock.nowMs() + maxWaitMs;
  const keys = req.topics.flatMap((t) => t.partitions.map((p) => `${t.topic ?? ''}-${p.partition}`));

  /** One partition's read, started for every partition at once so their file reads overlap. */
  const readOne = async (topic: string, p: (typeof req.topics)[number]['partitions'][number], limit: number) => {
    const log = broker.topics.partitionLog(topic, p.partition);
    if (log === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, chunks: null, bytes: 0, highWatermark: -1, logStartOffset: -1 };
    if ((p.currentLeaderEpoch ?? -1) > 0) return { errorCode: ErrorCode.UNKNOWN_LEADER_EPOCH, chunks: null, bytes: 0, highWatermark: -1, logStartOffset: -1 };
    const base = { highWatermark: log.logEndOffset, logStartOffset: log.logStartOffset };
    if (limit <= 0) return { errorCode: ErrorCode.NONE, chunks: null, bytes: 0, ...base };
    try {
      // Pooled: the records go into this response only, which gives them back once written.
      const r = await log.read(Number(p.fetchOffset), limit, Infinity, { pooled: true });
      return { errorCode: ErrorCode.NONE, chunks: r.chunks, bytes: r.bytes, ...base };
    } catch (e) {
      if (e instanceof StorageError) return { errorCode: e.errorCode, chunks: null, bytes: 0, ...base };
      throw e;
    }
  };

  const partitions = req.topics.flatMap((t, ti) => t.partitions.map((p) => ({ ti, topic: t.topic ?? '', p })));

  const readAll = async (): Promise<{ reads: PartitionRead[][]; total: number }> => {
    const maxBytes = req.maxBytes ?? 0x7fffffff;
    let remaining = maxBytes;
    let total = 0;
    // Reads overlap, at most FETCH_READS_IN_FLIGHT at once, each limited by the budget left
    // when it starts, so memory stays within that many partition reads; results are then
    // taken in request order against the budget.
    const started: Array<ReturnType<typeof readOne>> = [];
    const launch = (): void => {
      const { topic, p } = partitions[started.length]!;
      // Once the budget is spent, nothing more is read (only the first partition with data
      // may go past it, KIP-74).
      const limit = remaining <= 0 && total > 0 ? 0 : Math.max(1, Math.min(p.partitionMaxBytes, remaining));
      const read = readOne(topic, p, limit);
      // Awaited in order below; a later one failing first must not count as unhandled meanwhile.
      read.catch(() => undefined);
      started.push(read);
    };
    const reads: PartitionRead[][] = req.topics.map(() => []);
    for (let i = 0; i < partitions.length; i++) {
      while (started.length < partitions.length && started.length <= i + FETCH_READS_IN_FLIGHT) launch();
      const r = await started[i]!;
      const out = reads[partitions[i]!.ti]!;
      const base = { errorCode: r.errorCode, highWatermark: r.highWatermark, logStartOffset: r.logStartOffset };
      if (r.chunks === null || r.bytes === 0 || (total > 0 && r.bytes > remaining)) {
        // Read but not sent: its buffers are no one else's (see buffer-pool.ts).
        if (r.chunks !== null) for (const c of r.chunks) readBufferPool.give(c);
        out.push({ ...base, records: null, bytes: 0 });
        continue;
      }
      let records = r.chunks.length === 1 ? r.chunks[0]! : Buffer.concat(r.chunks, r.bytes);
      if (v <= 3) {
        try {
          records = await downConvertRecordBatches(records, v <= 1 ? 0 : 1, { maxUncompressedBytes: DOWN_CONVERSION_BYTES_MAX });
        } catch (e) {
          if (!(e instanceof UnsupportedCompressionError)) throw e;
          out.push({ ...base, errorCode: ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, records: null, bytes: 0 });
          continue;
        }
      }
      out.push({ ...base, records, bytes: records.length });
      total += records.length;
      remaining -= records.length;
    }
    return { reads, total };
  };

  let result = await readAll();
  while (result.total < req.minBytes && !result.reads.some((row) => row.some((p) => p.errorCode !== ErrorCode.NONE))) {
    const left = deadline - broker.clock.nowMs();
    if (left <= 0 || ctx.connection.isClosed) break;
    await broker.waitForAppend(keys, left);
    if (broker.isClosing) break;
    // The records read so far are read again below; nothing else refers to their buffers.
    for (const row of result.reads) for (const p of row) if (p.records !== null) readBufferPool.give(p.records);
    result = await readAll();
  }

  const responses: FetchResponseFetchableTopicResponse[] = req.topics.map((t, ti) => ({
    topic: t.topic ?? '',
    partitions: t.partitions.map(
      (p, pi): FetchResponsePartitionData => {
        const r = result.reads[ti]![pi]!;
        return {
          partitionIndex: p.partition,
          errorCode: r.errorCode,
          highWatermark: BigInt(r.highWatermark),
          lastStableOffset: BigInt(r.highWatermark),
          logStartOffset: BigInt(r.logStartOffset),
          abortedTransactions: readCommitted ? [] : null,
          preferredReadReplica: -1,
          // Never null: librdkafka 2.0 rejects a MessageSetSize of -1; Kafka sends empty sets.
          records: r.records ?? EMPTY_RECORDS,
        };
      },
    ),
  }));
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses };
});

// Protocol codec benchmark: Produce request and Fetch response encode/decode with 1 MiB of
// records, and CRC-32C over small, medium and large inputs, each beside a Buffer.copy of the
// same bytes measured in the same run. Run with `npm run bench:protocol`.
//
// Every figure is the median of RUNS timed runs of at least RUN_SECONDS each, after a warm-up.
// Each measured function returns a number that is folded into a checksum printed at the end, so
// that V8 cannot drop the work as dead code.
//
// Reading the results: encoding references record payloads instead of copying them, and decoding
// returns the records field as a view, so the "encode → chunks" and "decode" rows cost the same
// whatever the payload size and their GB/s figures only say how small that cost is. The rows that
// produce one contiguous frame show the copy. Rows that allocate a fresh 1 MiB buffer per
// operation (Buffer.concat) depend on the C allocator: when it hands back recycled memory they run
// near copy speed, when it maps fresh pages they run at page-fault speed, and which one happens
// can change from row to row; the "copy into a reused buffer" rows leave that out.
import { cpus, arch, loadavg, platform, totalmem } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { buildUncompressedRecordBatch, RecordBatchView, type RecordInput } from '../src/protocol/record-batch.js';
import { crc32c, crc32cImplementation, crc32cJs } from '../src/protocol/crc32c.js';
import { encodeRequestFrame, encodeResponseFrame, readRequestBody, readRequestHeader, readResponse } from '../src/protocol/frame.js';
import { REFERENCE_BYTES_MIN } from '../src/protocol/byte-writer.js';
import { FetchApi, ProduceApi, type FetchResponse, type ProduceRequest } from '../src/protocol/messages/index.js';

const RUNS = 5;
const RUN_SECONDS = 0.5;
const WARMUP_SECONDS = 0.2;
const RECORDS = 1024;
const RECORD_VALUE_BYTES = 1024;

interface Result {
  name: string;
  group: string;
  bytesPerOp: number;
  opsPerSec: number;
  /** Bytes per second, from the median ops/s. */
  bytesPerSec: number;
  runsOpsPerSec: number[];
  /** Name of the Buffer.copy measurement of the same byte count. */
  baseline?: string;
  /** Name of a second reference row (Buffer.concat alone, for the encode + concat rows). */
  reference?: string;
  note?: string;
}

let sink = 0;

// Rows that allocate a fresh 1 MiB buffer per operation leave garbage that would otherwise be
// collected during whichever row runs next; collecting before each row keeps rows independent.
setFlagsFromString('--expose_gc');
const collectGarbage = runInNewContext('gc') as () => void;
const loadBefore = loadavg();

function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

/** Runs `fn` in batches until `seconds` pass; returns ops/s. */
function timedRun(fn: () => number, batch: number, seconds: number): number {
  let ops = 0;
  let acc = 0;
  const start = now();
  let elapsed = 0;
  do {
    for (let i = 0; i < batch; i++) acc = (acc + fn()) | 0;
    ops += batch;
    elapsed = now() - start;
  } while (elapsed < seconds);
  sink = (sink ^ acc) | 0;
  return ops / elapsed;
}

/** Picks a batch size whose run takes about 10 ms, so reading the clock costs nothing measurable. */
function calibrate(fn: () => number): number {
  let batch = 1;
  for (;;) {
    const start = now();
    let acc = 0;
    for (let i = 0; i < batch; i++) acc = (acc + fn()) | 0;
    sink = (sink ^ acc) | 0;
    if (now() - start >= 0.01 || batch >= 1 << 24) return batch;
    batch *= 2;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const results: Result[] = [];

function measure(group: string, name: string, bytesPerOp: number, fn: () => number, extra: Partial<Result> = {}): Result {
  collectGarbage();
  const batch = calibrate(fn);
  timedRun(fn, batch, WARMUP_SECONDS);
  const runs: number[] = [];
  for (let r = 0; r < RUNS; r++) runs.push(timedRun(fn, batch, RUN_SECONDS));
  const opsPerSec = median(runs);
  const result: Result = { name, group, bytesPerOp, opsPerSec, bytesPerSec: opsPerSec * bytesPerOp, runsOpsPerSec: runs, ...extra };
  results.push(result);
  process.stderr.write(`  ${name}: ${fmt(opsPerSec)} ops/s\n`);
  return result;
}

/** A Buffer.copy of `bytes` bytes into a preallocated target: the baseline for that byte count. */
function measureCopy(group: string, bytes: number): string {
  const name = `Buffer.copy ${sizeLabel(bytes)}`;
  if (!results.some((r) => r.name === name)) {
    const src = Buffer.alloc(bytes, 0xa5);
    const dst = Buffer.allocUnsafe(bytes);
    let i = 0;
    measure(group, name, bytes, () => {
      src[i++ % bytes] = i & 0xff;
      src.copy(dst);
      return dst[(i * 7) % bytes]!;
    });
  }
  return name;
}

function sizeLabel(bytes: number): string {
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes >> 20} MiB`;
  if (bytes >= 1 << 10 && bytes % (1 << 10) === 0) return `${bytes >> 10} KiB`;
  return `${bytes} B`;
}

function fmt(n: number): string {
  if (n >= 100) return Math.round(n).toLocaleString('en-US');
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

// ---- inputs --------------------------------------------------------------------------------

/** 1024 records with 1 KiB values (and 8-byte keys), built once with the record-batch builder. */
const batch: Buffer = (() => {
  const records: RecordInput[] = [];
  for (let i = 0; i < RECORDS; i++) {
    const key = Buffer.alloc(8);
    key.writeBigUInt64BE(BigInt(i));
    const value = Buffer.alloc(RECORD_VALUE_BYTES);
    for (let j = 0; j < value.length; j++) value[j] = (i * 31 + j * 7) & 0xff;
    records.push({ key, value, timestamp: 1_700_000_000_000n + BigInt(i) });
  }
  return buildUncompressedRecordBatch({ records, baseTimestamp: 1_700_000_000_000n, producerId: 1000n, producerEpoch: 0, baseSequence: 0 });
})();

const TOPIC_ID = Buffer.from([...Array(16).keys()]).toString('base64url');
const produceVersion = ProduceApi.maxVersion;
const fetchVersion = FetchApi.maxVersion;

function produceRequest(records: Buffer): ProduceRequest {
  // Produce v13 names topics by id; earlier versions by name.
  const topic = produceVersion >= 13 ? { topicId: TOPIC_ID } : { name: 'bench-topic' };
  return { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ ...topic, partitionData: [{ index: 0, records }] }] };
}

function fetchResponse(records: Buffer): FetchResponse {
  const topic = fetchVersion >= 13 ? { topicId: TOPIC_ID } : { topic: 'bench-topic' };
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: [
      {
        ...topic,
        partitions: [
          {
            partitionIndex: 0,
            errorCode: 0,
            highWatermark: 1024n,
            lastStableOffset: 1024n,
            logStartOffset: 0n,
            abortedTransactions: null,
            preferredReadReplica: -1,
            records,
          },
        ],
      },
    ],
  };
}

const produceBody = produceRequest(batch);
const fetchBody = fetchResponse(batch);
const produceFrame = Buffer.concat(encodeRequestFrame(ProduceApi, produceVersion, 1, 'bench', produceBody));
const fetchFrame = Buffer.concat(encodeResponseFrame(FetchApi, fetchVersion, 1, fetchBody));

// Sanity checks: the frames decode to the batch, so the benchmark measures working code.
{
  const frame = produceFrame.subarray(4);
  const decoded = readRequestBody(ProduceApi, readRequestHeader(frame), frame);
  if (!decoded.topicData[0]!.partitionData[0]!.records!.equals(batch)) throw new Error('produce round trip failed');
  const fetched = readResponse(FetchApi, fetchVersion, fetchFrame.subarray(4));
  if (!fetched.responses[0]!.partitions[0]!.records!.equals(batch)) throw new Error('fetch round trip failed');
  if (new RecordBatchView(batch).validate(1 << 30) !== null) throw new Error('batch does not validate');
  if (crc32c(batch) !== crc32cJs(batch)) throw new Error('native and JS CRC-32C disagree');
}

// ---- benchmarks --------------------------------------------------------------------------

process.stderr.write(`Measuring (${RUNS} runs of >= ${RUN_SECONDS} s each per row)...\n`);

const REFERENCED = `records (>= ${REFERENCE_BYTES_MIN} B) referenced, not copied`;

function codecRows(label: string, frame: Buffer, encode: () => Buffer[], decode: (f: Buffer) => Buffer | null): void {
  const bytes = frame.length;
  const baseline = measureCopy(label, bytes);
  measure(label, `${label} encode → chunks`, bytes, () => {
    const chunks = encode();
    return chunks.length + chunks[0]![5]!;
  }, { baseline, note: `${REFERENCED}: cost is independent of the payload size` });
  // Buffer.concat alone, of the chunks that encode produces: the cost of one contiguous copy
  // (allocation included), so the encode + concat row can be read against it.
  const chunks = encode();
  const concatName = `${label} Buffer.concat only`;
  measure(label, concatName, bytes, () => {
    const one = Buffer.concat(chunks);
    return one[one.length - 1]! + one.length;
  }, { baseline, note: 'alloc + copy of pre-encoded chunks, no encoding' });
  measure(label, `${label} encode + Buffer.concat`, bytes, () => {
    const one = Buffer.concat(encode());
    return one[one.length - 1]! + one.length;
  }, { baseline, reference: concatName, note: 'one contiguous frame (allocates and copies the payload once)' });
  // The same contiguous frame without a fresh allocation per operation: the allocator's cost for
  // 1 MiB buffers swings with the kernel's page-fault and trim behaviour, which this row excludes.
  const target = Buffer.allocUnsafe(bytes);
  measure(label, `${label} encode + copy into a reused buffer`, bytes, () => {
    let pos = 0;
    for (const chunk of encode()) pos += chunk.copy(target, pos);
    return target[pos - 1]! + pos;
  }, { baseline, note: 'one contiguous frame, no allocation: encode + one copy' });
  const body = frame.subarray(4);
  measure(label, `${label} decode`, bytes, () => {
    const records = decode(body);
    return records === null ? -1 : records.length + records[records.length - 1]!;
  }, { baseline, note: 'records field decoded as a view (zero-copy)' });
}

codecRows(
  `Produce v${produceVersion} request`,
  produceFrame,
  () => encodeRequestFrame(ProduceApi, produceVersion, 7, 'bench', produceBody),
  (frame) => readRequestBody(ProduceApi, readRequestHeader(frame), frame).topicData[0]!.partitionData[0]!.records,
);
{
  // What a broker does with a produce request before appending: decode, then validate the batch
  // (header checks, CRC-32C over ~1 MiB, and a walk over the 1024 uncompressed records).
  const label = `Produce v${produceVersion} request`;
  const body = produceFrame.subarray(4);
  measure(label, `${label} decode + batch validate`, produceFrame.length, () => {
    const records = readRequestBody(ProduceApi, readRequestHeader(body), body).topicData[0]!.partitionData[0]!.records!;
    return new RecordBatchView(records).validate(1 << 30) === null ? records.length : -1;
  }, { baseline: `Buffer.copy ${sizeLabel(produceFrame.length)}`, note: 'CRC-32C + record walk, as the broker does on append' });
}
codecRows(
  `Fetch v${fetchVersion} response`,
  fetchFrame,
  () => encodeResponseFrame(FetchApi, fetchVersion, 7, fetchBody),
  (frame) => readResponse(FetchApi, fetchVersion, frame).responses[0]!.partitions[0]!.records,
);

for (const size of [100, 16 * 1024, 1024 * 1024]) {
  const group = `CRC-32C ${sizeLabel(size)}`;
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (i * 131 + 17) & 0xff;
  const baseline = measureCopy(group, size);
  let i = 0;
  if (crc32cImplementation === 'native') {
    measure(group, `CRC-32C native ${sizeLabel(size)}`, size, () => {
      data[i++ % size] = i & 0xff;
      return crc32c(data);
    }, { baseline, note: '@node-rs/crc32' });
  }
  measure(group, `CRC-32C JS ${sizeLabel(size)}`, size, () => {
    data[i++ % size] = i & 0xff;
    return crc32cJs(data);
  }, { baseline, note: 'slicing-by-8 fallback' });
}

// ---- report --------------------------------------------------------------------------------

const cpu = cpus();
const machine = {
  node: process.version,
  v8: process.versions.v8,
  platform: `${platform()} ${arch()}`,
  cpu: cpu[0]?.model ?? 'unknown',
  cpus: cpu.length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  crc32cImplementation,
  loadAverageBefore: loadBefore.map((x) => Math.round(x * 100) / 100),
  loadAverageAfter: loadavg().map((x) => Math.round(x * 100) / 100),
};

const byName = new Map(results.map((r) => [r.name, r]));

function throughput(r: Result): string {
  const gb = r.bytesPerSec / 1e9;
  return gb >= 1 ? `${gb.toFixed(2)} GB/s` : `${fmt(r.bytesPerSec / 1e6)} MB/s`;
}

const lines: string[] = [];
lines.push(`Node ${machine.node} (V8 ${machine.v8}), ${machine.platform}, ${machine.cpu} × ${machine.cpus}, ${machine.memoryGiB} GiB; CRC-32C in use: ${crc32cImplementation}`);
lines.push(`Load average (1 min) before/after: ${machine.loadAverageBefore[0]} / ${machine.loadAverageAfter[0]} (other processes share this machine's CPUs and memory bandwidth).`);
lines.push(`Payload: one magic-2 batch of ${RECORDS} records × ${RECORD_VALUE_BYTES} B values = ${batch.length} B; Produce frame ${produceFrame.length} B, Fetch frame ${fetchFrame.length} B.`);
lines.push(`Median of ${RUNS} runs of >= ${RUN_SECONDS} s; MB = 10^6 B, GB = 10^9 B; "× copy" = throughput / Buffer.copy of the same bytes in this run.`);
lines.push('');
lines.push('| benchmark | bytes/op | ops/s (median) | runs min–max ops/s | throughput | × copy | note |');
lines.push('|---|---:|---:|---:|---:|---:|---|');
for (const r of results) {
  const base = r.baseline === undefined ? undefined : byName.get(r.baseline);
  const ratio = base === undefined ? '—' : `${(r.bytesPerSec / base.bytesPerSec).toFixed(base.bytesPerSec > r.bytesPerSec ? 3 : 1)}×`;
  const ref = r.reference === undefined ? undefined : byName.get(r.reference);
  const note = (r.note ?? 'baseline') + (ref === undefined ? '' : `; ${(r.bytesPerSec / ref.bytesPerSec).toFixed(3)}× of Buffer.concat only`);
  const spread = `${fmt(Math.min(...r.runsOpsPerSec))}–${fmt(Math.max(...r.runsOpsPerSec))}`;
  lines.push(`| ${r.name} | ${r.bytesPerOp.toLocaleString('en-US')} | ${fmt(r.opsPerSec)} | ${spread} | ${throughput(r)} | ${ratio} | ${note} |`);
}
console.log(lines.join('\n'));
console.log('');
console.log(
  JSON.stringify(
    {
      machine,
      runs: RUNS,
      runSeconds: RUN_SECONDS,
      results: results.map((r) => {
        const base = r.baseline === undefined ? undefined : byName.get(r.baseline);
        const ref = r.reference === undefined ? undefined : byName.get(r.reference);
        return {
          name: r.name,
          bytesPerOp: r.bytesPerOp,
          opsPerSec: Math.round(r.opsPerSec),
          mbPerSec: Math.round(r.bytesPerSec / 1e4) / 100,
          ratioToCopy: base === undefined ? null : Math.round((r.bytesPerSec / base.bytesPerSec) * 1000) / 1000,
          runsOpsPerSec: r.runsOpsPerSec.map(Math.round),
          baseline: r.baseline ?? null,
          reference: r.reference ?? null,
          ratioToReference: ref === undefined ? null : Math.round((r.bytesPerSec / ref.bytesPerSec) * 1000) / 1000,
        };
      }),
      checksum: sink,
    },
    null,
    2,
  ),
);

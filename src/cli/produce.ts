/**
 * `ferry produce TOPIC`: one record per input line, from stdin or a file.
 *
 * Text lines are values, or `key<SEP>value` with --key-separator; with `--format json` each
 * line is an object with key, value, headers and partition, the same shape `ferry consume
 * --format json` prints, so one command's output can be replayed through the other.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Admin } from '../client/admin.js';
import { KafkaError } from '../client/errors.js';
import { Producer, type ProducerRecord } from '../client/producer.js';
import { type Args, BOOTSTRAP_OPTION, type CommandSpec, helpText, parseArgs } from './args.js';
import { CliError, clientOptions, ensureReachable, parseAcks, parseCompression } from './common.js';

export const PRODUCE: CommandSpec = {
  command: 'ferry produce',
  usage: 'TOPIC [options]',
  summary: 'Sends one record per line of stdin (or of --file) to a topic; Ctrl-D or Ctrl-C ends input and flushes.',
  positionals: { min: 1, max: 1 },
  options: {
    ...BOOTSTRAP_OPTION,
    file: { kind: 'string', arg: 'PATH', help: 'read lines from this file instead of stdin' },
    'key-separator': { kind: 'string', arg: 'SEP', help: 'split each line at the first SEP into key and value (no SEP: no key)' },
    header: { kind: 'list', arg: 'KEY=VALUE', help: 'a header on every record (repeatable)' },
    partition: { kind: 'string', arg: 'N', help: 'send every record to this partition (default: by key, or spread)' },
    acks: { kind: 'string', arg: '0|1|all', help: 'acknowledgement to wait for (default all)' },
    compression: { kind: 'string', arg: 'CODEC', help: 'none (default), gzip, snappy, lz4 or zstd' },
    format: { kind: 'string', arg: 'text|json', help: 'text: the line is the value (default); json: see below' },
    'linger-ms': { kind: 'string', arg: 'MS', help: 'how long a batch waits for more records (default 5)' },
    'batch-bytes': { kind: 'string', arg: 'B', help: 'send a batch once it holds this many bytes (default 262144)' },
  },
  notes: `With --format json each line is an object:
  {"key": "k1", "value": "v1", "headers": {"source": "web"}, "partition": 0}
key, headers, partition and timestamp (ms since the epoch) may be left out; string keys and values are sent as their UTF-8
text, other JSON values as their JSON text, null as null. headers may also be a list
[{"key": "source", "value": "web"}] (Kafka allows repeated header keys), as consume prints it.

Examples:
  printf 'alice:apple\\nbob:banana\\n' | ferry produce orders --key-separator :
  ferry produce orders --file events.jsonl --format json --compression zstd`,
};

export async function runProduce(argv: string[]): Promise<number> {
  const args = parseArgs(PRODUCE, argv);
  if (args === null) {
    process.stdout.write(helpText(PRODUCE));
    return 0;
  }
  return produce(args);
}

type CliRecord = ProducerRecord<Buffer | string | null, Buffer | string | null>;

async function produce(args: Args): Promise<number> {
  const topic = args.positionals[0]!;
  const format = args.string('format') ?? 'text';
  if (format !== 'text' && format !== 'json') throw args.usageError(`--format must be text or json, not ${JSON.stringify(format)}`);
  const separator = args.string('key-separator');
  if (separator === '') throw args.usageError('--key-separator must not be empty');
  if (separator !== undefined && format === 'json') throw args.usageError('--key-separator is for text lines; JSON lines carry their key');
  const partition = args.int('partition', { min: 0 });
  const headers = args.keyValues('header').map(([key, value]) => ({ key, value }));
  const acks = parseAcks(args);
  const compression = parseCompression(args);
  const lingerMs = args.int('linger-ms', { min: 0 });
  const batchBytes = args.int('batch-bytes', { min: 1 });
  const file = args.string('file');
  const options = clientOptions(args);
  await ensureReachable(options);
  await ensureTopic(options, topic);

  const input = file === undefined ? process.stdin : createReadStream(file);
  const opened = new Promise<void>((resolve, reject) => {
    if (file === undefined) return resolve();
    input.once('open', () => resolve());
    input.once('error', (e: NodeJS.ErrnoException) => reject(new CliError(`cannot read ${file}: ${e.code ?? e.message}`)));
  });
  await opened;

  const producer = new Producer({
    ...options,
    acks,
    compression,
    ...(lingerMs !== undefined ? { lingerMs } : {}),
    ...(batchBytes !== undefined ? { batchBytes } : {}),
  });
  // terminal: false keeps a terminal in its normal mode, where Ctrl-C is a SIGINT and
  // Ctrl-D ends the input; readline's own line editing would swallow Ctrl-C.
  const lines = createInterface({ input, crlfDelay: Infinity, terminal: false });
  if (file === undefined && process.stdin.isTTY === true && process.stderr.isTTY === true) {
    process.stderr.write(`type one record per line for ${topic}; Ctrl-D sends and exits\n`);
  }
  let failure: unknown = null;
  let lineNumber = 0;
  // Ctrl-C ends the input like Ctrl-D: what was read is sent before exiting.
  const stop = (): void => lines.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    for await (const line of lines) {
      lineNumber++;
      if (failure !== null) break;
      if (format === 'json' && line.trim() === '') continue;
      const record = format === 'json' ? fromJsonLine(line, lineNumber, topic) : fromTextLine(line, separator, topic);
      if (partition !== undefined && record.partition === undefined) record.partition = partition;
      if (headers.length > 0) record.headers = [...headers, ...((record.headers as Array<{ key: string; value: string | null }> | undefined) ?? [])];
      const queued = await producer.queue(record);
      queued.delivered.catch((error: unknown) => {
        failure ??= error;
      });
    }
    await producer.flush();
  } catch (error) {
    failure ??= error;
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    lines.close();
    if (file !== undefined) input.destroy();
    await producer.close().catch(() => undefined);
  }
  if (failure !== null) throw failure;
  return 0;
}

/**
 * Looks the topic up as the producer would, letting a broker that creates topics on first use
 * create it. The producer itself would wait up to a minute for a topic that never comes;
 * here a missing topic is reported within seconds.
 */
async function ensureTopic(options: ReturnType<typeof clientOptions>, topic: string): Promise<void> {
  const admin = new Admin(options);
  try {
    await admin.cluster.topicMetadata(topic, { allowAutoTopicCreation: true });
  } catch (error) {
    if (error instanceof KafkaError && error.errorName === 'UNKNOWN_TOPIC_OR_PARTITION') {
      throw new CliError(`topic ${topic} does not exist, and the broker does not create topics on first use (auto.create.topics.enable)`);
    }
    throw error;
  } finally {
    await admin.close().catch(() => undefined);
  }
}

function fromTextLine(line: string, separator: string | undefined, topic: string): CliRecord {
  if (separator === undefined) return { topic, key: null, value: line };
  const i = line.indexOf(separator);
  if (i < 0) return { topic, key: null, value: line };
  return { topic, key: line.slice(0, i), value: line.slice(i + separator.length) };
}

function fromJsonLine(line: string, lineNumber: number, topic: string): CliRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (error) {
    throw new CliError(`line ${lineNumber} is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new CliError(`line ${lineNumber}: expected an object with "value", got ${line.slice(0, 60)}`);
  const o = parsed as { [k: string]: unknown };
  for (const k of Object.keys(o)) {
    if (!['key', 'value', 'headers', 'partition', 'topic', 'offset', 'timestamp'].includes(k)) throw new CliError(`line ${lineNumber}: unknown field ${JSON.stringify(k)}`);
  }
  const record: CliRecord = { topic, key: field(o.key), value: field(o.value) };
  if (o.partition !== undefined && o.partition !== null) {
    if (typeof o.partition !== 'number' || !Number.isInteger(o.partition) || o.partition < 0) throw new CliError(`line ${lineNumber}: "partition" must be a non-negative integer`);
    record.partition = o.partition;
  }
  if (o.headers !== undefined && o.headers !== null) record.headers = jsonHeaders(o.headers, lineNumber);
  // A timestamp is kept, so that records printed by `ferry consume --format json` replay as they were.
  if (o.timestamp !== undefined && o.timestamp !== null) {
    if (typeof o.timestamp !== 'number' || !Number.isSafeInteger(o.timestamp) || o.timestamp < 0) throw new CliError(`line ${lineNumber}: "timestamp" must be milliseconds since the epoch`);
    record.timestamp = o.timestamp;
  }
  return record;
}

/** A key or value from JSON: strings as they are, other values as their JSON text. */
function field(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function jsonHeaders(h: unknown, lineNumber: number): Array<{ key: string; value: string | null }> {
  if (Array.isArray(h)) {
    return h.map((item) => {
      if (typeof item !== 'object' || item === null || typeof (item as { key?: unknown }).key !== 'string') throw new CliError(`line ${lineNumber}: each header must be {"key": ..., "value": ...}`);
      return { key: (item as { key: string }).key, value: field((item as { value?: unknown }).value) };
    });
  }
  if (typeof h === 'object' && h !== null) return Object.entries(h).map(([key, value]) => ({ key, value: field(value) }));
  throw new CliError(`line ${lineNumber}: "headers" must be an object or a list`);
}

/**
 * What the client commands share: the broker address, a fast reachability check, error
 * messages worth reading, and writing to stdout without unbounded buffering.
 */
import { Admin } from '../client/admin.js';
import { type ClientOptions, parseHostPort } from '../client/cluster.js';
import { ConnectionError, KafkaError, RequestTimeoutError } from '../client/errors.js';
import { type Args, UsageError } from './args.js';

export const DEFAULT_BOOTSTRAP = '127.0.0.1:9092';

/**
 * How long connecting may take. An unreachable broker must fail a command within seconds, not
 * after the client's generous defaults for long-lived applications.
 */
export const CONNECT_TIMEOUT_MS = 5000;

/** A runtime failure worth one plain line (exit code 1), as opposed to a bug. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The client options of a command from its `--bootstrap`; a malformed address is a usage error. */
export function clientOptions(args: Args): ClientOptions & { bootstrapServers: string } {
  const bootstrap = (args.string('bootstrap') ?? DEFAULT_BOOTSTRAP).trim();
  const servers = bootstrap.split(',').map((s) => s.trim());
  for (const s of servers) {
    let ok = s !== '';
    if (ok) {
      try {
        const { host } = parseHostPort(s);
        ok = host !== '';
      } catch {
        ok = false;
      }
    }
    if (!ok) throw args.usageError(`--bootstrap must be HOST:PORT, not ${JSON.stringify(bootstrap)}`);
  }
  return { bootstrapServers: servers.join(','), clientId: 'ferry-cli', connectTimeoutMs: CONNECT_TIMEOUT_MS };
}

/**
 * Connects once and asks for metadata, bounded by CONNECT_TIMEOUT_MS. The producer and
 * consumer retry connection failures for minutes, as applications want; a person at a
 * terminal wants to hear at once that nothing is listening.
 */
export async function ensureReachable(options: ClientOptions & { bootstrapServers: string }): Promise<void> {
  const admin = new Admin({ ...options, requestTimeoutMs: CONNECT_TIMEOUT_MS, retry: { retries: 0 } });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      admin.describeCluster(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new RequestTimeoutError(`no answer within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS + 500);
      }),
    ]);
  } catch (error) {
    throw new CliError(`cannot reach a broker at ${options.bootstrapServers}: ${reason(error)}`);
  } finally {
    clearTimeout(timer);
    await admin.close().catch(() => undefined);
  }
}

/** The useful part of a connection failure, without the client's "(broker ...)" suffix. */
function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^cannot connect: /, '').replace(/ \(broker [^)]*\)$/, '');
}

/** An admin client for a command, after the reachability check. */
export async function connectAdmin(args: Args): Promise<Admin> {
  const options = clientOptions(args);
  await ensureReachable(options);
  return new Admin(options);
}

/** Runs `body` with an admin client and always closes it. */
export async function withAdmin<T>(args: Args, body: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = await connectAdmin(args);
  try {
    return await body(admin);
  } finally {
    await admin.close().catch(() => undefined);
  }
}

/**
 * The one line printed for an error. Kafka's error names are kept (they are what people
 * search for), with a plainer sentence for the ones a CLI user meets most.
 */
export function errorLine(error: unknown): string {
  if (error instanceof UsageError) return `${error.message}${error.command !== undefined ? ` (see '${error.command} --help')` : ''}`;
  if (error instanceof KafkaError && !(error instanceof ConnectionError)) {
    const topic = error.topic !== undefined ? ` ${error.topic}` : '';
    const group = error.groupId !== undefined ? ` ${error.groupId}` : '';
    switch (error.errorName) {
      case 'UNKNOWN_TOPIC_OR_PARTITION':
        if (error.partition === undefined && topic !== '') return `topic${topic} does not exist (UNKNOWN_TOPIC_OR_PARTITION)`;
        break;
      case 'TOPIC_ALREADY_EXISTS':
        return `topic${topic} already exists (TOPIC_ALREADY_EXISTS)`;
      case 'GROUP_ID_NOT_FOUND':
        return `group${group} does not exist (GROUP_ID_NOT_FOUND)`;
      case 'NON_EMPTY_GROUP':
        return `group${group} has active members; stop its consumers first (NON_EMPTY_GROUP)`;
    }
  }
  const message = error instanceof Error ? error.message : String(error);
  return oneLine(message);
}

export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, '; ').trim();
}

/**
 * Writes to stdout and waits when its buffer is full: a consumer piped into a slow reader
 * must slow down instead of holding the whole topic in memory.
 */
export function writeOut(text: string | Buffer): Promise<void> | undefined {
  if (process.stdout.write(text)) return undefined;
  return new Promise((resolve) => process.stdout.once('drain', resolve));
}

/** Text of a record field; bytes that are not UTF-8 come out with replacement characters. */
export function bytesText(buf: Buffer | null): string | null {
  return buf === null ? null : buf.toString('utf8');
}

/** The parsed `--acks`. */
export function parseAcks(args: Args, fallback: '0' | '1' | 'all' = 'all'): 0 | 1 | 'all' {
  const raw = args.string('acks') ?? fallback;
  if (raw === '0') return 0;
  if (raw === '1') return 1;
  if (raw === 'all' || raw === '-1') return 'all';
  throw args.usageError(`--acks must be 0, 1 or all, not ${JSON.stringify(raw)}`);
}

export const COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

export function parseCompression(args: Args): Compression {
  const raw = args.string('compression') ?? 'none';
  if (!(COMPRESSIONS as readonly string[]).includes(raw)) throw args.usageError(`--compression must be one of ${COMPRESSIONS.join(', ')}, not ${JSON.stringify(raw)}`);
  return raw as Compression;
}

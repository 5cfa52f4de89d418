/**
 * `ferry consume TOPIC`: prints a topic's records, one per line.
 *
 * With --group the consumer joins the group and commits what it printed (periodically and
 * when it stops), so a second run continues where the first stopped. Without a group it
 * assigns itself the partitions and commits nothing. Ctrl-C and SIGTERM stop it cleanly:
 * the offsets of everything printed are committed, the group is left at once (no session
 * timeout to wait out for the others), and the exit code is 0.
 */
import { Admin } from '../client/admin.js';
import { Consumer, type ConsumerMessage, type SeekTarget } from '../client/consumer.js';
import { type Args, BOOTSTRAP_OPTION, type CommandSpec, helpText, parseArgs } from './args.js';
import { CliError, bytesText, clientOptions, ensureReachable, writeOut } from './common.js';

export const CONSUME: CommandSpec = {
  command: 'ferry consume',
  usage: 'TOPIC [options]',
  summary: 'Prints the records of a topic, one per line, until --count records or Ctrl-C.',
  positionals: { min: 1, max: 1 },
  options: {
    ...BOOTSTRAP_OPTION,
    group: { kind: 'string', arg: 'GROUP', help: 'consume as a member of this group and commit offsets' },
    'from-beginning': { kind: 'flag', help: 'start at the oldest record (with --group: when the group has no committed offset)' },
    offset: { kind: 'string', arg: 'N|earliest|latest', help: 'where to start without --group (default latest)' },
    partition: { kind: 'list', arg: 'N', help: 'only this partition, without --group (repeatable; default all)' },
    count: { kind: 'string', arg: 'N', help: 'exit after N records' },
    'timeout-ms': { kind: 'string', arg: 'MS', help: 'exit when no record arrives for MS milliseconds' },
    format: { kind: 'string', arg: 'value|json', help: 'value: the value only (default); json: an object per record' },
    'key-separator': { kind: 'string', arg: 'SEP', help: 'with --format value, print key SEP value' },
  },
  notes: `--format json prints one object per line:
  {"topic":"orders","partition":0,"offset":0,"timestamp":1700000000000,"key":"alice",
   "value":"apple","headers":[{"key":"source","value":"web"}]}
Keys and values are shown as UTF-8 text (null stays null). Such lines can be sent again with
'ferry produce --format json'.

Examples:
  ferry consume orders --from-beginning --count 10
  ferry consume orders --group billing --format json`,
};

export async function runConsume(argv: string[]): Promise<number> {
  const args = parseArgs(CONSUME, argv);
  if (args === null) {
    process.stdout.write(helpText(CONSUME));
    return 0;
  }
  return consume(args);
}

const NEWLINE = Buffer.from('\n');

/** How long Ctrl-C waits for a pending group join before closing anyway. */
const JOIN_WAIT_MS = 10_000;

async function consume(args: Args): Promise<number> {
  const topic = args.positionals[0]!;
  const group = args.string('group');
  if (group === '') throw args.usageError('--group must not be empty');
  if (group !== undefined) {
    if (args.has('offset')) throw args.usageError('--offset is for consuming without --group (a group starts at its committed offsets; see ferry group reset-offsets)');
    if (args.has('partition')) throw args.usageError('--partition is for consuming without --group (a group shares the partitions among its members)');
  }
  args.exclusive('from-beginning', 'offset');
  const format = args.string('format') ?? 'value';
  if (format !== 'value' && format !== 'json') throw args.usageError(`--format must be value or json, not ${JSON.stringify(format)}`);
  const separator = args.string('key-separator');
  if (separator !== undefined && format === 'json') throw args.usageError('--key-separator is for --format value');
  const count = args.int('count', { min: 1 });
  const idleMs = args.int('timeout-ms', { min: 1 });
  const start = startTarget(args);
  const wanted = args.list('partition').map((raw) => {
    if (!/^\d+$/.test(raw)) throw args.usageError(`--partition must be a partition number, not ${JSON.stringify(raw)}`);
    return Number(raw);
  });
  const options = clientOptions(args);
  await ensureReachable(options);

  // The topic must exist: a group would otherwise wait for it forever, silently.
  const admin = new Admin(options);
  let partitions: number[];
  try {
    const [description] = await admin.describeTopics([topic]);
    partitions = description!.partitions.map((p) => p.partition);
  } finally {
    await admin.close().catch(() => undefined);
  }
  for (const p of wanted) {
    if (!partitions.includes(p)) throw new CliError(`topic ${topic} has no partition ${p} (it has ${partitions.length})`);
  }

  const consumer = new Consumer({
    ...options,
    ...(group !== undefined ? { groupId: group } : {}),
    autoOffsetReset: args.flag('from-beginning') ? 'earliest' : 'latest',
    // Long polls end early when records arrive; a short wait only makes --timeout-ms exact.
    fetchMaxWaitMs: 500,
  });
  let closing: Promise<void> | null = null;
  let stopped!: () => void;
  const stoppedPromise = new Promise<null>((resolve) => (stopped = () => resolve(null)));
  // Set while the first JoinGroup is out (see stop).
  let joining: Promise<unknown> | null = null;
  const stop = (): void => {
    if (closing !== null) return;
    const pendingJoin = joining;
    closing = (async () => {
      // A consumer closed while its JoinGroup is pending cannot leave the group (the client
      // does not send LeaveGroup behind a pending JoinGroup), and the group would keep a
      // phantom member, blocking resets and rebalances, until its session timeout. Letting
      // the join finish (bounded) first makes the exit clean: commit, then LeaveGroup.
      if (pendingJoin !== null) {
        if (process.stderr.isTTY) process.stderr.write(`waiting up to ${JOIN_WAIT_MS / 1000} s for the group join to finish, to leave the group cleanly (Ctrl-C again: exit now)\n`);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([pendingJoin, new Promise((r) => (timer = setTimeout(r, JOIN_WAIT_MS)))]);
        clearTimeout(timer);
      }
      await consumer.close();
    })();
    stopped();
  };
  let signals = 0;
  const onSignal = (): void => {
    // A second Ctrl-C means "now": the close (commit, leave group) is abandoned.
    if (++signals > 1) process.exit(130);
    stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // `| head` closing the pipe is a normal way to stop reading.
  const onStdoutError = (error: NodeJS.ErrnoException): void => {
    if (error.code === 'EPIPE') stop();
  };
  process.stdout.on('error', onStdoutError);
  let idleTimer: NodeJS.Timeout | null = null;
  const armIdle = (): void => {
    if (idleMs === undefined) return;
    if (idleTimer !== null) clearTimeout(idleTimer);
    idleTimer = setTimeout(stop, idleMs);
  };

  let printed = 0;
  try {
    if (group !== undefined) {
      const subscribed = consumer.subscribe(topic);
      joining = subscribed.catch(() => undefined);
      await Promise.race([subscribed.finally(() => (joining = null)), stoppedPromise]);
    } else {
      const chosen = wanted.length > 0 ? [...new Set(wanted)] : partitions;
      consumer.assign(chosen.map((partition) => ({ topic, partition, offset: start })));
    }
    armIdle();
    while (closing === null && (count === undefined || printed < count)) {
      // No race with stop() here: close() makes a waiting nextMessage() return null, and a
      // record it did return has had its offset advanced, so it must be printed.
      const message = await consumer.nextMessage();
      if (message === null) break;
      armIdle();
      printed++;
      const wait = writeOut(format === 'json' ? jsonLine(message) : valueLine(message, separator));
      if (wait !== undefined) await Promise.race([wait, stoppedPromise]);
    }
  } finally {
    if (idleTimer !== null) clearTimeout(idleTimer);
    stop();
    await closing;
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    process.stdout.removeListener('error', onStdoutError);
  }
  if (process.stderr.isTTY) process.stderr.write(`consumed ${printed} record${printed === 1 ? '' : 's'}${group !== undefined ? `; offsets committed for group ${group}` : ''}\n`);
  return 0;
}

function startTarget(args: Args): SeekTarget {
  if (args.flag('from-beginning')) return 'earliest';
  const raw = args.string('offset') ?? 'latest';
  if (raw === 'earliest' || raw === 'latest') return raw;
  if (!/^\d+$/.test(raw)) throw args.usageError(`--offset must be a number, earliest or latest, not ${JSON.stringify(raw)}`);
  return BigInt(raw);
}

function valueLine(m: ConsumerMessage<Buffer | null, Buffer | null>, separator: string | undefined): Buffer {
  const value = m.value ?? Buffer.alloc(0);
  if (separator === undefined) return Buffer.concat([value, NEWLINE]);
  return Buffer.concat([m.key ?? Buffer.alloc(0), Buffer.from(separator), value, NEWLINE]);
}

function jsonLine(m: ConsumerMessage<Buffer | null, Buffer | null>): string {
  return `${JSON.stringify({
    topic: m.topic,
    partition: m.partition,
    offset: Number(m.offset),
    timestamp: m.timestamp,
    key: bytesText(m.key),
    value: bytesText(m.value),
    headers: m.headers.map((h) => ({ key: h.key, value: bytesText(h.value) })),
  })}\n`;
}

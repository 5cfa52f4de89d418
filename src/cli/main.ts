import { readFileSync } from 'node:fs';
import { UsageError } from './args.js';
import { runBench } from './bench.js';
import { CliError, errorLine } from './common.js';
import { runConsume } from './consume.js';
import { runGroup } from './group.js';
import { runProduce } from './produce.js';
import { runTopic } from './topic.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const USAGE = `ferry ${pkg.version}: a Kafka-compatible event-streaming broker and message queue

Usage:
  ferry start [options]                           start a broker (Ctrl-C stops it cleanly)
  ferry topic create|list|describe|alter|delete   manage topics and their configs
  ferry produce TOPIC                             send lines of stdin (or a file) as records
  ferry consume TOPIC                             print records, alone or in a group
  ferry group list|describe|reset-offsets|delete  consumer groups, their lag and offsets
  ferry bench produce|consume|e2e                 throughput and latency of a broker
  ferry version                                   print the version
  ferry help                                      print this help

Every command takes --help. The client commands take --bootstrap HOST:PORT (default
127.0.0.1:9092); listings, descriptions and benchmarks take --json for scripts.

Options of start (every broker setting by its Kafka name, e.g. --num.partitions=3):
  --host HOST              address to listen on (default 127.0.0.1)
  --port PORT              port to listen on (default 9092; 0 = any free port)
  --data-dir DIR           data directory (default ./ferry-data; Kafka's log.dirs)
  --config FILE            a properties file of settings (name=value lines)
Settings may also come from the environment: FERRY_<NAME> with dots as underscores,
e.g. FERRY_LOG_RETENTION_HOURS=24. Command-line options win over the environment, which
wins over the config file.
`;

async function start(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  // The broker is loaded only to run one: the client commands start faster without it.
  const { startBroker } = await import('../broker/broker.js');
  const { ConfigError } = await import('../broker/broker-config.js');
  let broker;
  try {
    broker = await startBroker({ argv: args, env: process.env });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`ferry: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  process.stdout.write(`ferry listening on ${broker.host}:${broker.port}\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      process.stderr.write(`ferry: ${signal}: stopping\n`);
      broker
        .close()
        .then(resolve)
        .catch((e: Error) => {
          process.stderr.write(`ferry: error while stopping: ${e.message}\n`);
          process.exitCode = 1;
          resolve();
        });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return process.exitCode === 1 ? 1 : 0;
}

async function main(argv: string[]): Promise<number> {
  const command = argv[0] ?? 'help';
  switch (command) {
    case 'version':
    case '--version':
    case '-v':
      process.stdout.write(`${pkg.version}\n`);
      return 0;
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    case 'start':
      return start(argv.slice(1));
    case 'topic':
      return runTopic(argv.slice(1));
    case 'produce':
      return runProduce(argv.slice(1));
    case 'consume':
      return runConsume(argv.slice(1));
    case 'group':
      return runGroup(argv.slice(1));
    case 'bench':
      return runBench(argv.slice(1));
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`, 'ferry');
  }
}

/** Exit code of an error: 2 for usage, 1 for everything that went wrong at run time. */
function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return 2;
  if (error instanceof CliError) return error.exitCode;
  return 1;
}

/**
 * Errors are one line on stderr, never a stack trace: a person at a terminal wants the reason,
 * and scripts want a stable line and exit code. FERRY_DEBUG=1 shows the stack for bug reports.
 */
function report(error: unknown): void {
  const debug = process.env.FERRY_DEBUG !== undefined && process.env.FERRY_DEBUG !== '' && process.env.FERRY_DEBUG !== '0';
  process.stderr.write(`ferry: ${debug && error instanceof Error && error.stack !== undefined ? error.stack : errorLine(error)}\n`);
}

// Anything that escapes (a rejection nobody awaited, a throw in a callback) still ends as one line.
const fatal = (error: unknown): void => {
  report(error);
  process.exit(exitCodeOf(error));
};
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);

main(process.argv.slice(2)).then(
  (code) => finish(code),
  (error: unknown) => {
    report(error);
    finish(exitCodeOf(error));
  },
);

/**
 * Exits once stdout has taken everything written: a client command is done when it returns,
 * and a timer or socket some library left behind must not keep the process alive.
 */
function finish(code: number): void {
  process.exitCode = code;
  process.stdout.write('', () => process.exit(code));
}

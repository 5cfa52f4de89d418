import { readFileSync } from 'node:fs';
import { startBroker } from '../broker/broker.js';
import { ConfigError } from '../broker/broker-config.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const USAGE = `ferry ${pkg.version}: a Kafka-compatible event-streaming broker and message queue

Usage:
  ferry start [options]    start a broker (Ctrl-C stops it cleanly)
  ferry version            print the version
  ferry help               print this help

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
    default:
      process.stderr.write(`ferry: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: Error) => {
    process.stderr.write(`ferry: ${e.stack ?? e.message}\n`);
    process.exitCode = 1;
  },
);

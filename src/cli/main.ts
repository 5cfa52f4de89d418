import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const USAGE = `ferry ${pkg.version}: a Kafka-compatible event-streaming broker and message queue

Usage:
  ferry start              start a broker (not built yet: the broker arrives with issue 4)
  ferry version            print the version
  ferry help               print this help
`;

function main(argv: string[]): number {
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
      process.stdout.write(`ferry ${pkg.version}\n\nThe broker is not implemented yet; this build provides the protocol codec.\n\n${USAGE}`);
      return 0;
    default:
      process.stderr.write(`ferry: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
}

process.exitCode = main(process.argv.slice(2));

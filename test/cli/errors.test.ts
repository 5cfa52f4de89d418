import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type CliBroker, type RunResult, ferry, lines, startCliBroker, waitFor } from './cli-harness.js';

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('ferry errors: one line on stderr, exit code 2 for usage and 1 at run time', () => {
  let b: CliBroker;
  before(async () => {
    b = await startCliBroker();
  });
  after(async () => {
    await b.close();
  });

  const usageCases: Array<[string[], RegExp]> = [
    [['nonsense'], /^ferry: unknown command "nonsense" \(see 'ferry --help'\)$/],
    [['topic'], /^ferry: missing subcommand: create, list, describe, alter, delete \(see 'ferry topic --help'\)$/],
    [['topic', '--json'], /^ferry: missing subcommand: create, list, describe, alter, delete \(see 'ferry topic --help'\)$/],
    [['topic', 'explode'], /^ferry: unknown subcommand "explode"; expected one of/],
    [['topic', 'create'], /^ferry: missing argument: ferry topic create NAME \[options\]/],
    [['topic', 'create', 't', '--partitions', 'many'], /^ferry: --partitions must be an integer, not "many"/],
    [['topic', 'create', 't', '--partitions', '0'], /^ferry: --partitions must be at least 1, not 0/],
    [['topic', 'create', 't', '--config', 'novalue'], /^ferry: --config takes KEY=VALUE, not "novalue"/],
    [['topic', 'list', '--verbose'], /^ferry: unknown option --verbose \(see 'ferry topic list --help'\)$/],
    [['topic', 'list', 'extra'], /^ferry: unexpected argument "extra"/],
    [['topic', 'alter', 't'], /^ferry: nothing to change: give --partitions, --config or --delete-config/],
    [['produce', 't', '--acks', '2'], /^ferry: --acks must be 0, 1 or all, not "2"/],
    [['produce', 't', '--compression', 'brotli'], /^ferry: --compression must be one of none, gzip, snappy, lz4, zstd, not "brotli"/],
    [['produce', 't', '--format', 'xml'], /^ferry: --format must be text or json/],
    [['produce', 't', '--format', 'json', '--key-separator', ':'], /^ferry: --key-separator is for text lines/],
    [['consume', 't', '--group', 'g', '--offset', '5'], /^ferry: --offset is for consuming without --group/],
    [['consume', 't', '--group', 'g', '--partition', '0'], /^ferry: --partition is for consuming without --group/],
    [['consume', 't', '--offset', 'middle'], /^ferry: --offset must be a number, earliest or latest/],
    [['consume', 't', '--from-beginning', '--offset', '3'], /^ferry: --from-beginning and --offset cannot be used together/],
    [['consume', 't', '--count'], /^ferry: --count needs a value \(N\)/],
    [['consume', 't', '--format', 'yaml'], /^ferry: --format must be value or json/],
    [['group', 'reset-offsets', 'g', '--topic', 't'], /^ferry: say where to: --to-earliest/],
    [['group', 'reset-offsets', 'g', '--to-earliest'], /^ferry: name the topics to reset/],
    [['group', 'reset-offsets', 'g', '--topic', 't', '--to-earliest', '--to-latest'], /^ferry: --to-earliest and --to-latest cannot be used together/],
    [['group', 'reset-offsets', 'g', '--topic', 't', '--to-datetime', 'yesterday'], /^ferry: --to-datetime must be an ISO 8601 time/],
    [['group', 'reset-offsets', 'g', '--topic', 't:x', '--to-earliest'], /^ferry: partition in --topic t:x must be an integer/],
    [['bench', 'produce', '--records', '-5'], /^ferry: --records must be at least 1, not -5/],
    [['bench', 'e2e', '--record-size', '4'], /^ferry: bench e2e needs --record-size of at least 8/],
    [['topic', 'list', '--bootstrap', 'host:notaport'], /^ferry: --bootstrap must be HOST:PORT, not "host:notaport"/],
    [['start', '--no-such-setting=1'], /^ferry: /],
  ];

  // Usage errors are found before connecting, so these run without --bootstrap (which would
  // change some of the cases), several at a time to keep the suite short.
  const results = new Map<string, Promise<RunResult>>();
  before(() => {
    const queue = usageCases.map(([args]) => args);
    const next = (): Promise<void> | undefined => {
      const args = queue.shift();
      if (args === undefined) return undefined;
      const run = ferry(args[0] === 'start' ? [...args, '--port', '0'] : args);
      results.set(args.join(' '), run);
      return run.then(() => next());
    };
    for (let i = 0; i < 4; i++) void next();
  });

  for (const [args, expected] of usageCases) {
    test(`ferry ${args.join(' ')} → exit 2`, async () => {
      await waitFor(() => results.has(args.join(' ')), 'the run to start');
      const r = await results.get(args.join(' '))!;
      assert.equal(r.code, 2, r.stderr);
      assert.equal(lines(r.stderr).length, 1, `one line: ${r.stderr}`);
      assert.match(lines(r.stderr)[0]!, expected);
      assert.equal(r.stdout, '');
    });
  }

  test('an unreachable broker fails every client command fast, with one line and exit code 1', async () => {
    const port = await closedPort();
    for (const args of [
      ['topic', 'list'],
      ['topic', 'create', 't'],
      ['produce', 't'],
      ['consume', 't', '--group', 'g'],
      ['group', 'describe', 'g'],
      ['bench', 'produce', '--records', '10'],
    ]) {
      const r = await ferry([...args, '--bootstrap', `127.0.0.1:${port}`], { input: 'a record\n' });
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr, `ferry: cannot reach a broker at 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`);
      assert.ok(r.ms < 5000, `${args.join(' ')} took ${r.ms} ms`);
    }
  });

  test('--help works on every command and exits 0', async () => {
    const all = [
      [],
      ['start'],
      ['topic'],
      ['topic', 'create'],
      ['topic', 'list'],
      ['topic', 'describe'],
      ['topic', 'alter'],
      ['topic', 'delete'],
      ['produce'],
      ['consume'],
      ['group'],
      ['group', 'list'],
      ['group', 'describe'],
      ['group', 'reset-offsets'],
      ['group', 'delete'],
      ['bench'],
      ['bench', 'produce'],
      ['bench', 'consume'],
      ['bench', 'e2e'],
    ];
    const runs = await Promise.all(all.map((args) => ferry([...args, '--help'])));
    for (const [i, args] of all.entries()) {
      const r = runs[i]!;
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout, /Usage:/, args.join(' '));
      if (args.length > 0 && args[0] !== 'start') assert.match(r.stdout, args.length === 2 || ['produce', 'consume'].includes(args[0]!) ? /--bootstrap HOST:PORT/ : /Subcommands:/, args.join(' '));
    }
  });
});

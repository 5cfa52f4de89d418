import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type CliBroker, ferry, ferryOk, lines, startCliBroker, unique } from './cli-harness.js';

interface JsonRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: Array<{ key: string; value: string | null }>;
}

function parseJsonLines(text: string): JsonRecord[] {
  return lines(text).map((l) => JSON.parse(l) as JsonRecord);
}

describe('ferry produce and ferry consume', () => {
  let b: CliBroker;
  let dir: string;
  before(async () => {
    b = await startCliBroker();
    dir = mkdtempSync(join(tmpdir(), 'ferry-cli-files-'));
  });
  after(async () => {
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function topicWith(partitions: number): Promise<string> {
    const topic = unique('pc');
    await ferryOk(['topic', 'create', topic, '--partitions', String(partitions), ...b.at]);
    return topic;
  }

  test('values from stdin come back on stdout, in order within a partition', async () => {
    const topic = await topicWith(1);
    const input = 'first\nsecond line with spaces\n\nüñíçødé\nlast\n';
    assert.equal(await ferryOk(['produce', topic, ...b.at], { input }), '');
    const out = await ferryOk(['consume', topic, '--from-beginning', '--count', '5', ...b.at]);
    assert.equal(out, input, 'an empty line is an empty value');
  });

  test('keys with --key-separator, headers with --header, acks, compression; all visible in --format json', async () => {
    const topic = await topicWith(1);
    await ferryOk(['produce', topic, '--key-separator', '::', '--header', 'source=cli', '--header', 'trace=t-1', '--acks', '1', '--compression', 'zstd', ...b.at], {
      input: 'k1::v1\nno separator here\nk3::v3::more\n',
    });
    const records = parseJsonLines(await ferryOk(['consume', topic, '--from-beginning', '--count', '3', '--format', 'json', ...b.at]));
    assert.deepEqual(
      records.map((r) => [r.topic, r.partition, r.offset, r.key, r.value]),
      [
        [topic, 0, 0, 'k1', 'v1'],
        [topic, 0, 1, null, 'no separator here'],
        [topic, 0, 2, 'k3', 'v3::more'],
      ],
    );
    for (const r of records) {
      assert.deepEqual(r.headers, [
        { key: 'source', value: 'cli' },
        { key: 'trace', value: 't-1' },
      ]);
      assert.ok(Math.abs(r.timestamp - Date.now()) < 60_000, 'the timestamp is the time of sending');
    }
    // --key-separator on consume prints the key beside the value.
    const kv = await ferryOk(['consume', topic, '--from-beginning', '--count', '3', '--key-separator', '=', ...b.at]);
    assert.equal(kv, 'k1=v1\n=no separator here\nk3=v3::more\n');
  });

  test('JSON lines in: key, value, headers (object or list), partition, timestamp; and the same shape out', async () => {
    const topic = await topicWith(3);
    const input = [
      JSON.stringify({ key: 'a', value: 'one', headers: { h: 'x' }, partition: 2 }),
      JSON.stringify({ value: { nested: [1, 2] }, headers: [{ key: 'dup', value: '1' }, { key: 'dup', value: null }], partition: 1 }),
      '',
      JSON.stringify({ key: 'c', value: null, partition: 0, timestamp: 1_600_000_000_000 }),
    ].join('\n');
    await ferryOk(['produce', topic, '--format', 'json', ...b.at], { input });
    const out = parseJsonLines(await ferryOk(['consume', topic, '--from-beginning', '--count', '3', '--format', 'json', ...b.at]));
    const byPartition = new Map(out.map((r) => [r.partition, r]));
    assert.deepEqual(
      [0, 1, 2].map((p) => {
        const r = byPartition.get(p)!;
        return [r.key, r.value, r.headers];
      }),
      [
        ['c', null, []],
        [null, '{"nested":[1,2]}', [{ key: 'dup', value: '1' }, { key: 'dup', value: null }]],
        ['a', 'one', [{ key: 'h', value: 'x' }]],
      ],
    );
    assert.equal(byPartition.get(0)!.timestamp, 1_600_000_000_000);

    // What consume printed can be produced again, to another topic, unchanged.
    const copy = await topicWith(3);
    const printed = out.map((r) => JSON.stringify(r)).join('\n');
    await ferryOk(['produce', copy, '--format', 'json', ...b.at], { input: printed });
    const copied = parseJsonLines(await ferryOk(['consume', copy, '--from-beginning', '--count', '3', '--format', 'json', ...b.at]));
    const strip = (rs: JsonRecord[]) => rs.map(({ topic: _t, offset: _o, ...rest }) => rest).sort((x, y) => x.partition - y.partition);
    assert.deepEqual(strip(copied), strip(out));
  });

  test('--file, --partition and consuming one partition from an --offset', async () => {
    const topic = await topicWith(2);
    const file = join(dir, 'lines.txt');
    writeFileSync(file, Array.from({ length: 10 }, (_, i) => `r${i}`).join('\n') + '\n');
    await ferryOk(['produce', topic, '--file', file, '--partition', '1', ...b.at]);
    const described = JSON.parse(await ferryOk(['topic', 'describe', topic, '--json', ...b.at])) as { partitions: Array<{ endOffset: number }> };
    assert.deepEqual(
      described.partitions.map((p) => p.endOffset),
      [0, 10],
    );
    const out = await ferryOk(['consume', topic, '--partition', '1', '--offset', '7', '--count', '3', ...b.at]);
    assert.equal(out, 'r7\nr8\nr9\n');
    const missing = await ferry(['produce', topic, '--file', join(dir, 'nope.txt'), ...b.at]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, `ferry: cannot read ${join(dir, 'nope.txt')}: ENOENT\n`);
  });

  test('without --group and --from-beginning, consume starts at the end; --timeout-ms ends an idle consume', async () => {
    const topic = await topicWith(1);
    await ferryOk(['produce', topic, ...b.at], { input: 'old\n' });
    const r = await ferry(['consume', topic, '--timeout-ms', '1500', ...b.at]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '', 'the record produced before is not shown');
  });

  test('invalid JSON input fails with the line number', async () => {
    const topic = await topicWith(1);
    const r = await ferry(['produce', topic, '--format', 'json', ...b.at], { input: '{"value":"ok"}\nnot json\n' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ferry: line 2 is not JSON: .*\n$/);
    assert.equal(lines(r.stderr).length, 1);
  });

  test('producing to a missing topic creates it where the broker allows that, and fails in seconds where not', async () => {
    const topic = unique('auto');
    await ferryOk(['produce', topic, ...b.at], { input: 'x\n' });
    assert.equal(await ferryOk(['consume', topic, '--from-beginning', '--count', '1', ...b.at]), 'x\n');
    const strict = await startCliBroker({ 'auto.create.topics.enable': false });
    try {
      const r = await ferry(['produce', 'missing', ...strict.at], { input: 'x\n' });
      assert.equal(r.code, 1);
      assert.equal(r.stderr, 'ferry: topic missing does not exist, and the broker does not create topics on first use (auto.create.topics.enable)\n');
      assert.ok(r.ms < 15_000, `took ${r.ms} ms`);
    } finally {
      await strict.close();
    }
  });

  test('consuming a topic that does not exist fails at once', async () => {
    const r = await ferry(['consume', 'no-such-topic', '--group', 'g', ...b.at]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'ferry: topic no-such-topic does not exist (UNKNOWN_TOPIC_OR_PARTITION)\n');
  });
});

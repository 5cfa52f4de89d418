import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Admin } from '../../src/client/admin.js';
import { type CliBroker, ferry, ferryOk, lines, spawnFerry, startCliBroker, unique, waitFor } from './cli-harness.js';

interface GroupJson {
  group: string;
  state: string;
  members: Array<{ memberId: string; clientId: string }>;
  partitions: Array<{ topic: string; partition: number; committedOffset: number | null; endOffset: number; lag: number; memberId: string | null; clientId: string | null }>;
  totalLag: number;
}

describe('ferry group', () => {
  let b: CliBroker;
  before(async () => {
    b = await startCliBroker();
  });
  after(async () => {
    await b.close();
  });

  /** A topic of `partitions` partitions holding `perPartition` records in each, values p<P>-<i>. */
  async function filledTopic(partitions: number, perPartition: number): Promise<string> {
    const topic = unique('grp');
    await ferryOk(['topic', 'create', topic, '--partitions', String(partitions), ...b.at]);
    const input = [];
    for (let p = 0; p < partitions; p++) for (let i = 0; i < perPartition; i++) input.push(JSON.stringify({ value: `p${p}-${i}`, partition: p }));
    await ferryOk(['produce', topic, '--format', 'json', ...b.at], { input: input.join('\n') });
    return topic;
  }

  async function describeGroup(group: string): Promise<GroupJson> {
    return JSON.parse(await ferryOk(['group', 'describe', group, '--json', ...b.at])) as GroupJson;
  }

  test('describe shows the lag of an unconsumed backlog, per partition and in total', async () => {
    const topic = await filledTopic(2, 5);
    const group = unique('lagging');
    // The group commits 2 records and stops: 3 + 5 are left.
    const first = await ferryOk(['consume', topic, '--group', group, '--from-beginning', '--count', '2', ...b.at]);
    assert.equal(lines(first).length, 2);
    const d = await describeGroup(group);
    assert.equal(d.state, 'Empty');
    assert.equal(d.totalLag, 8);
    assert.deepEqual(
      d.partitions.map((p) => [p.topic, p.partition, p.endOffset]),
      [
        [topic, 0, 5],
        [topic, 1, 5],
      ],
    );
    assert.equal(d.partitions.reduce((n, p) => n + (p.committedOffset ?? 0), 0), 2);
    for (const p of d.partitions) assert.equal(p.lag, p.endOffset - (p.committedOffset ?? 0));

    const table = await ferryOk(['group', 'describe', group, ...b.at]);
    assert.match(table, new RegExp(`^group ${group}: Empty, 0 members, total lag 8$`, 'm'));
    assert.match(table, /^TOPIC\s+PARTITION\s+COMMITTED\s+END\s+LAG\s+MEMBER\s+CLIENT$/m);
    assert.equal(table.split('\n').filter((l) => l.startsWith(topic)).length, 2);

    const listed = JSON.parse(await ferryOk(['group', 'list', '--json', ...b.at])) as Array<{ group: string; state: string }>;
    assert.deepEqual(
      listed.find((g) => g.group === group),
      { group, state: 'Empty', protocolType: 'consumer' },
    );
  });

  test('describe shows the owning member while a consumer runs', async () => {
    const topic = await filledTopic(1, 3);
    const group = unique('owned');
    const running = spawnFerry(['consume', topic, '--group', group, '--from-beginning', ...b.at]);
    try {
      await waitFor(() => lines(running.stdout()).length === 3, 'the consumer to print 3 records');
      const d = await describeGroup(group);
      assert.equal(d.state, 'Stable');
      assert.equal(d.members.length, 1);
      assert.equal(d.partitions[0]!.memberId, d.members[0]!.memberId);
      assert.equal(d.partitions[0]!.clientId, 'ferry-cli');
      // Offsets cannot be reset under an active member.
      const refused = await ferry(['group', 'reset-offsets', group, '--topic', topic, '--to-earliest', '--execute', ...b.at]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^ferry: group \S+ has 1 active member \(state Stable\); offsets can be reset only while the group is empty/);
      assert.equal(lines(refused.stderr).length, 1);
    } finally {
      running.child.kill('SIGINT');
      await running.exited;
    }
  });

  test('Ctrl-C (SIGINT) on a running consume --group commits what it printed and exits 0', async () => {
    const topic = await filledTopic(3, 4);
    const group = unique('interrupted');
    const running = spawnFerry(['consume', topic, '--group', group, '--from-beginning', ...b.at]);
    await waitFor(() => lines(running.stdout()).length === 12, 'the consumer to print all 12 records');
    running.child.kill('SIGINT');
    const r = await running.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const d = await describeGroup(group);
    assert.equal(d.state, 'Empty', 'the consumer left the group on its way out');
    assert.equal(d.totalLag, 0);
    assert.deepEqual(
      d.partitions.map((p) => p.committedOffset),
      [4, 4, 4],
    );
  });

  test('Ctrl-C while the consumer is still joining its group exits 0 and leaves no member behind', async () => {
    // A broker that holds a new group's first join for 1.5 s, so the interrupt lands during it.
    const slow = await startCliBroker({ 'group.initial.rebalance.delay.ms': 1500 });
    const admin = new Admin({ bootstrapServers: slow.bootstrap });
    try {
      await ferryOk(['topic', 'create', 'joining', ...slow.at]);
      const running = spawnFerry(['consume', 'joining', '--group', 'joiner', ...slow.at]);
      await waitFor(async () => (await admin.describeGroups(['joiner']))[0]!.members.length > 0, 'the consumer to be joining');
      running.child.kill('SIGINT');
      const r = await running.exited;
      assert.equal(r.code, 0, r.stderr);
      const [d] = await admin.describeGroups(['joiner']);
      assert.equal(d!.members.length, 0, 'the consumer left the group');
      assert.equal(d!.state, 'Empty');
    } finally {
      await admin.close();
      await slow.close();
    }
  });

  test('SIGTERM stops a consume --group the same way', async () => {
    const topic = await filledTopic(1, 2);
    const group = unique('terminated');
    const running = spawnFerry(['consume', topic, '--group', group, '--from-beginning', ...b.at]);
    await waitFor(() => lines(running.stdout()).length === 2, 'the consumer to print 2 records');
    running.child.kill('SIGTERM');
    assert.equal((await running.exited).code, 0);
    assert.equal((await describeGroup(group)).partitions[0]!.committedOffset, 2);
  });

  test('reset-offsets --to-earliest --execute makes a group read the same records again; the dry run changes nothing', async () => {
    const topic = await filledTopic(3, 3);
    const group = unique('rereader');
    const consume = ['consume', topic, '--group', group, '--from-beginning', '--count', '9', ...b.at];
    const first = lines(await ferryOk(consume)).sort();
    assert.equal(first.length, 9);
    assert.equal((await describeGroup(group)).totalLag, 0);

    const dryRun = await ferryOk(['group', 'reset-offsets', group, '--topic', topic, '--to-earliest', ...b.at]);
    assert.match(dryRun, /^TOPIC\s+PARTITION\s+CURRENT\s+NEW$/m);
    assert.equal(dryRun.split('\n').filter((l) => new RegExp(`^${topic}\\s+\\d\\s+3\\s+0$`).test(l)).length, 3);
    assert.match(dryRun, /^dry run: nothing changed; add --execute to apply$/m);
    assert.equal((await describeGroup(group)).totalLag, 0, 'the dry run changed nothing');
    const plan = JSON.parse(await ferryOk(['group', 'reset-offsets', group, '--topic', topic, '--to-earliest', '--json', ...b.at])) as {
      executed: boolean;
      partitions: Array<{ previousOffset: number; newOffset: number }>;
    };
    assert.equal(plan.executed, false);
    assert.deepEqual(
      plan.partitions.map((p) => [p.previousOffset, p.newOffset]),
      [
        [3, 0],
        [3, 0],
        [3, 0],
      ],
    );
    // Nothing to read after a dry run.
    assert.equal((await ferry(['consume', topic, '--group', group, '--timeout-ms', '1000', ...b.at])).stdout, '');

    const executed = await ferryOk(['group', 'reset-offsets', group, '--topic', topic, '--to-earliest', '--execute', ...b.at]);
    assert.match(executed, new RegExp(`^reset the offsets of group ${group}$`, 'm'));
    assert.equal((await describeGroup(group)).totalLag, 9);
    const again = lines(await ferryOk(consume)).sort();
    assert.deepEqual(again, first, 'the group read the same records again');
  });

  test('reset to an offset, by a shift, to the latest and to a datetime; one partition with TOPIC:P', async () => {
    const topic = await filledTopic(2, 10);
    const group = unique('mover');
    const reset = async (...target: string[]) =>
      (JSON.parse(await ferryOk(['group', 'reset-offsets', group, '--execute', '--json', ...target, ...b.at])) as { partitions: Array<{ partition: number; newOffset: number }> }).partitions.map(
        (p) => [p.partition, p.newOffset],
      );
    assert.deepEqual(await reset('--topic', topic, '--to-offset', '6'), [
      [0, 6],
      [1, 6],
    ]);
    assert.deepEqual(await reset('--topic', topic, '--shift-by', '-2'), [
      [0, 4],
      [1, 4],
    ]);
    assert.deepEqual(await reset('--topic', `${topic}:1`, '--shift-by', '100'), [[1, 10]], 'clamped to the end of the log');
    assert.deepEqual(await reset('--all-topics', '--to-earliest'), [
      [0, 0],
      [1, 0],
    ]);
    assert.deepEqual(await reset('--topic', topic, '--to-latest'), [
      [0, 10],
      [1, 10],
    ]);
    assert.deepEqual(await reset('--topic', topic, '--to-datetime', '2000-01-01T00:00:00Z'), [
      [0, 0],
      [1, 0],
    ]);
    assert.deepEqual(await reset('--topic', topic, '--to-datetime', new Date(Date.now() + 3_600_000).toISOString()), [
      [0, 10],
      [1, 10],
    ]);
  });

  test('delete removes a group and its offsets', async () => {
    const topic = await filledTopic(1, 1);
    const group = unique('doomed');
    await ferryOk(['consume', topic, '--group', group, '--from-beginning', '--count', '1', ...b.at]);
    assert.equal(await ferryOk(['group', 'delete', group, ...b.at]), `deleted group ${group}\n`);
    const gone = await ferry(['group', 'describe', group, ...b.at]);
    assert.equal(gone.code, 1);
    assert.equal(gone.stderr, `ferry: group ${group} does not exist\n`);
  });
});

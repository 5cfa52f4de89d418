// Consumer groups with kcat 1.7.1's balanced consumer (`kcat -G`, librdkafka 2.0.2's
// high-level consumer, range assignor, auto commit) against a Ferry broker process.
//
// Two kcat members split a 6-partition topic and consume it; one is stopped (SIGTERM: kcat
// closes the consumer, which commits and sends LeaveGroup), the other takes its partitions over
// at the committed offsets and consumes what is produced next; stopping the last one commits
// everything and leaves the group empty. The commits are checked where kcat 1.7.1 makes them:
// when partitions are revoked and when it closes. Its periodic auto commit never fired in these
// runs (no OffsetCommit in librdkafka's debug log between rebalances), while the same librdkafka
// through confluent-kafka does commit every auto.commit.interval.ms against Ferry: a kcat matter.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { rawEndOffsets } from './harness.js';
import {
  checkDeliveries,
  committedOffsets,
  createTopic,
  describeGroup,
  describeGroups,
  produceNumbered,
  startKcatMember,
  waitForDistinct,
  waitForStableGroup,
  withTimeline,
} from './group-members.js';

const PARTITIONS = 6;
const ALL = [0, 1, 2, 3, 4, 5];

describeGroups('consumer groups: kcat -G against a Ferry broker process', (bed) => {
  test('two balanced consumers share a topic, commit, and hand partitions over at the committed offsets', { timeout: 90_000 }, async (t) => {
    const f = bed.broker;
    const topic = 'kcat-balanced';
    const group = 'kcat-balanced';
    const t0 = Date.now();
    t.diagnostic(`kcat ${/^Version (.*)$/m.exec(execFileSync('kcat', ['-V'], { encoding: 'utf8' }))?.[1] ?? '(kcat -V printed no version)'}`);
    await createTopic(f.bootstrap, topic, PARTITIONS);
    const settings = { 'session.timeout.ms': 6000, 'heartbeat.interval.ms': 500, 'auto.commit.interval.ms': 200 };
    const [a, b] = bed.add(...(await Promise.all([startKcatMember('kcat-a', f.bootstrap, group, topic, settings), startKcatMember('kcat-b', f.bootstrap, group, topic, settings)])));
    const stable = await waitForStableGroup(f.port, group, topic, 2, 30_000);
    await Promise.all([a!, b!].map((m) => m.waitFor((e) => e.e === 'assign' && (e['partitions'] as number[]).length > 0, 20_000, 'partitions assigned')));
    const assignA = a!.assignment();
    const assignB = b!.assignment();
    assert.deepEqual([...assignA, ...assignB].sort((x, y) => x - y), ALL, `kcat-a ${JSON.stringify(assignA)}, kcat-b ${JSON.stringify(assignB)}`);
    assert.deepEqual(stable.members.flatMap((m) => m.assignment).sort((x, y) => x - y), ALL);

    await produceNumbered(f.bootstrap, topic, PARTITIONS, 0, 3000, 600);
    await waitForDistinct([a!, b!], 3000, 30_000);
    for (const d of a!.deliveries) assert.ok(assignA.includes(d.p), `kcat-a consumed partition ${d.p}, not assigned to it`);
    for (const d of b!.deliveries) assert.ok(assignB.includes(d.p), `kcat-b consumed partition ${d.p}, not assigned to it`);

    // kcat-a leaves: its close commits its offsets, then LeaveGroup; kcat-b gets everything.
    await a!.stop();
    const afterLeave = await committedOffsets(f.port, group, topic, PARTITIONS);
    for (const p of assignA) assert.equal(afterLeave[p], 500, `partition ${p}: kcat-a committed ${afterLeave[p]} on close`);
    await b!.waitFor((e) => e.e === 'assign' && (e['partitions'] as number[]).length === PARTITIONS, 20_000, 'all partitions after kcat-a left');
    const alone = await waitForStableGroup(f.port, group, topic, 1, 10_000);
    assert.deepEqual(alone.members[0]!.assignment, ALL);

    await produceNumbered(f.bootstrap, topic, PARTITIONS, 3000, 4200, 600);
    await waitForDistinct([a!, b!], 4200, 30_000);
    await b!.stop();
    const ends = await rawEndOffsets(f.port, topic, PARTITIONS);
    assert.deepEqual(await committedOffsets(f.port, group, topic, PARTITIONS), ends, 'kcat-b committed everything on close');
    assert.equal((await describeGroup(f.port, group, topic)).state, 'Empty');

    const report = withTimeline([a!, b!], t0, () => checkDeliveries([...a!.deliveries, ...b!.deliveries], { topicPartitions: PARTITIONS, count: 4200 }));
    // kcat-b took kcat-a's partitions over exactly at the offsets kcat-a committed.
    for (const p of assignA) {
      const first = Math.min(...b!.deliveries.filter((d) => d.p === p).map((d) => d.o));
      assert.equal(first, 500, `partition ${p}: kcat-b started at ${first}`);
    }
    t.diagnostic(
      `protocol ${stable.protocol}; kcat-a ${JSON.stringify(assignA)} consumed ${report.perMember.get('kcat-a')}, kcat-b ${JSON.stringify(assignB)} then all consumed ${report.perMember.get('kcat-b')}; ` +
        `each of 4200 messages once; commits on close ${JSON.stringify(afterLeave)} then ${JSON.stringify(ends)}`,
    );
  });
});

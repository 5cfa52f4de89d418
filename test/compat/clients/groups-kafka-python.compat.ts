// Consumer groups with kafka-python 2.0.2 (Debian python3-kafka) against a Ferry broker process:
// two py/group_member.py members with the range assignor (kafka-python speaks JoinGroup v2,
// SyncGroup/Heartbeat/LeaveGroup v1, OffsetCommit v2 and OffsetFetch v1 to a broker it takes
// for Kafka ≥ 2.x). The second member joins while the first is consuming: an eager rebalance
// (everything revoked, then range-assigned), the revoked offsets committed in the callback, and
// every message consumed exactly once and committed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rawEndOffsets } from './harness.js';
import {
  type MemberProcess,
  checkDeliveries,
  createTopic,
  describeGroup,
  describeGroups,
  produceNumbered,
  startPythonMember,
  storedGenerations,
  waitForCommitted,
  waitForDistinct,
  waitForStableGroup,
  withTimeline,
} from './group-members.js';

const PARTITIONS = 6;

describeGroups('consumer groups: kafka-python against a Ferry broker process', (bed) => {
  test('range assignor: two members split the partitions in ranges; every message consumed once and committed', { timeout: 90_000 }, async (t) => {
    const f = bed.broker;
    const topic = 'kafka-python-range';
    const group = 'kafka-python-range';
    const t0 = Date.now();
    await createTopic(f.bootstrap, topic, PARTITIONS);
    await produceNumbered(f.bootstrap, topic, PARTITIONS, 0, 3000, 600);
    const config = { partition_assignment_strategy: ['range'], session_timeout_ms: 6000, heartbeat_interval_ms: 500 };
    const start = async (name: string): Promise<MemberProcess> => {
      const [m] = bed.add(await startPythonMember(name, { client: 'kafka-python', bootstrap: f.bootstrap, topic, group, config: { ...config, client_id: name } }));
      return m!;
    };
    const a = await start('range-a');
    const ready = a.events.find((e) => e.e === 'ready')!;
    t.diagnostic(`kafka-python ${String(ready['version'])} (${String(ready['lib'])})`);
    await a.waitFor((e) => e.e === 'assign' && (e['partitions'] as number[]).length === PARTITIONS, 30_000, 'all partitions assigned');
    await a.waitFor((e) => e.e === 'c', 30_000, 'a commit');
    const b = await start('range-b');
    const group2 = await waitForStableGroup(f.port, group, topic, 2, 30_000);
    await b.waitFor((e) => e.e === 'assign' && (e['partitions'] as number[]).length > 0, 30_000, 'partitions assigned');
    await produceNumbered(f.bootstrap, topic, PARTITIONS, 3000, 6000, 600);
    const ends = await rawEndOffsets(f.port, topic, PARTITIONS);
    await waitForCommitted(f.port, group, topic, ends, 30_000);
    // The members report what they processed; the last lines may still be on their way.
    await waitForDistinct([a, b], 6000, 10_000);
    const report = withTimeline([a, b], t0, () => checkDeliveries([...a.deliveries, ...b.deliveries], { topicPartitions: PARTITIONS, count: 6000 }));
    // Range: members sorted by member id get consecutive partitions, 3 each.
    assert.equal(group2.protocol, 'range');
    const sorted = [...group2.members].sort((x, y) => (x.memberId < y.memberId ? -1 : 1));
    assert.deepEqual(
      sorted.map((m) => m.assignment),
      [
        [0, 1, 2],
        [3, 4, 5],
      ],
      `range assignment by member id: ${JSON.stringify(sorted)}`,
    );
    for (const m of [a, b]) {
      const own = group2.members.find((x) => x.clientId === m.name)!;
      assert.deepEqual(m.assignment(), own.assignment, `${m.name}'s assignment as it saw it and as the broker stored it`);
    }
    // Eager protocol: the first member gave up everything before the range assignment.
    assert.ok(a.events.some((e) => e.e === 'revoke' && (e['partitions'] as number[]).length === PARTITIONS), 'range-a revoked all partitions in the rebalance');
    const gens = await storedGenerations(f.port, group, topic);
    t.diagnostic(
      `6000 messages each consumed once (range-a ${report.perMember.get('range-a')}, range-b ${report.perMember.get('range-b')}); ` +
        `generations stored: ${gens.map((g) => `${g.generation} ${JSON.stringify(g.members.map((m) => m.assignment))}`).join(', ')}`,
    );
    await Promise.all([a.stop(), b.stop()]);
    assert.equal((await describeGroup(f.port, group, topic)).state, 'Empty', 'both members left (LeaveGroup v1)');
  });
});

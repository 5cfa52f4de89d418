// Consumer groups surviving crashes, with kafkajs members as child processes
// (groups/kafkajs-member.ts) against a Ferry broker process:
//
// - a member is SIGKILLed mid-stream: the broker expels it after its session timeout, its
//   partitions go to the survivors, nothing is lost, and the only messages processed twice are
//   the killed member's after its last acknowledged commit;
// - the broker is SIGKILLed mid-consumption and restarted on the same data directory and port:
//   acknowledged commits survive, the members carry on, nothing is lost and nothing before an
//   acknowledged commit is processed again; then, after a second kill, a new member of the
//   group starts exactly at the committed offsets.
//
// Members commit the kafkajs way (autoCommit: after every batch and before rejoining) and report
// each processed message and each commit the broker acknowledged.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FerryProcess, rawEndOffsets } from './harness.js';
import {
  type Delivery,
  GROUP_BROKER_SETTINGS,
  type GroupTestBed,
  KAFKAJS_MEMBER_DEFAULTS,
  type MemberProcess,
  checkDeliveries,
  committedOffsets,
  createTopic,
  describeGroup,
  describeGroups,
  describeRepeats,
  distinctDeliveries,
  produceNumbered,
  startKafkajsMember,
  waitForCommitted,
  waitForDistinct,
  waitForStableGroup,
  waitUntil,
  withTimeline,
} from './group-members.js';

const PARTITIONS = 6;
const ALL = [0, 1, 2, 3, 4, 5];
const COUNT = 12_000;

/**
 * Three kafkajs members in a stable group, then COUNT messages: ~1 ms per message, and batches
 * of 100 per partition (each produce request makes one), so each member takes a few seconds and
 * commits every 100 messages of a partition.
 */
async function threeMembersConsuming(bed: GroupTestBed, names: string[], topic: string, groupId: string): Promise<{ members: MemberProcess[]; ends: number[] }> {
  const f = bed.broker;
  await createTopic(f.bootstrap, topic, PARTITIONS);
  const members = bed.add(
    ...(await Promise.all(
      names.map((name) => startKafkajsMember(name, { bootstrap: f.bootstrap, topic, groupId, maxBytesPerPartition: 2048, processDelayMs: 1, processDelayEvery: 1 })),
    )),
  );
  await waitForStableGroup(f.port, groupId, topic, names.length, 20_000);
  await produceNumbered(f.bootstrap, topic, PARTITIONS, 0, COUNT, 600);
  return { members, ends: await rawEndOffsets(f.port, topic, PARTITIONS) };
}

describeGroups('consumer groups: a member killed mid-stream (kafkajs)', (bed) => {
  test('its partitions move to the survivors within the session timeout; only messages after its last commit are seen twice', { timeout: 120_000 }, async (t) => {
    const f = bed.broker;
    const topic = 'member-crash';
    const groupId = 'member-crash';
    const session = KAFKAJS_MEMBER_DEFAULTS.sessionTimeoutMs;
    const t0 = Date.now();
    const { members, ends } = await threeMembersConsuming(bed, ['crash-a', 'crash-b', 'crash-c'], topic, groupId);
    const victim = members[1]!;
    const survivors = [members[0]!, members[2]!];

    // Killed in the middle of a batch: it has processed messages it has not committed yet.
    let processed = 0;
    await victim.waitFor((e) => e.e === 'm' && ++processed >= 850, 30_000, 'processed 850 messages');
    const owned = victim.assignment();
    assert.ok(owned.length > 0, `${victim.name} owns no partition`);
    const killAt = Date.now();
    await victim.kill();
    const lastCommit = victim.committed();
    const victimDeliveries = victim.deliveries;
    const victimMax = new Map<number, number>();
    for (const d of victimDeliveries) victimMax.set(d.p, Math.max(victimMax.get(d.p) ?? -1, d.o));

    // The survivors get every partition back: the broker expels the dead member after its session timeout.
    const movedAt = await waitUntil(
      async () => {
        const union = new Set(survivors.flatMap((m) => m.assignment()));
        return ALL.every((p) => union.has(p)) ? Date.now() : undefined;
      },
      session + 10_000,
      `the survivors own all ${PARTITIONS} partitions`,
      20,
    );
    const moveMs = movedAt - killAt;
    assert.ok(moveMs <= session + 3000, `the partitions moved ${moveMs} ms after the kill; session timeout ${session} ms`);
    // Not before the session timeout either: a silent member keeps its partitions until then.
    assert.ok(moveMs >= session - 1500, `the partitions moved after ${moveMs} ms, well before the session timeout of ${session} ms`);

    await waitForDistinct(members, COUNT, 60_000);
    await waitForCommitted(f.port, groupId, topic, ends, 20_000);
    const group = await waitForStableGroup(f.port, groupId, topic, 2, 10_000);
    assert.deepEqual(group.members.flatMap((m) => m.assignment).sort((a, b) => a - b), ALL);

    const all = members.flatMap((m) => m.deliveries);
    const report = withTimeline(members, t0, () =>
      checkDeliveries(all, {
        topicPartitions: PARTITIONS,
        count: COUNT,
        repeatAllowed: (p, o, ds: Delivery[]) => {
          if (ds.length !== 2) return `consumed ${ds.length} times`;
          if (ds[0]!.member !== victim.name || ds[1]!.member === victim.name) return `not a redelivery of a message the killed member (${victim.name}) processed`;
          if (!owned.includes(p)) return `partition ${p} was not the killed member's (${JSON.stringify(owned)})`;
          const c = lastCommit.get(p) ?? 0;
          if (o < c) return `before the killed member's last acknowledged commit (${c})`;
          return null;
        },
      }),
    );
    assert.ok(report.repeated.length > 0, `${victim.name} was killed mid-batch, yet no message was processed twice`);
    // Where the survivors resumed each of the victim's partitions: at or after its last commit, and
    // no later than the first message it had not processed.
    for (const p of owned) {
      const first = Math.min(...all.filter((d) => d.p === p && d.member !== victim.name && d.at > killAt).map((d) => d.o));
      const c = lastCommit.get(p) ?? 0;
      assert.ok(first >= c && first <= (victimMax.get(p) ?? -1) + 1, `partition ${p} resumed at ${first}: last commit ${c}, last processed ${victimMax.get(p)}`);
    }
    t.diagnostic(
      `kafkajs ${String(members[0]!.events.find((e) => e.e === 'ready')!['version'])}: ${victim.name} killed after ${victimDeliveries.length} messages, owning ${JSON.stringify(owned)}, ` +
        `last commits ${JSON.stringify(Object.fromEntries([...lastCommit].filter(([p]) => owned.includes(p))))}; partitions moved ${moveMs} ms after the kill (session timeout ${session} ms); ` +
        `${report.repeated.length} messages processed twice (${describeRepeats(report.repeated)}), all after the last commit`,
    );
    await Promise.all(survivors.map((m) => m.stop()));
  });
});

describeGroups('consumer groups: the broker killed mid-consumption and restarted (kafkajs)', (bed) => {
  test('acknowledged commits survive kill -9; the group resumes from its committed offsets', { timeout: 150_000 }, async (t) => {
    const topic = 'broker-crash';
    const groupId = 'broker-crash';
    const t0 = Date.now();
    const first = bed.broker;
    const { dataDir, port } = first;
    const { members, ends } = await threeMembersConsuming(bed, ['survivor-a', 'survivor-b', 'survivor-c'], topic, groupId);

    await waitUntil(async () => (distinctDeliveries(members) >= 3000 && members.every((m) => m.committed().size > 0) ? true : undefined), 30_000, 'a quarter consumed and committed');
    const distinctAtKill = distinctDeliveries(members);
    await first.kill();
    const restartStarted = Date.now();
    bed.ferry = await FerryProcess.start(GROUP_BROKER_SETTINGS, 20_000, { dataDir, port });
    const second = bed.ferry;
    const restartAt = Date.now();
    // Commits acknowledged before the kill: their "c" events can only come from before it, since
    // no broker ran until the restart.
    const acked = new Map<number, number>();
    for (const m of members) for (const [p, o] of m.committed(restartAt)) acked.set(p, Math.max(acked.get(p) ?? -1, o));
    const afterRestart = await committedOffsets(port, groupId, topic, PARTITIONS);
    for (const [p, o] of acked) assert.ok(afterRestart[p]! >= o, `partition ${p}: commit of ${o} acknowledged before the kill, ${afterRestart[p]} after the restart`);
    const described = await describeGroup(port, groupId, topic);

    await waitForDistinct(members, COUNT, 90_000);
    const resumedAt = Math.min(...members.flatMap((m) => m.deliveries).filter((d) => d.at > restartAt).map((d) => d.at));
    await waitForCommitted(port, groupId, topic, ends, 30_000);
    await waitForStableGroup(port, groupId, topic, 3, 30_000);
    const report = withTimeline(members, t0, () =>
      checkDeliveries(
        members.flatMap((m) => m.deliveries),
        {
          topicPartitions: PARTITIONS,
          count: COUNT,
          repeatAllowed: (p, o, ds) => {
            if (ds.slice(1).some((d) => d.at < restartStarted)) return 'processed twice before the broker was restarted';
            const c = acked.get(p) ?? 0;
            if (o < c) return `before the commit of ${c} acknowledged before the kill`;
            return null;
          },
        },
      ),
    );
    const crashes = members.flatMap((m) => m.events.filter((e) => e.e === 'crash')).length;
    t.diagnostic(
      `broker killed after ${distinctAtKill} messages (acknowledged commits ${JSON.stringify(Object.fromEntries(acked))}); restarted in ${restartAt - restartStarted} ms ` +
        `(group ${described.state} with ${described.members.length} members right after the restart); first message processed ${resumedAt - restartAt} ms after the restart; ` +
        `kafkajs consumer crash-restarts: ${crashes}; ${report.repeated.length} messages processed twice (${describeRepeats(report.repeated)}), none before an acknowledged commit`,
    );

    // Second part: everyone leaves with everything committed, the broker is killed again at once,
    // and a new member of the group must start exactly at the committed offsets.
    await Promise.all(members.map((m) => m.stop()));
    await second.kill();
    bed.ferry = await FerryProcess.start(GROUP_BROKER_SETTINGS, 20_000, { dataDir, port });
    const third = bed.ferry;
    assert.deepEqual(await committedOffsets(port, groupId, topic, PARTITIONS), ends, 'the final commits survive kill -9');
    const MORE = 600;
    await produceNumbered(third.bootstrap, topic, PARTITIONS, COUNT, COUNT + MORE);
    const [late] = bed.add(await startKafkajsMember('late-member', { bootstrap: third.bootstrap, topic, groupId }));
    await waitUntil(async () => (late!.deliveries.length >= MORE ? true : undefined), 30_000, `the new member consumed ${MORE} messages`);
    await waitForCommitted(port, groupId, topic, await rawEndOffsets(port, topic, PARTITIONS), 20_000);
    await late!.stop();
    const got = late!.deliveries;
    assert.equal(got.length, MORE, `the new member consumed ${got.length} messages; ${MORE} were produced after the commits`);
    for (let p = 0; p < PARTITIONS; p++) {
      const offsets = got.filter((d) => d.p === p).map((d) => d.o);
      assert.equal(Math.min(...offsets), ends[p], `partition ${p}: the new member started at ${Math.min(...offsets)}, the committed offset is ${ends[p]}`);
    }
    t.diagnostic(`after a second kill -9 and restart, a new member started at the committed offsets ${JSON.stringify(ends)} and read only the ${MORE} new messages`);
  });
});

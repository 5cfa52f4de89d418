import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CooperativeStickyAssignor, type MemberSubscription, RangeAssignor, RoundRobinAssignor } from '../../src/client/assignors.js';
import { decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription } from '../../src/client/consumer-protocol.js';
import type { TopicPartition } from '../../src/client/record-types.js';

function member(memberId: string, topics: string[], ownedPartitions: TopicPartition[] = [], generationId = -1): MemberSubscription {
  return { memberId, groupInstanceId: null, topics, ownedPartitions, generationId, userData: null };
}

const show = (tps: TopicPartition[] | undefined): string[] => (tps ?? []).map((tp) => `${tp.topic}-${tp.partition}`);

describe('assignors', () => {
  test('range: consecutive ranges per topic, the first members get the extra partitions', () => {
    const result = new RangeAssignor().assign([member('b', ['t1', 't2']), member('a', ['t1', 't2']), member('c', ['t1'])], new Map([['t1', 7], ['t2', 3]]));
    assert.deepEqual(show(result.get('a')), ['t1-0', 't1-1', 't1-2', 't2-0', 't2-1']);
    assert.deepEqual(show(result.get('b')), ['t1-3', 't1-4', 't2-2']);
    assert.deepEqual(show(result.get('c')), ['t1-5', 't1-6']);
  });

  test('roundrobin: partitions dealt in order, skipping members not subscribed', () => {
    const result = new RoundRobinAssignor().assign([member('a', ['t1', 't2']), member('b', ['t1']), member('c', ['t1', 't2'])], new Map([['t1', 3], ['t2', 3]]));
    // t2-1 skips b (not subscribed) and goes to c; the circle then continues at a.
    assert.deepEqual(show(result.get('a')), ['t1-0', 't2-0', 't2-2']);
    assert.deepEqual(show(result.get('b')), ['t1-1']);
    assert.deepEqual(show(result.get('c')), ['t1-2', 't2-1']);
  });

  test('cooperative-sticky: balanced, keeps owned partitions, and withholds moved ones for a second round', () => {
    const assignor = new CooperativeStickyAssignor();
    const counts = new Map([['t', 6]]);
    const first = assignor.assign([member('a', ['t']), member('b', ['t'])], counts);
    assert.equal(first.get('a')!.length, 3);
    assert.equal(first.get('b')!.length, 3);
    // A third member joins: a and b keep what they keep, and the partitions that must move
    // are only taken away this round.
    const second = assignor.assign([member('a', ['t'], first.get('a'), 1), member('b', ['t'], first.get('b'), 1), member('c', ['t'])], counts);
    for (const id of ['a', 'b']) {
      for (const tp of second.get(id)!) assert.ok(show(first.get(id)).includes(`${tp.topic}-${tp.partition}`), `${id} got nothing new`);
      assert.equal(second.get(id)!.length, 2);
    }
    assert.deepEqual(second.get('c'), []);
    // The follow-up round hands the freed partitions to c.
    const third = assignor.assign([member('a', ['t'], second.get('a'), 2), member('b', ['t'], second.get('b'), 2), member('c', ['t'], [], 2)], counts);
    assert.deepEqual(third.get('a'), second.get('a'));
    assert.deepEqual(third.get('b'), second.get('b'));
    assert.equal(third.get('c')!.length, 2);
    const all = [...third.values()].flat().map((tp) => tp.partition).sort();
    assert.deepEqual(all, [0, 1, 2, 3, 4, 5]);
  });

  test('cooperative-sticky: a claim from an older generation loses to a newer one', () => {
    const result = new CooperativeStickyAssignor().assign(
      [member('a', ['t'], [{ topic: 't', partition: 0 }], 3), member('b', ['t'], [{ topic: 't', partition: 0 }], 5)],
      new Map([['t', 2]]),
    );
    assert.deepEqual(show(result.get('b')), ['t-0']);
    assert.deepEqual(show(result.get('a')), ['t-1'], 'the free partition balances the load');
  });
});

describe('consumer protocol', () => {
  test('subscriptions and assignments round-trip with their version prefix', () => {
    const sub = decodeSubscription(
      encodeSubscription({ topics: ['b', 'a'], userData: Buffer.from([1, 2]), ownedPartitions: [{ topic: 'a', partition: 2 }], generationId: 7, rackId: null }),
    );
    assert.equal(sub.version, 3);
    assert.deepEqual(sub.topics, ['a', 'b']);
    assert.deepEqual(sub.ownedPartitions, [{ topic: 'a', partition: 2 }]);
    assert.equal(sub.generationId, 7);
    const asg = decodeAssignment(encodeAssignment({ partitions: [{ topic: 'x', partition: 1 }, { topic: 'x', partition: 0 }], userData: null }, 0));
    assert.deepEqual(asg.partitions, [
      { topic: 'x', partition: 0 },
      { topic: 'x', partition: 1 },
    ]);
    assert.deepEqual(decodeAssignment(Buffer.alloc(0)).partitions, []);
  });
});

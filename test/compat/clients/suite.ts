/**
 * The checks every real client goes through against a Ferry broker process. Each client file
 * (*.compat.ts beside this one) wraps its client in a ClientUnderTest and calls
 * defineClientSuite(); the checks are the same for all, within what each client can express
 * (Capabilities: kcat sets the same headers on every message, cannot send an empty non-null
 * value or choose a timestamp).
 *
 * Topics are created with the client's own admin API (CreateTopics). kcat has none: its topics
 * are auto-created (the broker runs with num.partitions=3).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import {
  CODEC_IDS,
  type CodecName,
  type ConsumedRecord,
  type DeliveryReport,
  FerryProcess,
  type Header,
  MAX_MESSAGE_BYTES,
  PARTITIONS,
  type TestMessage,
  API_CREATE_TOPICS,
  makeMessages,
  patternBytes,
  rawEndOffsets,
  servedApis,
  sleep,
  storedBatches,
  tail,
  valueBytesForBatch,
  verifyRoundTrip,
} from './harness.js';

export interface Capabilities {
  /** Per-message headers, or one fixed set on every message of a produce call (kcat -H). */
  fixedHeaders: Header[] | null;
  nullHeaderValues: boolean;
  /** Whether a value can be empty but not null. */
  emptyValues: boolean;
  /** Whether the producer can set a record's timestamp. */
  explicitTimestamps: boolean;
  /** Headers as the client's API represents them, for comparisons (kafkajs merges duplicate keys). */
  normalizeHeaders?: (h: Header[]) => unknown;
  /** 'admin': the client creates topics with CreateTopics; 'auto': by auto-creation (kcat). */
  createTopics: 'admin' | 'auto';
  /** The client's error for a batch over max.message.bytes. */
  tooLarge: RegExp;
  /** The client's error for creating a topic that exists. */
  alreadyExists: RegExp;
  /** Why this client may silently not compress with a codec, for the failure message. */
  compressionHint?: Partial<Record<CodecName, string>>;
}

export interface ClientMetadata {
  brokers: Array<{ nodeId: number; host: string; port: number }>;
  controllerId: number | null;
  topic: {
    errorCode: number;
    partitions: Array<{ partition: number; leader: number; replicas: number[]; isr: number[]; errorCode?: number }>;
  } | null;
}

export type StartAt = 'earliest' | 'latest' | { offset: number } | { timestamp: number };

export interface Reader {
  /** Where the reader starts in each partition, once resolved (null when the client does not say). */
  readonly positions: Array<number | null> | null;
  /** Reads until each partition p has been read up to until[p] (exclusive). */
  readUntil(until: number[], timeoutMs: number): Promise<ConsumedRecord[]>;
  /** Reads for durationMs and returns whatever arrived. */
  readFor(durationMs: number): Promise<ConsumedRecord[]>;
  close(): Promise<void>;
}

export interface ClientUnderTest {
  /** Name in test titles, and the prefix of its topics. */
  readonly name: string;
  readonly id: string;
  readonly caps: Capabilities;
  /** Connects (or starts its driver); throws with the install hint if the client is missing. */
  open(ferry: FerryProcess): Promise<void>;
  close(): Promise<void>;
  versionLines(): Promise<string[]>;
  /** Codecs this client can produce with on this machine, and notes on the others. */
  codecs(): Promise<{ tested: CodecName[]; notes: string[] }>;
  metadata(topic: string): Promise<ClientMetadata>;
  /** With the admin API (caps.createTopics 'admin') or by auto-creation ('auto'). Throws ClientError. */
  createTopic(topic: string, partitions: number): Promise<void>;
  /** Produces in order; one report per message when the client gives them. Throws ClientError. */
  produce(topic: string, messages: TestMessage[], options?: { compression?: CodecName }): Promise<Array<DeliveryReport | null> | null>;
  /** Produces messages that must be refused; resolves with the client's error text. */
  produceExpectingError(topic: string, messages: TestMessage[]): Promise<string>;
  /** A group-less reader of `partitions` (sorted) from `start`; expectCount: how many it will read (kcat -c). */
  openReader(topic: string, partitions: number[], start: StartAt, expectCount?: number): Promise<Reader>;
  /** The first offset with a timestamp ≥ ts (null when there is none; some clients answer the end offset then). */
  offsetForTime(topic: string, partition: number, ts: number): Promise<number | null>;
}

const ALL_PARTITIONS = Array.from({ length: PARTITIONS }, (_, p) => p);

/** One describe block per client: a broker process, then the checks in order. */
export function defineClientSuite(client: ClientUnderTest): void {
  describe(`${client.name} against a Ferry broker process`, () => {
    let ferry: FerryProcess | null = null;
    let opened = false;

    const broker = (): FerryProcess => {
      if (ferry === null) throw new Error('the broker did not start');
      return ferry;
    };
    const ready = (): FerryProcess => {
      if (!opened) throw new Error(`${client.name} is not available (see the first test of this client)`);
      return broker();
    };

    /** Creates a topic of 3 partitions the way this client can (admin API, or auto-creation). */
    const createTopic = async (topic: string): Promise<void> => {
      ready();
      await client.createTopic(topic, PARTITIONS);
    };

    /** Reads partitions from `start` up to their current end, as the client does. */
    const readAll = async (topic: string, partitions: number[], start: StartAt, timeoutMs = 90_000): Promise<{ records: ConsumedRecord[]; ends: number[] }> => {
      const ends = await rawEndOffsets(ready().port, topic, PARTITIONS);
      const until = ALL_PARTITIONS.map((p) => (partitions.includes(p) ? ends[p]! : 0));
      const reader = await client.openReader(topic, partitions, start);
      try {
        return { records: await reader.readUntil(until, timeoutMs), ends };
      } finally {
        await reader.close();
      }
    };

    before(async () => {
      ferry = await FerryProcess.start({ 'message.max.bytes': MAX_MESSAGE_BYTES, 'num.partitions': PARTITIONS });
    });

    after(async () => {
      const problems: string[] = [];
      await client.close().catch((e: Error) => problems.push(`closing ${client.name}: ${e.message}`));
      if (ferry !== null && ferry.isRunning) await ferry.stop().catch((e: Error) => problems.push(e.message));
      if (problems.length > 0) throw new Error(problems.join('\n'));
    });

    test(`${client.name} is installed: version`, { timeout: 60_000 }, async (t) => {
      await client.open(broker());
      opened = true;
      for (const line of await client.versionLines()) t.diagnostic(line);
    });

    const mainTopic = `${client.id}-main`;

    test('reads metadata and creates a topic of 3 partitions', { timeout: 60_000 }, async (t) => {
      const f = ready();
      if (client.caps.createTopics === 'admin') {
        assert.ok((await servedApis(f.port)).has(API_CREATE_TOPICS), 'the broker must serve CreateTopics (API 19)');
      }
      await createTopic(mainTopic);
      if (client.caps.createTopics === 'admin') {
        t.diagnostic(`topic ${mainTopic} created with ${client.name}'s admin API (CreateTopics)`);
        await assert.rejects(client.createTopic(mainTopic, PARTITIONS), (e: Error) => {
          assert.match(e.message, client.caps.alreadyExists, 'creating an existing topic must fail with TOPIC_ALREADY_EXISTS');
          return true;
        });
      } else {
        t.diagnostic(`topic ${mainTopic} auto-created (${client.name} has no admin API)`);
      }
      const md = await client.metadata(mainTopic);
      assert.equal(md.brokers.length, 1, `one broker, got ${JSON.stringify(md.brokers)}`);
      const b = md.brokers[0]!;
      assert.equal(b.port, f.port, 'the advertised port is the one the broker listens on');
      assert.equal(b.host, f.host);
      if (md.controllerId !== null) assert.equal(md.controllerId, b.nodeId, 'the controller is the broker');
      assert.ok(md.topic !== null, `no metadata for ${mainTopic}`);
      assert.equal(md.topic.errorCode, 0);
      const parts = md.topic.partitions.slice().sort((x, y) => x.partition - y.partition);
      assert.deepEqual(parts.map((p) => p.partition), ALL_PARTITIONS);
      for (const p of parts) {
        assert.equal(p.leader, b.nodeId, `leader of partition ${p.partition}`);
        assert.deepEqual(p.replicas, [b.nodeId]);
        assert.deepEqual(p.isr, [b.nodeId]);
        assert.equal(p.errorCode ?? 0, 0);
      }
      t.diagnostic(`metadata: broker ${b.nodeId} at ${b.host}:${b.port}, controller ${md.controllerId ?? '(not exposed)'}, ${parts.length} partitions led by ${b.nodeId}`);
    });

    const messageOptions = (prefix: string, count: number, seed: number) => ({
      prefix,
      count,
      seed,
      emptyValues: client.caps.emptyValues,
      headers: client.caps.fixedHeaders ?? ('varied' as const),
      nullHeaderValues: client.caps.nullHeaderValues,
    });

    const roundTrip = async (t: TestContext, topic: string, count: number, seed: number, compression?: CodecName): Promise<number[]> => {
      const f = ready();
      // With a codec, every value is compressible text (else clients skip compressing).
      const messages = makeMessages({ ...messageOptions(`${compression ?? 'm'}`, count, seed), compressible: compression !== undefined });
      const t0 = Date.now();
      const reports = await client.produce(topic, messages, compression === undefined ? {} : { compression });
      const t1 = Date.now();
      const ends = await rawEndOffsets(f.port, topic, PARTITIONS);
      assert.equal(ends.reduce((a, b) => a + b, 0), count, `the broker holds ${ends.join('+')} records, expected ${count}`);
      const { records } = await readAll(topic, ALL_PARTITIONS, 'earliest');
      const counts = verifyRoundTrip(messages, records, {
        prefix: `${compression ?? 'm'}`,
        partitions: PARTITIONS,
        ...(reports === null ? {} : { reports }),
        timeRange: [t0 - 1000, t1 + 1000],
        ...(client.caps.normalizeHeaders === undefined ? {} : { normalizeHeaders: client.caps.normalizeHeaders }),
      });
      const bytes = messages.reduce((n, m) => n + (m.key?.length ?? 0) + (m.value?.length ?? 0), 0);
      t.diagnostic(
        `${count} messages (${(bytes / 1e6).toFixed(1)} MB of keys and values, ${messages.filter((m) => m.value === null).length} null values) ` +
          `produced in ${t1 - t0} ms and consumed back byte for byte; per partition ${counts.join('/')}${reports === null ? '' : '; delivery reports match'}`,
      );
      assert.ok(counts.filter((c) => c > 0).length >= 2, 'keyed messages spread over the partitions');
      return counts;
    };

    test('produces and consumes back 10,000 messages with keys, headers and null values', { timeout: 180_000 }, async (t) => {
      await roundTrip(t, mainTopic, 10_000, 1);
      for (let p = 0; p < PARTITIONS; p++) {
        for (const b of await storedBatches(ready().port, mainTopic, p)) {
          assert.equal(b.magic, 2);
          assert.equal(b.codec, CODEC_IDS.none, 'uncompressed unless asked');
        }
      }
    });

    test('compression codecs', { timeout: 180_000 }, async (t) => {
      ready();
      const { tested, notes } = await client.codecs();
      for (const note of notes) t.diagnostic(note);
      t.diagnostic(`codecs tested: ${tested.join(', ') || 'none'}`);
      assert.ok(tested.includes('gzip'), 'every client here has gzip');
      let seed = 100;
      for (const codec of tested) {
        seed++;
        await t.test(codec, { timeout: 120_000 }, async (tc) => {
          const topic = `${client.id}-${codec}`;
          await createTopic(topic);
          await roundTrip(tc, topic, 2000, seed, codec);
          // librdkafka and kafka-python send a batch uncompressed when compressing does not
          // make it smaller (a batch of one short record), so: every batch has the codec or
          // none, and some have the codec.
          let compressed = 0;
          let plain = 0;
          for (let p = 0; p < PARTITIONS; p++) {
            for (const b of await storedBatches(ready().port, topic, p)) {
              if (b.codec === CODEC_IDS.none) plain++;
              else {
                assert.equal(b.codec, CODEC_IDS[codec], `partition ${p} batch at offset ${b.baseOffset} has codec ${b.codec}, expected ${codec}`);
                compressed++;
              }
            }
          }
          assert.ok(compressed > 0, `none of the ${plain} stored batches is ${codec}-compressed: ${client.name} did not compress. ${client.caps.compressionHint?.[codec] ?? ''}`);
          tc.diagnostic(`${compressed} stored batches ${codec}-compressed${plain > 0 ? `, ${plain} sent uncompressed by the client (no gain)` : ''}`);
        });
      }
    });

    test(`max.message.bytes (${MAX_MESSAGE_BYTES}): a batch of exactly the limit is accepted, one byte more is refused`, { timeout: 90_000 }, async (t) => {
      const f = ready();
      const topic = `${client.id}-size`;
      await createTopic(topic);
      const key = Buffer.from('big');
      const atLimit = valueBytesForBatch(key.length, MAX_MESSAGE_BYTES);
      const big: TestMessage = { key, value: patternBytes(atLimit, 7), headers: [], partition: 0 };
      const reports = await client.produce(topic, [big]);
      if (reports !== null) assert.deepEqual(reports[0], { partition: 0, offset: 0 });
      const stored = await storedBatches(f.port, topic, 0);
      assert.equal(stored.length, 1);
      assert.equal(stored[0]!.sizeBytes, MAX_MESSAGE_BYTES, 'the accepted batch is exactly max.message.bytes long');
      t.diagnostic(`a ${atLimit}-byte value (a batch of exactly ${MAX_MESSAGE_BYTES} bytes) was accepted`);

      const tooBig: TestMessage = { key, value: patternBytes(atLimit + 1, 8), headers: [], partition: 0 };
      const error = await client.produceExpectingError(topic, [tooBig]);
      assert.match(error, client.caps.tooLarge);
      t.diagnostic(`one byte more was refused: ${error.split('\n')[0]!.slice(0, 300)}`);

      f.assertRunning();
      const small: TestMessage = { key: Buffer.from('small'), value: Buffer.from('after the refused one'), headers: [], partition: 0 };
      const r2 = await client.produce(topic, [small]);
      if (r2 !== null) assert.deepEqual(r2[0], { partition: 0, offset: 1 });
      const md = await client.metadata(topic);
      assert.equal(md.topic?.partitions.length, PARTITIONS);
      const { records } = await readAll(topic, [0], 'earliest');
      assert.equal(records.length, 2, 'the refused message left nothing behind');
      assert.equal(records[0]!.offset, 0);
      assert.ok(records[0]!.value !== null && records[0]!.value.equals(big.value!), 'the large value comes back byte for byte');
      assert.ok(records[0]!.key !== null && records[0]!.key.equals(key));
      assert.equal(records[1]!.offset, 1);
      assert.deepEqual(records[1]!.value, small.value);
      t.diagnostic('the broker stayed up: produce, metadata and fetch work after the refusal');
    });

    test('consumes from earliest, from latest and from a timestamp', { timeout: 120_000 }, async (t) => {
      const f = ready();
      const topic = `${client.id}-offsets`;
      await createTopic(topic);
      const n = 100;
      const base = Math.floor((Date.now() - 3_600_000) / 1000) * 1000;
      const messages = makeMessages(messageOptions('o', n, 3)).map((m) => ({ ...m, partition: 0 }));
      let split: number; // the timestamp whose first offset we look up, and that offset
      let splitOffset: number;
      let timeRange: [number, number] | undefined;
      if (client.caps.explicitTimestamps) {
        messages.forEach((m, i) => (m.timestamp = base + i * 1000));
        await client.produce(topic, messages);
        split = base + 37_000;
        splitOffset = 37;
      } else {
        // The client stamps records itself: produce in two calls with a known instant between.
        const t0 = Date.now();
        await client.produce(topic, messages.slice(0, 50));
        await sleep(50);
        split = Date.now();
        await sleep(50);
        await client.produce(topic, messages.slice(50));
        splitOffset = 50;
        timeRange = [t0 - 1000, Date.now() + 1000];
      }
      const verifyOpts = (startOffsets: number[]) => ({
        prefix: 'o',
        partitions: PARTITIONS,
        startOffsets,
        ...(timeRange === undefined ? {} : { timeRange }),
        ...(client.caps.normalizeHeaders === undefined ? {} : { normalizeHeaders: client.caps.normalizeHeaders }),
      });

      // earliest
      const all = await readAll(topic, [0], 'earliest');
      assert.deepEqual(all.ends, [n, 0, 0]);
      verifyRoundTrip(messages, all.records, verifyOpts([0, 0, 0]));
      t.diagnostic(`earliest: offsets 0..${n - 1} read back`);
      if (!client.caps.explicitTimestamps) {
        const ts = all.records.slice().sort((a, b) => a.offset - b.offset).map((r) => r.timestamp);
        assert.ok(ts[splitOffset - 1]! < split && ts[splitOffset]! >= split, `record timestamps ${ts[splitOffset - 1]} and ${ts[splitOffset]} around ${split}`);
      }

      // offsets for timestamps
      const lookups: Array<[number, number | null, string]> = [
        [split, splitOffset, 'the first record at the timestamp'],
        [0, 0, 'timestamp 0: the first record'],
        [Date.now() + 3_600_000, null, 'a timestamp after every record: none'],
      ];
      if (client.caps.explicitTimestamps) lookups.push([split - 500, splitOffset, 'between two records: the next one'], [base - 10_000, 0, 'before every record: the first']);
      for (const [ts, expected, what] of lookups) {
        const got = await client.offsetForTime(topic, 0, ts);
        if (expected === null) assert.ok(got === null || got === n, `${what}: got ${got}, expected none (or the end offset ${n})`);
        else assert.equal(got, expected, `${what} (${ts})`);
      }
      t.diagnostic(`offset for timestamp ${split}: ${splitOffset}; before all: 0; after all: none`);

      // seek to a timestamp and read from there
      const fromTs = await readAll(topic, [0], { timestamp: split });
      const sorted = fromTs.records.slice().sort((a, b) => a.offset - b.offset);
      assert.equal(sorted.length, n - splitOffset, `reading from timestamp ${split}`);
      assert.equal(sorted[0]!.offset, splitOffset);
      if (client.caps.explicitTimestamps) assert.equal(sorted[0]!.timestamp, split);
      verifyRoundTrip(messages, sorted, { ...verifyOpts([splitOffset, 0, 0]), subset: { from: splitOffset, to: n } });
      t.diagnostic(`from timestamp ${split}: offsets ${splitOffset}..${n - 1}`);

      // latest: nothing old, then what is produced after
      const fresh = makeMessages(messageOptions('n', 5, 4)).map((m) => ({ ...m, partition: 0 }));
      const reader = await client.openReader(topic, ALL_PARTITIONS, 'latest', fresh.length);
      try {
        if (reader.positions !== null) assert.deepEqual(reader.positions, [n, 0, 0], 'latest = the end offsets');
        const old = await reader.readFor(1500);
        assert.equal(old.length, 0, `reading from latest returned ${old.length} old records (first at offset ${old[0]?.offset})`);
        f.assertRunning();
        await client.produce(topic, fresh);
        const got = await reader.readUntil([n + fresh.length, 0, 0], 30_000);
        verifyRoundTrip(fresh, got, { ...verifyOpts([n, 0, 0]), prefix: 'n', timeRange: [0, Number.MAX_SAFE_INTEGER] });
      } finally {
        await reader.close();
      }
      t.diagnostic(`latest: nothing old in 1.5 s; then the ${fresh.length} new records at offsets ${n}..${n + fresh.length - 1}`);
    });

    test('messages with equal keys land in one partition', { timeout: 90_000 }, async (t) => {
      const topic = `${client.id}-keys`;
      await createTopic(topic);
      const keys = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];
      const n = 400;
      const messages: TestMessage[] = Array.from({ length: n }, (_, i) => ({
        key: Buffer.from(keys[i % keys.length]!),
        value: Buffer.from(`${keys[i % keys.length]}#${i}`),
        headers: client.caps.fixedHeaders ?? [],
      }));
      const reports = await client.produce(topic, messages);
      const { records } = await readAll(topic, ALL_PARTITIONS, 'earliest');
      assert.equal(records.length, n);
      const partitionsOf = new Map<string, Set<number>>();
      const lastIndex = new Map<string, number>();
      for (const r of records.slice().sort((a, b) => a.partition - b.partition || a.offset - b.offset)) {
        const k = r.key?.toString() ?? 'null';
        const [vk, vi] = (r.value?.toString() ?? '').split('#');
        assert.equal(vk, k, 'value matches key');
        if (!partitionsOf.has(k)) partitionsOf.set(k, new Set());
        partitionsOf.get(k)!.add(r.partition);
        assert.ok(Number(vi) > (lastIndex.get(k) ?? -1), `key ${k}: message #${vi} after #${lastIndex.get(k)}: order lost`);
        lastIndex.set(k, Number(vi));
      }
      for (const [k, ps] of partitionsOf) assert.equal(ps.size, 1, `key ${k} found in partitions ${[...ps].join(', ')}`);
      if (reports !== null) {
        for (let i = 0; i < n; i++) assert.equal(reports[i]?.partition, [...partitionsOf.get(keys[i % keys.length]!)!][0]);
      }
      const used = new Set([...partitionsOf.values()].map((s) => [...s][0]!));
      assert.ok(used.size >= 2, `all ${keys.length} keys hashed to one partition`);
      t.diagnostic(`${keys.length} keys: ${[...partitionsOf].map(([k, s]) => `${k}→${[...s][0]}`).join(' ')}`);
    });

    test('the broker is still up and stops cleanly on SIGTERM', { timeout: 60_000 }, async (t) => {
      const f = broker();
      f.assertRunning();
      await client.close();
      const status = await f.stop();
      assert.equal(status.code, 0, `ferry exited with code ${status.code} (signal ${status.signal}):\n${tail(f.log)}`);
      t.diagnostic('ferry exited 0');
    });
  });
}

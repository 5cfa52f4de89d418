// kcat 1.7.1 on librdkafka 2.0.2 (Debian kcat) against a Ferry broker process: every operation
// is a kcat process.
//
// kcat's limits shape the data: a produce run reads delimited messages from stdin (binary-safe
// here with random multi-byte delimiters that occur in no key or value), -Z turns an empty value
// into a null one (so no empty non-null values), -H puts the same headers on every message of a
// run, and there is no way to set a record's timestamp (the timestamp test produces twice around
// a known instant). kcat has no admin API: topics are auto-created by `kcat -L -t TOPIC`
// (librdkafka's Metadata request allows it), with the broker's num.partitions=3. Consuming is
// group-less (-C, no -G); the output format carries lengths, so keys and values are read back
// byte for byte.
import { setTimeout as delay } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import {
  ClientError,
  type CodecName,
  type ConsumedRecord,
  type FerryProcess,
  type Header,
  INSTALL_HINT,
  PARTITIONS,
  PRODUCER_BATCH_BYTES,
  foldLog,
  Rng,
  type TestMessage,
  runProcess,
  tail,
  track,
  withTimeout,
} from './harness.js';
import { type ClientMetadata, type ClientUnderTest, type Reader, type StartAt, defineClientSuite } from './suite.js';

const KCAT = 'kcat';
/** Partition, offset, timestamp, key length, value length; the headers; then key and value bytes. */
const FORMAT = '%p %o %T %K %S\\n%h\\n%k%s\\n';
/** The headers of every message kcat produces here (-H): a duplicate name, an empty and a null value. */
const KCAT_HEADERS: Header[] = [
  ['trace-id', Buffer.from('4bf92f3577b34da6')],
  ['content-type', Buffer.from('application/octet-stream; ü')],
  ['dup', Buffer.from('1')],
  ['empty', Buffer.from('')],
  ['nullh', null],
  ['dup', Buffer.from('2')],
];

/** kcat's -D/-K syntax for arbitrary bytes. */
function escapeDelimiter(b: Buffer): string {
  return [...b].map((x) => `\\x${x.toString(16).padStart(2, '0')}`).join('');
}

function sameHeaders(a: Header[], b: Header[]): boolean {
  return a.length === b.length && a.every(([k, v], i) => k === b[i]![0] && (v === null ? b[i]![1] === null : b[i]![1] !== null && v.equals(b[i]![1]!)));
}

/** Parses output written with FORMAT. */
function parseRecords(out: Buffer): ConsumedRecord[] {
  const records: ConsumedRecord[] = [];
  let pos = 0;
  const line = (): string => {
    const nl = out.indexOf(0x0a, pos);
    if (nl < 0) throw new Error(`kcat output truncated at byte ${pos}`);
    const s = out.subarray(pos, nl).toString('utf8');
    pos = nl + 1;
    return s;
  };
  while (pos < out.length) {
    const head = line();
    const m = /^(\d+) (\d+) (-?\d+) (-?\d+) (-?\d+)$/.exec(head);
    if (m === null) throw new Error(`unexpected kcat output line ${JSON.stringify(head.slice(0, 200))} at byte ${pos}`);
    const [partition, offset, timestamp, keyLen, valueLen] = m.slice(1).map(Number) as [number, number, number, number, number];
    const hline = line();
    const headers: Header[] =
      hline === ''
        ? []
        : hline.split(',').map((kv): Header => {
            const eq = kv.indexOf('=');
            const v = kv.slice(eq + 1);
            return [kv.slice(0, eq), v === 'NULL' ? null : Buffer.from(v, 'utf8')];
          });
    const take = (n: number): Buffer | null => {
      if (n < 0) return null;
      if (pos + n > out.length) throw new Error('kcat output truncated inside a record');
      const b = Buffer.from(out.subarray(pos, pos + n));
      pos += n;
      return b;
    };
    const key = take(keyLen);
    const value = take(valueLen);
    if (out[pos] !== 0x0a) throw new Error(`kcat record at ${partition}/${offset} not followed by a newline`);
    pos++;
    records.push({ partition, offset, timestamp, key, value, headers });
  }
  return records;
}

class KcatClient implements ClientUnderTest {
  readonly name = 'kcat';
  readonly id = 'kcat';
  readonly caps = {
    fixedHeaders: KCAT_HEADERS,
    nullHeaderValues: true,
    emptyValues: false,
    explicitTimestamps: false,
    createTopics: 'auto' as const,
    tooLarge: /Delivery failed for message: Broker: Message size too large/,
    alreadyExists: /^$/, // unused: kcat has no admin API
    compressionHint: {
      lz4:
        'librdkafka 2.0.2 enables its LZ4 feature only if the broker advertises FindCoordinator v0 ' +
        '(rdkafka_feature.c: "Feature LZ4: FindCoordinator (0..0) NOT supported by broker"), and otherwise ' +
        'sends lz4 batches uncompressed ("Broker does not support compression type lz4: not compressing batch").',
    },
  };
  private bootstrap = '';
  private versionText = '';
  private readonly rng = new Rng(0xc0ffee);

  private async kcat(args: string[], input?: Buffer, timeoutMs = 60_000) {
    const r = await runProcess(KCAT, ['-b', this.bootstrap, ...args], { timeoutMs, ...(input === undefined ? {} : { input }) });
    if (r.timedOut) throw new Error(`kcat ${args.join(' ')}: no exit within ${timeoutMs} ms (killed). stderr:\n${tail(r.stderr)}`);
    return r;
  }

  async open(ferry: FerryProcess): Promise<void> {
    this.bootstrap = ferry.bootstrap;
    const r = await runProcess(KCAT, ['-V'], { timeoutMs: 10_000 });
    if (r.code !== 0) throw new Error(`kcat -V failed (${r.code}): ${r.stderr}; ${INSTALL_HINT}`);
    this.versionText = r.stdout.toString('utf8') + r.stderr;
  }

  async close(): Promise<void> {}

  async versionLines(): Promise<string[]> {
    const v = /Version (\S+) \(([^)]*)\)/.exec(this.versionText);
    return [v === null ? this.versionText.trim().split('\n').slice(-1)[0]! : `kcat ${v[1]} (${v[2]})`];
  }

  async codecs(): Promise<{ tested: CodecName[]; notes: string[] }> {
    const features = /builtin\.features=(\S+)/.exec(this.versionText)?.[1]?.replace(/\)$/, '').split(',') ?? [];
    const tested: CodecName[] = [];
    const notes: string[] = [];
    for (const c of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
      if (features.includes(c)) tested.push(c);
      else notes.push(`kcat: ${c} NOT tested: this librdkafka lacks it (builtin.features=${features.join(',')})`);
    }
    return { tested, notes };
  }

  async metadata(topic: string): Promise<ClientMetadata> {
    const r = await this.kcat(['-L', '-J', '-m', '15', '-t', topic]);
    if (r.code !== 0) throw new ClientError(`kcat -L exited ${r.code}: ${r.stderr}`);
    const md = JSON.parse(r.stdout.toString('utf8')) as {
      controllerid: number;
      brokers: Array<{ id: number; name: string }>;
      topics: Array<{ topic: string; error?: string; partitions: Array<{ partition: number; leader: number; error?: string; replicas: Array<{ id: number }>; isrs: Array<{ id: number }> }> }>;
    };
    const t = md.topics.find((x) => x.topic === topic);
    return {
      brokers: md.brokers.map((b) => {
        const colon = b.name.lastIndexOf(':');
        return { nodeId: b.id, host: b.name.slice(0, colon), port: Number(b.name.slice(colon + 1)) };
      }),
      controllerId: md.controllerid,
      topic:
        t === undefined
          ? null
          : {
              errorCode: t.error === undefined ? 0 : -1,
              partitions: t.partitions.map((p) => ({
                partition: p.partition,
                leader: p.leader,
                replicas: p.replicas.map((x) => x.id),
                isr: p.isrs.map((x) => x.id),
                errorCode: p.error === undefined ? 0 : -1,
              })),
            },
    };
  }

  /** Auto-creation: librdkafka's Metadata request for the topic (kcat -L -t) creates it. */
  async createTopic(topic: string, partitions: number): Promise<void> {
    const md = await this.metadata(topic);
    if (md.topic === null || md.topic.errorCode !== 0 || md.topic.partitions.length !== partitions) {
      throw new ClientError(`auto-creating ${topic} with kcat -L -t: ${JSON.stringify(md.topic)}`);
    }
  }

  private delimiter(messages: TestMessage[], other?: Buffer): Buffer {
    for (;;) {
      const d = Buffer.from([...this.rng.bytes(8)].map((b) => (b === 0 || b === 0x5c ? 0x41 : b)));
      if (other !== undefined && (other.includes(d) || d.includes(other))) continue;
      if (messages.some((m) => (m.key !== null && m.key.includes(d)) || (m.value !== null && m.value.includes(d)))) continue;
      return d;
    }
  }

  private produceArgs(topic: string, messages: TestMessage[], compression?: CodecName): { args: string[]; input: Buffer } {
    const headers = messages[0]?.headers ?? [];
    const partition = messages[0]?.partition;
    for (const m of messages) {
      if (!sameHeaders(m.headers, headers)) throw new Error('kcat puts the same headers on every message of a run');
      if (m.partition !== partition) throw new Error('kcat produces a run to one partition or lets the partitioner choose');
      if (m.timestamp !== undefined) throw new Error('kcat cannot set timestamps');
      if (m.value !== null && m.value.length === 0) throw new Error('kcat -Z cannot send an empty non-null value');
      if (m.key !== null && m.key.length === 0) throw new Error('kcat -Z cannot send an empty non-null key');
      if (m.key === null && m.value === null) throw new Error('kcat skips an empty input message');
    }
    const D = this.delimiter(messages);
    const K = this.delimiter(messages, D);
    const parts: Buffer[] = [];
    for (const m of messages) {
      if (m.key !== null) parts.push(m.key, K);
      if (m.value !== null) parts.push(m.value);
      parts.push(D);
    }
    const args = ['-P', '-t', topic, '-D', escapeDelimiter(D), '-K', escapeDelimiter(K), '-Z', '-X', 'message.timeout.ms=30000', '-X', `batch.size=${PRODUCER_BATCH_BYTES}`];
    if (partition !== undefined) args.push('-p', String(partition));
    if (compression !== undefined) args.push('-z', compression);
    for (const [k, v] of headers) args.push('-H', v === null ? k : `${k}=${v.toString('utf8')}`);
    return { args, input: Buffer.concat(parts) };
  }

  async produce(topic: string, messages: TestMessage[], options: { compression?: CodecName } = {}): Promise<null> {
    const { args, input } = this.produceArgs(topic, messages, options.compression);
    const r = await this.kcat(args, input, 120_000);
    if (r.code !== 0) throw new ClientError(`kcat -P exited ${r.code}:\n${foldLog(r.stderr)}`);
    return null;
  }

  async produceExpectingError(topic: string, messages: TestMessage[]): Promise<string> {
    const { args, input } = this.produceArgs(topic, messages);
    const r = await this.kcat(args, input, 60_000);
    if (r.code === 0) throw new Error(`expected a refusal, but kcat -P exited 0:\n${tail(r.stderr)}`);
    return `kcat -P exited ${r.code}: ${foldLog(r.stderr.trim())}`;
  }

  private consumeArgs(topic: string, partitions: number[], start: StartAt): string[] {
    const args = ['-C', '-t', topic, '-f', FORMAT, '-X', 'fetch.wait.max.ms=100'];
    if (partitions.length === 1) args.push('-p', String(partitions[0]));
    else if (partitions.length !== PARTITIONS) throw new Error('kcat reads one partition or all');
    if (start === 'earliest') args.push('-o', 'beginning');
    else if (start === 'latest') args.push('-o', 'end');
    else if ('offset' in start) args.push('-o', String(start.offset));
    else args.push('-o', `s@${start.timestamp}`);
    return args;
  }

  async openReader(topic: string, partitions: number[], start: StartAt, expectCount?: number): Promise<Reader> {
    const check = (records: ConsumedRecord[], until: number[]): ConsumedRecord[] => {
      for (const p of partitions) {
        const reached = Math.max(-1, ...records.filter((r) => r.partition === p).map((r) => r.offset)) + 1;
        if ((until[p] ?? 0) > 0 && reached < until[p]!) throw new Error(`kcat stopped at offset ${reached} of partition ${p}, before ${until[p]}`);
      }
      return records;
    };
    if (start !== 'latest') {
      // Everything wanted is already there: kcat -e reads to the end of each partition and exits.
      const args = [...this.consumeArgs(topic, partitions, start), '-e', '-q'];
      return {
        positions: null,
        readUntil: async (until, timeoutMs) => {
          const r = await this.kcat(args, undefined, timeoutMs);
          if (r.code !== 0) throw new ClientError(`kcat -C exited ${r.code}:\n${tail(r.stderr)}`);
          return check(parseRecords(r.stdout), until);
        },
        readFor: async () => {
          throw new Error('not used');
        },
        close: async () => undefined,
      };
    }
    // From the end: a kcat that runs until it has read expectCount messages. It says on stderr
    // when it reaches the end of each partition ("Reached end of topic T [p] at offset O").
    if (expectCount === undefined) throw new Error('kcat -o end needs the number of messages to wait for (-c)');
    const args = ['-b', this.bootstrap, ...this.consumeArgs(topic, partitions, start), '-X', 'enable.partition.eof=true', '-c', String(expectCount)];
    const child = track(spawn(KCAT, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    const out: Buffer[] = [];
    let stderr = '';
    const eof = new Map<number, number>();
    let onEof: (() => void) | null = null;
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
      for (const m of stderr.matchAll(/Reached end of topic (\S+) \[(\d+)\] at offset (\d+)/g)) {
        if (!eof.has(Number(m[2]))) eof.set(Number(m[2]), Number(m[3]));
      }
      onEof?.();
    });
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    child.once('error', () => undefined);
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          onEof = () => {
            if (partitions.every((p) => eof.has(p))) resolve();
          };
          void exited.then((code) => reject(new Error(`kcat -o end exited ${code} early:\n${tail(stderr)}`)));
          onEof();
        }),
        20_000,
        'kcat -o end reaching the end of every partition',
      );
    } catch (e) {
      child.kill('SIGKILL');
      throw new Error(`${(e as Error).message}\n${tail(stderr)}`);
    }
    let returned = 0;
    const fresh = (): ConsumedRecord[] => {
      const all = parseRecords(Buffer.concat(out));
      const r = all.slice(returned);
      returned = all.length;
      return r;
    };
    return {
      positions: partitions.map((p) => eof.get(p)!),
      readFor: async (durationMs) => {
        await delay(durationMs);
        // Only complete records: a partial one would be a failure anyway (nothing is expected).
        return out.length === 0 ? [] : fresh();
      },
      readUntil: async (until, timeoutMs) => {
        let code: number | null;
        try {
          code = await withTimeout(exited, timeoutMs, `kcat -o end -c ${expectCount}`);
        } catch (e) {
          child.kill('SIGKILL');
          throw new Error(`${(e as Error).message}: got ${parseRecords(Buffer.concat(out)).length} records. stderr:\n${tail(stderr)}`);
        }
        if (code !== 0) throw new ClientError(`kcat -C exited ${code}:\n${tail(stderr)}`);
        return check(fresh(), until);
      },
      close: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await withTimeout(exited, 5000, 'kcat exit').catch(() => undefined);
      },
    };
  }

  async offsetForTime(topic: string, partition: number, ts: number): Promise<number | null> {
    const r = await this.kcat(['-Q', '-t', `${topic}:${partition}:${ts}`]);
    if (r.code !== 0) throw new ClientError(`kcat -Q exited ${r.code}: ${r.stderr}`);
    const m = /\[(\d+)\] offset (-?\d+)/.exec(r.stdout.toString('utf8'));
    if (m === null) throw new Error(`kcat -Q output: ${r.stdout.toString('utf8')}`);
    const o = Number(m[2]);
    return o < 0 ? null : o;
  }
}

defineClientSuite(new KcatClient());

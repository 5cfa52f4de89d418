/**
 * A Python client (kafka-python or confluent-kafka) as a ClientUnderTest: every operation is a
 * request to its driver process (py/<driver>.py, run with /usr/bin/python3).
 */
import { ClientError, type CodecName, type ConsumedRecord, type DeliveryReport, type FerryProcess, type Header, type TestMessage } from './harness.js';
import { PyDriver } from './py-driver.js';
import type { Capabilities, ClientMetadata, ClientUnderTest, Reader, StartAt } from './suite.js';

interface WireRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  headers: Array<[string, string | null]>;
  timestamp: number;
}

interface WireReport {
  partition?: number;
  offset?: number;
  error?: Record<string, unknown>;
}

const b64 = (b: Buffer | null): string | null => (b === null ? null : b.toString('base64'));
const unb64 = (s: string | null): Buffer | null => (s === null ? null : Buffer.from(s, 'base64'));

function decodeRecord(r: WireRecord): ConsumedRecord {
  return {
    partition: r.partition,
    offset: r.offset,
    key: unb64(r.key),
    value: unb64(r.value),
    headers: r.headers.map(([k, v]): Header => [k, unb64(v)]),
    timestamp: r.timestamp,
  };
}

export interface PythonClientOptions {
  name: string;
  id: string;
  script: string;
  caps: Capabilities;
  /** Producer settings for a codec (kafka-python: compression_type; librdkafka: compression.type). */
  compressionConfig(codec: CodecName): Record<string, unknown>;
  versionLines(hello: Record<string, unknown>, driver: PyDriver): Promise<string[]>;
  codecs(driver: PyDriver): Promise<{ tested: CodecName[]; notes: string[] }>;
}

const CHUNK = 2500;

export class PythonClient implements ClientUnderTest {
  private driver: PyDriver | null = null;
  private hello: Record<string, unknown> = {};
  private readers = 0;

  constructor(private readonly o: PythonClientOptions) {}

  get name(): string {
    return this.o.name;
  }
  get id(): string {
    return this.o.id;
  }
  get caps(): Capabilities {
    return this.o.caps;
  }

  private get d(): PyDriver {
    if (this.driver === null) throw new Error(`${this.o.name} driver not started`);
    return this.driver;
  }

  async open(ferry: FerryProcess): Promise<void> {
    const { driver, hello } = await PyDriver.start(this.o.script, [ferry.bootstrap]);
    this.driver = driver;
    this.hello = hello;
  }

  async close(): Promise<void> {
    const d = this.driver;
    this.driver = null;
    if (d !== null) await d.close();
  }

  versionLines(): Promise<string[]> {
    return this.o.versionLines(this.hello, this.d);
  }

  codecs(): Promise<{ tested: CodecName[]; notes: string[] }> {
    return this.o.codecs(this.d);
  }

  metadata(topic: string): Promise<ClientMetadata> {
    return this.d.request<ClientMetadata>('metadata', { topic }, 30_000);
  }

  async createTopic(topic: string, partitions: number): Promise<void> {
    await this.d.request('create_topic', { topic, partitions }, 40_000);
  }

  private async send(topic: string, messages: TestMessage[], config: Record<string, unknown>): Promise<WireReport[]> {
    const reports: WireReport[] = [];
    for (let i = 0; i < messages.length; i += CHUNK) {
      const chunk = messages.slice(i, i + CHUNK).map((m) => ({
        key: b64(m.key),
        value: b64(m.value),
        headers: m.headers.map(([k, v]) => [k, b64(v)]),
        partition: m.partition ?? null,
        timestamp: m.timestamp ?? null,
      }));
      const r = await this.d.request<{ reports: WireReport[] }>('produce', { topic, messages: chunk, config }, 120_000);
      reports.push(...r.reports);
    }
    return reports;
  }

  async produce(topic: string, messages: TestMessage[], options: { compression?: CodecName } = {}): Promise<Array<DeliveryReport | null>> {
    const config = options.compression === undefined ? {} : this.o.compressionConfig(options.compression);
    const reports = await this.send(topic, messages, config);
    const failed = reports.findIndex((r) => r.error !== undefined || r.partition === undefined);
    if (failed >= 0) {
      const n = reports.filter((r) => r.error !== undefined).length;
      throw new ClientError(`${n} of ${messages.length} messages failed; message #${failed}: ${JSON.stringify(reports[failed])}`);
    }
    return reports.map((r) => ({ partition: r.partition!, offset: r.offset! }));
  }

  async produceExpectingError(topic: string, messages: TestMessage[]): Promise<string> {
    const reports = await this.send(topic, messages, {});
    const accepted = reports.filter((r) => r.error === undefined);
    if (accepted.length > 0) throw new Error(`expected a refusal, but the broker accepted: ${JSON.stringify(accepted)}`);
    return reports.map((r) => JSON.stringify(r.error)).join('\n');
  }

  async openReader(topic: string, partitions: number[], start: StartAt): Promise<Reader> {
    const d = this.d;
    const name = `reader-${++this.readers}`;
    const opened = await d.request<{ positions: number[] | null }>('consumer_open', { name, topic, partitions, start }, 40_000);
    return {
      positions: opened.positions === null ? null : Array.from({ length: Math.max(...partitions) + 1 }, (_, p) => {
        const i = partitions.indexOf(p);
        return i < 0 ? 0 : opened.positions![i]!;
      }),
      async readUntil(until: number[], timeoutMs: number): Promise<ConsumedRecord[]> {
        const wanted = Object.fromEntries(partitions.map((p) => [String(p), until[p] ?? 0]));
        const r = await d.request<{ records: WireRecord[]; timed_out: boolean }>('consumer_read', { name, until: wanted, timeout_ms: timeoutMs }, timeoutMs + 20_000);
        const records = r.records.map(decodeRecord);
        if (r.timed_out) {
          const last = new Map<number, number>();
          for (const x of records) last.set(x.partition, Math.max(last.get(x.partition) ?? -1, x.offset));
          throw new Error(`read ${records.length} records in ${timeoutMs} ms without reaching ${JSON.stringify(wanted)}; last offsets ${JSON.stringify([...last])}`);
        }
        return records;
      },
      async readFor(durationMs: number): Promise<ConsumedRecord[]> {
        const r = await d.request<{ records: WireRecord[] }>('consumer_read', { name, duration_ms: durationMs }, durationMs + 20_000);
        return r.records.map(decodeRecord);
      },
      async close(): Promise<void> {
        await d.request('consumer_close', { name }, 30_000);
      },
    };
  }

  async offsetForTime(topic: string, partition: number, ts: number): Promise<number | null> {
    const r = await this.d.request<{ offset: number } | null>('offset_for_time', { topic, partition, timestamp: ts }, 30_000);
    return r === null ? null : r.offset;
  }
}

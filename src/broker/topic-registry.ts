/**
 * The cluster metadata of a single node: which topics exist, their ids, partition counts
 * and config overrides, kept in `<data-dir>/topics.json` and rewritten atomically (temp file,
 * fsync, rename, fsync of the directory) on every change, before the change is visible:
 *
 *   { "version": 1, "clusterId": "<22 chars>", "topics": [
 *       { "name": "orders", "id": "<22 chars, base64url uuid>", "partitions": 3,
 *         "configs": { "retention.ms": "86400000" } } ] }
 *
 * Partition logs live beside it in `<topic>-<partition>/` directories; the registry is what
 * says a topic exists. A directory whose topic is not registered (a crash during deletion)
 * is removed at start.
 */
import { randomBytes } from 'node:crypto';
import { type FileSystem, writeFileDurably } from '../storage/file-system.js';

export const TOPICS_FILE = 'topics.json';

export interface TopicInfo {
  name: string;
  id: string;
  partitions: number;
  configs: Record<string, string>;
}

interface RegistryFile {
  version: 1;
  clusterId: string;
  topics: TopicInfo[];
}

/** A Kafka uuid in its usual text form (base64url, 22 characters), never zero. */
export function randomUuid(random: (n: number) => Buffer = randomBytes): string {
  for (;;) {
    const b = random(16);
    // Version-4 bits as Java's UUID.randomUUID sets them.
    b[6] = (b[6]! & 0x0f) | 0x40;
    b[8] = (b[8]! & 0x3f) | 0x80;
    const s = b.toString('base64url');
    // Kafka reserves the zero uuid and ids starting with '-' (they read as command-line flags).
    if (!s.startsWith('-') && s !== 'AAAAAAAAAAAAAAAAAAAAAA') return s;
  }
}

export class TopicRegistry {
  private readonly topics = new Map<string, TopicInfo>();
  private readonly byId = new Map<string, TopicInfo>();
  private chain: Promise<void> = Promise.resolve();

  private constructor(
    private readonly fs: FileSystem,
    private readonly dataDir: string,
    public clusterId: string,
  ) {}

  static async open(fs: FileSystem, dataDir: string, clusterId: string | null, random?: (n: number) => Buffer): Promise<TopicRegistry> {
    await fs.mkdir(dataDir);
    const path = `${dataDir}/${TOPICS_FILE}`;
    if ((await fs.stat(path)) === null) {
      const r = new TopicRegistry(fs, dataDir, clusterId ?? randomUuid(random));
      await r.save();
      return r;
    }
    let parsed: RegistryFile;
    try {
      parsed = JSON.parse((await fs.readFile(path)).toString('utf8')) as RegistryFile;
    } catch (e) {
      throw new Error(`${path} is not valid JSON (${(e as Error).message}); refusing to start rather than lose topics`);
    }
    if (parsed.version !== 1 || !Array.isArray(parsed.topics) || typeof parsed.clusterId !== 'string') {
      throw new Error(`${path} has an unknown format`);
    }
    if (clusterId !== null && clusterId !== parsed.clusterId) {
      throw new Error(`cluster.id ${clusterId} does not match ${parsed.clusterId} stored in ${path}`);
    }
    const r = new TopicRegistry(fs, dataDir, parsed.clusterId);
    for (const t of parsed.topics) {
      r.topics.set(t.name, t);
      r.byId.set(t.id, t);
    }
    return r;
  }

  get(name: string): TopicInfo | undefined {
    return this.topics.get(name);
  }

  getById(id: string): TopicInfo | undefined {
    return this.byId.get(id);
  }

  list(): TopicInfo[] {
    return [...this.topics.values()];
  }

  /** Persists the registry; changes are applied to memory only after this resolves. */
  private save(): Promise<void> {
    const data: RegistryFile = { version: 1, clusterId: this.clusterId, topics: this.list() };
    const run = this.chain.then(() => writeFileDurably(this.fs, this.dataDir, TOPICS_FILE, Buffer.from(`${JSON.stringify(data, null, 1)}\n`)));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async mutate(apply: () => void, undo: () => void): Promise<void> {
    apply();
    try {
      await this.save();
    } catch (e) {
      undo();
      throw e;
    }
  }

  async create(name: string, partitions: number, configs: Record<string, string>): Promise<TopicInfo> {
    const t: TopicInfo = { name, id: randomUuid(), partitions, configs: { ...configs } };
    await this.mutate(
      () => {
        this.topics.set(name, t);
        this.byId.set(t.id, t);
      },
      () => {
        this.topics.delete(name);
        this.byId.delete(t.id);
      },
    );
    return t;
  }

  async delete(name: string): Promise<TopicInfo | undefined> {
    const t = this.topics.get(name);
    if (t === undefined) return undefined;
    await this.mutate(
      () => {
        this.topics.delete(name);
        this.byId.delete(t.id);
      },
      () => {
        this.topics.set(name, t);
        this.byId.set(t.id, t);
      },
    );
    return t;
  }

  async setPartitions(name: string, partitions: number): Promise<void> {
    const t = this.topics.get(name)!;
    const before = t.partitions;
    await this.mutate(
      () => (t.partitions = partitions),
      () => (t.partitions = before),
    );
  }

  async setConfigs(name: string, configs: Record<string, string>): Promise<void> {
    const t = this.topics.get(name)!;
    const before = t.configs;
    await this.mutate(
      () => (t.configs = { ...configs }),
      () => (t.configs = before),
    );
  }
}

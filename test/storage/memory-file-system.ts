/**
 * An in-memory `FileSystem` for deterministic crash and corruption tests.
 *
 * The model (POSIX-like, strict about what is durable):
 * - Every file has *current* contents (what reads see) and *durable* contents (what a crash
 *   leaves). `datasync()` makes the file's current data and size durable.
 * - Every directory has *current* entries and *durable* entries. Creating, renaming or
 *   unlinking a file and making a subdirectory change the current entries at once; they
 *   become durable only with `syncDir()` of the directory holding the entry. A file that
 *   was datasynced but whose name was never synced into its directory is lost on a crash;
 *   so is a directory made by `mkdir` whose parent was never synced.
 * - `crash()` is power loss: every handle is closed and the durable state becomes the
 *   current one. Unless `tornWrites: false`, a random prefix of each file's unsynced region
 *   beyond its durable size may survive, possibly followed by a zeroed or garbage tail.
 *
 * Interface operations take effect synchronously when called (the returned promise only
 * reports the outcome), so a run is a deterministic function of the calls and the seed.
 * Helpers for tests (`crash`, `corrupt`, `truncateFile`, `listFiles`, `fileContents`,
 * `syncAll`, `failNext`) are synchronous.
 */
import type { FileSystem, StorageFile } from '../../src/storage/file-system.js';

/** The operations `failNext` can make fail, by the name of the interface method. */
export type FsOperation =
  | 'open'
  | 'readFile'
  | 'stat'
  | 'readdir'
  | 'mkdir'
  | 'rename'
  | 'unlink'
  | 'removeDir'
  | 'syncDir'
  | 'read'
  | 'writev'
  | 'datasync'
  | 'truncate'
  | 'size'
  | 'close';

export interface CrashOptions {
  /** Random numbers in [0, 1) deciding what unsynced data survives; default: the file system's own seeded generator. */
  rng?: () => number;
  /** Whether part of the unsynced data may survive (default true); false leaves exactly the durable state. */
  tornWrites?: boolean;
  /** Whether a surviving torn region may end in zeros or garbage (default true); false keeps only a prefix of what was written. */
  garbageTails?: boolean;
}

/** A file in which a crash left more than its durable contents. */
export interface TornFile {
  path: string;
  /** The file's durable size before the crash: its first `durableSize` bytes are exactly the durable contents. */
  durableSize: number;
  /** The size the file had before the crash (its current size). */
  sizeBeforeCrash: number;
  /** Bytes [durableSize, durableSize + keptBytes) are what had been written there (unsynced). */
  keptBytes: number;
  /** Then `tailBytes` bytes of zeros or garbage; the file's new size is durableSize + keptBytes + tailBytes. */
  tailBytes: number;
  tail: 'zeros' | 'garbage' | null;
}

export interface FailOptions {
  /** The error code to fail with; default 'EIO'. */
  code?: string;
  /** Only calls on this path count (a handle's path is the one it was opened with; rename's is `from`). */
  path?: string;
  /**
   * For datasync only: like Linux after a writeback error, the unsynced data is marked clean without
   * having been written, so a later successful datasync does not make it durable (reads still see it).
   */
  discardUnsynced?: boolean;
}

export interface MemoryFileSystemOptions {
  /** Seed of the generator used by `crash()` when it is given no `rng`; default 1. */
  seed?: number;
}

/** mulberry32: a small, fast, seeded generator of numbers in [0, 1). */
export function seededRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ERRNO: Record<string, [number, string]> = {
  ENOENT: [-2, 'no such file or directory'],
  EIO: [-5, 'i/o error'],
  EBADF: [-9, 'bad file descriptor'],
  EBUSY: [-16, 'resource busy or locked'],
  EEXIST: [-17, 'file already exists'],
  ENOTDIR: [-20, 'not a directory'],
  EISDIR: [-21, 'illegal operation on a directory'],
  EINVAL: [-22, 'invalid argument'],
  ENOSPC: [-28, 'no space left on device'],
  ENOTEMPTY: [-39, 'directory not empty'],
};

/** An error shaped like Node's errno errors: message "CODE: description, syscall 'path'" and code/errno/syscall/path. */
export function fsError(code: string, syscall: string, path?: string): NodeJS.ErrnoException {
  const [errno, description] = ERRNO[code] ?? [-1, 'error'];
  const where = path === undefined ? '' : ` '${path}'`;
  const err: NodeJS.ErrnoException = Object.assign(new Error(`${code}: ${description}, ${syscall}${where}`), {
    code,
    errno,
    syscall,
  });
  if (path !== undefined) err.path = path;
  return err;
}

function capacityFor(size: number, current = 0): number {
  let cap = Math.max(current, 64);
  while (cap < size) cap *= 2;
  return cap;
}

class FileNode {
  readonly kind = 'file';
  /** Current contents in data[0, size); bytes from size to data.length are always zero. */
  data: Buffer = Buffer.alloc(0);
  size = 0;
  /** Durable contents in durable[0, durableSize); bytes beyond are always zero. */
  durable: Buffer = Buffer.alloc(0);
  durableSize = 0;
  /**
   * Lowest position where current may differ from durable (data or size); Infinity when clean.
   * Normally <= durableSize when finite; datasync copies [dirtyFrom, size) and adopts size.
   */
  dirtyFrom = Infinity;

  /** Sets the current size, growing the buffer by doubling and keeping the zero tail invariant. */
  resize(size: number): void {
    if (size > this.data.length) {
      const grown = Buffer.alloc(capacityFor(size, this.data.length));
      this.data.copy(grown, 0, 0, this.size);
      this.data = grown;
    } else if (size < this.size) {
      this.data.fill(0, size, this.size);
    }
    this.size = size;
  }

  resizeDurable(size: number): void {
    if (size > this.durable.length) {
      const grown = Buffer.alloc(capacityFor(size, this.durable.length));
      this.durable.copy(grown, 0, 0, this.durableSize);
      this.durable = grown;
    } else if (size < this.durableSize) {
      this.durable.fill(0, size, this.durableSize);
    }
    this.durableSize = size;
  }

  sync(): void {
    if (this.dirtyFrom < this.size) {
      this.resizeDurable(Math.max(this.durableSize, this.size));
      this.data.copy(this.durable, this.dirtyFrom, this.dirtyFrom, this.size);
    }
    this.resizeDurable(this.size);
    this.dirtyFrom = Infinity;
  }

  /** Replaces both current and durable contents with `contents` (after a crash). */
  reset(contents: Buffer, size: number): void {
    this.data = contents;
    this.size = size;
    this.durable = Buffer.alloc(contents.length);
    contents.copy(this.durable, 0, 0, size);
    this.durableSize = size;
    this.dirtyFrom = Infinity;
  }
}

class DirNode {
  readonly kind = 'dir';
  current = new Map<string, Node>();
  durable = new Map<string, Node>();
}

type Node = FileNode | DirNode;

interface FaultRule {
  op: FsOperation;
  remaining: number;
  code: string;
  path: string | undefined;
  discardUnsynced: boolean;
}

function splitPath(path: string, syscall: string): string[] {
  if (typeof path !== 'string' || path === '') throw fsError('ENOENT', syscall, path);
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts;
}

const joinPath = (parts: string[]): string => '/' + parts.join('/');

class MemoryStorageFile implements StorageFile {
  closed = false;

  constructor(
    private readonly fs: MemoryFileSystem,
    private readonly node: FileNode,
    readonly path: string,
  ) {}

  private enter(op: FsOperation): void {
    if (this.closed) throw fsError('EBADF', op);
    this.fs.enter(op, this.path, this.node);
  }

  async read(buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    this.enter('read');
    if (!(offset >= 0 && length >= 0 && position >= 0 && offset + length <= buf.length)) {
      throw new RangeError(`read out of range: offset ${offset}, length ${length}, position ${position}, buffer ${buf.length}`);
    }
    const n = Math.max(0, Math.min(length, this.node.size - position));
    if (n > 0) this.node.data.copy(buf, offset, position, position + n);
    return n;
  }

  async writev(buffers: Buffer[], position: number): Promise<void> {
    this.enter('writev');
    if (!(position >= 0) || !Number.isSafeInteger(position)) throw new RangeError(`bad write position ${position}`);
    const node = this.node;
    let total = 0;
    for (const b of buffers) total += b.length;
    if (total === 0) return;
    const oldSize = node.size;
    const end = position + total;
    if (end > oldSize) node.resize(end);
    let at = position;
    for (const b of buffers) {
      node.data.set(b, at);
      at += b.length;
    }
    node.dirtyFrom = Math.min(node.dirtyFrom, position, oldSize);
  }

  async datasync(): Promise<void> {
    this.enter('datasync');
    this.node.sync();
  }

  async truncate(length: number): Promise<void> {
    this.enter('truncate');
    if (!(length >= 0) || !Number.isSafeInteger(length)) throw fsError('EINVAL', 'ftruncate');
    const node = this.node;
    if (length === node.size) return;
    node.dirtyFrom = Math.min(node.dirtyFrom, length, node.size);
    node.resize(length);
  }

  async size(): Promise<number> {
    this.enter('size');
    return this.node.size;
  }

  /** Closing twice (or after a crash) is harmless, as with Node's FileHandle; a failed close still closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fs.handleClosed(this);
    this.fs.enter('close', this.path, this.node);
  }
}

export class MemoryFileSystem implements FileSystem {
  private root = new DirNode();
  private readonly handles = new Set<MemoryStorageFile>();
  private faults: FaultRule[] = [];
  private readonly rng: () => number;
  /** Calls of each operation, failed ones included (calls on a closed handle excluded). */
  readonly calls: Record<FsOperation, number> = {
    open: 0,
    readFile: 0,
    stat: 0,
    readdir: 0,
    mkdir: 0,
    rename: 0,
    unlink: 0,
    removeDir: 0,
    syncDir: 0,
    read: 0,
    writev: 0,
    datasync: 0,
    truncate: 0,
    size: 0,
    close: 0,
  };
  /** Number of crash() calls. */
  crashes = 0;

  constructor(options: MemoryFileSystemOptions = {}) {
    this.rng = seededRng(options.seed ?? 1);
  }

  get datasyncCount(): number {
    return this.calls.datasync;
  }

  get syncDirCount(): number {
    return this.calls.syncDir;
  }

  get openHandleCount(): number {
    return this.handles.size;
  }

  // ---- FileSystem -------------------------------------------------------------------

  async open(path: string, create: boolean): Promise<StorageFile> {
    const parts = splitPath(path, 'open');
    const canonical = joinPath(parts);
    this.enter('open', canonical);
    if (parts.length === 0) throw fsError('EISDIR', 'open', path);
    const { dir, name } = this.parentOf(parts, 'open', path);
    let node = dir.current.get(name);
    if (node === undefined) {
      if (!create) throw fsError('ENOENT', 'open', path);
      node = new FileNode();
      dir.current.set(name, node);
    } else if (node.kind === 'dir') {
      throw fsError('EISDIR', 'open', path);
    }
    const handle = new MemoryStorageFile(this, node, canonical);
    this.handles.add(handle);
    return handle;
  }

  async readFile(path: string): Promise<Buffer> {
    const parts = splitPath(path, 'open');
    this.enter('readFile', joinPath(parts));
    const node = this.lookup(parts, 'open', path);
    if (node === undefined) throw fsError('ENOENT', 'open', path);
    if (node.kind === 'dir') throw fsError('EISDIR', 'read');
    return Buffer.from(node.data.subarray(0, node.size));
  }

  async stat(path: string): Promise<{ size: number; isDirectory: boolean } | null> {
    const parts = splitPath(path, 'stat');
    this.enter('stat', joinPath(parts));
    const node = this.lookup(parts, 'stat', path);
    if (node === undefined) return null;
    return node.kind === 'dir' ? { size: 4096, isDirectory: true } : { size: node.size, isDirectory: false };
  }

  async readdir(path: string): Promise<string[]> {
    const parts = splitPath(path, 'scandir');
    this.enter('readdir', joinPath(parts));
    const node = this.lookup(parts, 'scandir', path);
    if (node === undefined) throw fsError('ENOENT', 'scandir', path);
    if (node.kind !== 'dir') throw fsError('ENOTDIR', 'scandir', path);
    return [...node.current.keys()].sort();
  }

  async mkdir(path: string): Promise<void> {
    const parts = splitPath(path, 'mkdir');
    this.enter('mkdir', joinPath(parts));
    let dir = this.root;
    for (let i = 0; i < parts.length; i++) {
      const name = parts[i]!;
      const next = dir.current.get(name);
      if (next === undefined) {
        const made = new DirNode();
        dir.current.set(name, made);
        dir = made;
      } else if (next.kind === 'dir') {
        dir = next;
      } else {
        throw fsError(i === parts.length - 1 ? 'EEXIST' : 'ENOTDIR', 'mkdir', path);
      }
    }
  }

  async rename(from: string, to: string): Promise<void> {
    const fromParts = splitPath(from, 'rename');
    const toParts = splitPath(to, 'rename');
    const fromCanonical = joinPath(fromParts);
    const toCanonical = joinPath(toParts);
    const detail = `${from}' -> '${to}`;
    this.enter('rename', fromCanonical);
    if (fromParts.length === 0 || toParts.length === 0) throw fsError('EBUSY', 'rename', detail);
    const src = this.parentOf(fromParts, 'rename', detail);
    const node = src.dir.current.get(src.name);
    if (node === undefined) throw fsError('ENOENT', 'rename', detail);
    const dst = this.parentOf(toParts, 'rename', detail);
    if (fromCanonical === toCanonical) return;
    if (node.kind === 'dir' && toCanonical.startsWith(fromCanonical + '/')) throw fsError('EINVAL', 'rename', detail);
    const target = dst.dir.current.get(dst.name);
    if (target === node) return;
    if (target !== undefined) {
      if (node.kind === 'file' && target.kind === 'dir') throw fsError('EISDIR', 'rename', detail);
      if (node.kind === 'dir' && target.kind === 'file') throw fsError('ENOTDIR', 'rename', detail);
      if (target.kind === 'dir' && target.current.size > 0) throw fsError('ENOTEMPTY', 'rename', detail);
    }
    src.dir.current.delete(src.name);
    dst.dir.current.set(dst.name, node);
  }

  async unlink(path: string): Promise<void> {
    const parts = splitPath(path, 'unlink');
    this.enter('unlink', joinPath(parts));
    if (parts.length === 0) throw fsError('EISDIR', 'unlink', path);
    const { dir, name } = this.parentOf(parts, 'unlink', path);
    const node = dir.current.get(name);
    if (node === undefined) throw fsError('ENOENT', 'unlink', path);
    if (node.kind === 'dir') throw fsError('EISDIR', 'unlink', path);
    dir.current.delete(name);
  }

  /** Like `rm -rf`: removes a directory (or file) and everything in it; a missing path is fine. */
  async removeDir(path: string): Promise<void> {
    const parts = splitPath(path, 'rm');
    this.enter('removeDir', joinPath(parts));
    if (parts.length === 0) {
      this.root.current.clear();
      return;
    }
    let dir = this.root;
    for (const name of parts.slice(0, -1)) {
      const next = dir.current.get(name);
      if (next === undefined || next.kind !== 'dir') return;
      dir = next;
    }
    dir.current.delete(parts[parts.length - 1]!);
  }

  /** Makes the directory's current entries durable. Throws ENOTDIR for a file (a real fsync would accept it). */
  async syncDir(path: string): Promise<void> {
    const parts = splitPath(path, 'fsync');
    this.enter('syncDir', joinPath(parts));
    const node = this.lookup(parts, 'open', path);
    if (node === undefined) throw fsError('ENOENT', 'open', path);
    if (node.kind !== 'dir') throw fsError('ENOTDIR', 'fsync', path);
    node.durable = new Map(node.current);
  }

  // ---- Test helpers -----------------------------------------------------------------

  /**
   * Power loss: closes every handle and replaces the current state by the durable one, with
   * (unless `tornWrites: false`) part of each file's unsynced region beyond its durable size
   * surviving. Returns the files where more than the durable contents survived.
   */
  crash(options: CrashOptions = {}): TornFile[] {
    const rng = options.rng ?? this.rng;
    const tornWrites = options.tornWrites ?? true;
    const garbageTails = options.garbageTails ?? true;
    this.crashes++;
    for (const h of this.handles) h.closed = true;
    this.handles.clear();
    this.faults = [];

    const torn: TornFile[] = [];
    const seen = new Set<Node>();
    const visit = (dir: DirNode, path: string[]): void => {
      dir.current = new Map(dir.durable);
      for (const [name, node] of [...dir.current].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        // After a rename across directories synced only on the destination side, one node can
        // be reached by two names (as a hard link would be); recover it once.
        if (seen.has(node)) continue;
        seen.add(node);
        const childPath = [...path, name];
        if (node.kind === 'dir') {
          visit(node, childPath);
          continue;
        }
        const report = recoverFile(node, tornWrites ? rng : null, garbageTails);
        if (report !== null) torn.push({ path: joinPath(childPath), ...report });
      }
    };
    visit(this.root, []);
    return torn;
  }

  /** Makes everything durable: all files' data and all directories' entries (for test setup). */
  syncAll(): void {
    const visit = (dir: DirNode): void => {
      dir.durable = new Map(dir.current);
      for (const node of dir.current.values()) {
        if (node.kind === 'dir') visit(node);
        else node.sync();
      }
    };
    visit(this.root);
  }

  /**
   * XORs `xorMask` (a byte, or bytes applied from `position` on) into the file's current and
   * durable contents, where they reach. Throws if the range reaches past both.
   */
  corrupt(path: string, position: number, xorMask: number | Uint8Array): void {
    const node = this.fileAt(path);
    const mask = typeof xorMask === 'number' ? Uint8Array.of(xorMask & 0xff) : xorMask;
    const end = position + mask.length;
    if (position < 0 || end > Math.max(node.size, node.durableSize)) {
      throw new RangeError(`corrupt ${path}: [${position}, ${end}) is beyond the file (size ${node.size}, durable size ${node.durableSize})`);
    }
    for (let i = 0; i < mask.length; i++) {
      const at = position + i;
      if (at < node.size) node.data[at] ^= mask[i]!;
      if (at < node.durableSize) node.durable[at] ^= mask[i]!;
    }
  }

  /** Truncates (or extends with zeros) both the current and the durable contents of the file. */
  truncateFile(path: string, length: number): void {
    const node = this.fileAt(path);
    if (!(length >= 0) || !Number.isSafeInteger(length)) throw new RangeError(`bad length ${length}`);
    node.resize(length);
    node.resizeDurable(length);
  }

  /** Paths ('/'-rooted, sorted) of all files in the current state, under `dir` (default the root). */
  listFiles(dir = '/'): string[] {
    const parts = splitPath(dir, 'scandir');
    const start = this.lookup(parts, 'scandir', dir);
    const out: string[] = [];
    const visit = (node: DirNode, path: string[]): void => {
      for (const [name, child] of node.current) {
        if (child.kind === 'dir') visit(child, [...path, name]);
        else out.push(joinPath([...path, name]));
      }
    };
    if (start?.kind === 'dir') visit(start, parts);
    return out.sort();
  }

  /** A copy of the file's current contents; throws ENOENT when missing. */
  fileContents(path: string): Buffer {
    const node = this.fileAt(path);
    return Buffer.from(node.data.subarray(0, node.size));
  }

  /** A copy of the file's durable contents (what `crash({ tornWrites: false })` would leave in it, if its name survives). */
  durableContents(path: string): Buffer {
    const node = this.fileAt(path);
    return Buffer.from(node.durable.subarray(0, node.durableSize));
  }

  /**
   * Makes the next `count` calls of `op` (matching `options.path`, if given) fail with
   * `options.code` (default EIO) without effect. A failing close still closes the handle.
   * `count` may be Infinity. Rules stack (the oldest matching one is used); a crash clears them.
   */
  failNext(op: FsOperation, count = 1, options: FailOptions = {}): void {
    if (count <= 0) return;
    this.faults.push({
      op,
      remaining: count,
      code: options.code ?? 'EIO',
      path: options.path === undefined ? undefined : joinPath(splitPath(options.path, 'failNext')),
      discardUnsynced: options.discardUnsynced ?? false,
    });
  }

  clearFaults(): void {
    this.faults = [];
  }

  // ---- Internals --------------------------------------------------------------------

  /** Counts a call and throws an injected fault if one matches. */
  enter(op: FsOperation, path: string, node?: FileNode): void {
    this.calls[op]++;
    const i = this.faults.findIndex((f) => f.op === op && (f.path === undefined || f.path === path));
    if (i < 0) return;
    const rule = this.faults[i]!;
    if (--rule.remaining === 0) this.faults.splice(i, 1);
    if (rule.discardUnsynced && op === 'datasync' && node !== undefined) {
      // Marked clean without being written: durable stays as it was.
      node.dirtyFrom = Infinity;
    }
    throw fsError(rule.code, op, path);
  }

  handleClosed(handle: MemoryStorageFile): void {
    this.handles.delete(handle);
  }

  private lookup(parts: string[], syscall: string, path: string): Node | undefined {
    let node: Node = this.root;
    for (const name of parts) {
      if (node.kind !== 'dir') throw fsError('ENOTDIR', syscall, path);
      const next: Node | undefined = node.current.get(name);
      if (next === undefined) return undefined;
      node = next;
    }
    return node;
  }

  private parentOf(parts: string[], syscall: string, path: string): { dir: DirNode; name: string } {
    const parent = this.lookup(parts.slice(0, -1), syscall, path);
    if (parent === undefined) throw fsError('ENOENT', syscall, path);
    if (parent.kind !== 'dir') throw fsError('ENOTDIR', syscall, path);
    return { dir: parent, name: parts[parts.length - 1]! };
  }

  private fileAt(path: string): FileNode {
    const node = this.lookup(splitPath(path, 'open'), 'open', path);
    if (node === undefined) throw fsError('ENOENT', 'open', path);
    if (node.kind !== 'file') throw fsError('EISDIR', 'open', path);
    return node;
  }
}

/** Crash recovery of one file whose name survived; returns what beyond the durable contents was kept. */
function recoverFile(
  node: FileNode,
  rng: (() => number) | null,
  garbageTails: boolean,
): Omit<TornFile, 'path'> | null {
  const ds = node.durableSize;
  const cs = node.size;
  let kept = 0;
  let tailBytes = 0;
  let tail: 'zeros' | 'garbage' | null = null;
  if (rng !== null && cs > ds) {
    const unsynced = cs - ds;
    const r = rng();
    kept = r < 0.25 ? 0 : r < 0.5 ? unsynced : Math.floor(rng() * (unsynced + 1));
    if (garbageTails && kept < unsynced && rng() < 0.5) {
      tailBytes = 1 + Math.floor(rng() * (unsynced - kept));
      tail = rng() < 0.5 ? 'zeros' : 'garbage';
    }
  }
  const size = ds + kept + tailBytes;
  const contents = Buffer.alloc(capacityFor(size));
  node.durable.copy(contents, 0, 0, ds);
  if (kept > 0) node.data.copy(contents, ds, ds, ds + kept);
  if (tail === 'garbage') {
    for (let at = ds + kept; at < size; at += 4) {
      const word = Math.floor(rng!() * 4294967296);
      for (let k = 0; k < 4 && at + k < size; k++) contents[at + k] = (word >>> (8 * k)) & 0xff;
    }
  }
  const sizeBeforeCrash = cs;
  node.reset(contents, size);
  if (size === ds) return null;
  return { durableSize: ds, sizeBeforeCrash, keptBytes: kept, tailBytes, tail };
}

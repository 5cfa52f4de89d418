/**
 * The file operations the storage engine uses, behind an interface so that tests can
 * inject a file system that loses unsynced writes on a simulated crash, deterministically.
 * `nodeFileSystem` is the real one (node:fs/promises, real fsync).
 */
import * as fs from 'node:fs';
import { constants as fsConstants } from 'node:fs';
import * as fsp from 'node:fs/promises';

export interface StorageFile {
  /** Reads up to `length` bytes at `position` into `buf[offset..]`; returns the count read. */
  read(buf: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** Writes all of `buffers` at `position` (gathered, without copying them together). */
  writev(buffers: Buffer[], position: number): Promise<void>;
  /**
   * The same, synchronously, where the file system has it. A write into the page cache takes
   * microseconds, while a round trip through libuv's thread pool costs tens of them, so the
   * log writes small amounts this way (as Kafka's request threads do); fsync stays async.
   */
  writevSync?(buffers: Buffer[], position: number): void;
  /** fdatasync: the file's data (and the size needed to read it back) is durable. */
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  size(): Promise<number>;
  close(): Promise<void>;
}

export interface FileSystem {
  /** Opens an existing file for reading and writing, or creates it when `create`. */
  open(path: string, create: boolean): Promise<StorageFile>;
  readFile(path: string): Promise<Buffer>;
  /** Returns null when the path does not exist. */
  stat(path: string): Promise<{ size: number; isDirectory: boolean } | null>;
  readdir(path: string): Promise<string[]>;
  mkdir(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Removes a directory and everything in it. */
  removeDir(path: string): Promise<void>;
  /** fsync of a directory: creations, renames and unlinks in it are durable. */
  syncDir(path: string): Promise<void>;
}

class NodeStorageFile implements StorageFile {
  constructor(private readonly fh: fsp.FileHandle) {}

  async read(buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    let done = 0;
    // A regular file returns short reads only at its end; loop anyway, as the API allows.
    while (done < length) {
      const { bytesRead } = await this.fh.read(buf, offset + done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  async writev(buffers: Buffer[], position: number): Promise<void> {
    const { bytesWritten } = await this.fh.writev(buffers, position);
    // Partial writes are rare (full disk, signals): finish the rest one buffer at a time.
    for (const rest of unwritten(buffers, bytesWritten, position)) {
      for (let at = 0; at < rest.buf.length; ) {
        const r = await this.fh.write(rest.buf, at, rest.buf.length - at, rest.position + at);
        if (r.bytesWritten === 0) throw new Error('write made no progress');
        at += r.bytesWritten;
      }
    }
  }

  writevSync(buffers: Buffer[], position: number): void {
    const written = fs.writevSync(this.fh.fd, buffers, position);
    for (const rest of unwritten(buffers, written, position)) {
      for (let at = 0; at < rest.buf.length; ) {
        const n = fs.writeSync(this.fh.fd, rest.buf, at, rest.buf.length - at, rest.position + at);
        if (n === 0) throw new Error('write made no progress');
        at += n;
      }
    }
  }

  datasync(): Promise<void> {
    return this.fh.datasync();
  }

  truncate(length: number): Promise<void> {
    return this.fh.truncate(length);
  }

  async size(): Promise<number> {
    return (await this.fh.stat()).size;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/** The parts of `buffers` after the first `written` bytes, with the file positions they go to. */
function* unwritten(buffers: Buffer[], written: number, position: number): Generator<{ buf: Buffer; position: number }> {
  let skip = written;
  let at = position;
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
      at += b.length;
      continue;
    }
    yield { buf: b.subarray(skip), position: at + skip };
    at += b.length;
    skip = 0;
  }
}

export const nodeFileSystem: FileSystem = {
  async open(path, create) {
    const flags = create ? fsConstants.O_RDWR | fsConstants.O_CREAT : fsConstants.O_RDWR;
    return new NodeStorageFile(await fsp.open(path, flags, 0o644));
  },
  readFile: (path) => fsp.readFile(path),
  async stat(path) {
    try {
      const s = await fsp.stat(path);
      return { size: s.size, isDirectory: s.isDirectory() };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  },
  readdir: (path) => fsp.readdir(path),
  async mkdir(path) {
    await fsp.mkdir(path, { recursive: true });
  },
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  removeDir: (path) => fsp.rm(path, { recursive: true, force: true }),
  async syncDir(path) {
    const fh = await fsp.open(path, fsConstants.O_RDONLY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
};

/** Writes a small file atomically and durably: temp file, fsync, rename, fsync of the dir. */
export async function writeFileDurably(fs: FileSystem, dir: string, name: string, data: Buffer): Promise<void> {
  const tmp = `${dir}/${name}.tmp`;
  const f = await fs.open(tmp, true);
  try {
    await f.truncate(0);
    await f.writev([data], 0);
    await f.datasync();
  } finally {
    await f.close();
  }
  await fs.rename(tmp, `${dir}/${name}`);
  await fs.syncDir(dir);
}

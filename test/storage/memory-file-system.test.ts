import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { writeFileDurably } from '../../src/storage/file-system.js';
import { MemoryFileSystem, seededRng } from './memory-file-system.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

async function readAll(f: { read(buf: Buffer, o: number, l: number, p: number): Promise<number>; size(): Promise<number> }): Promise<Buffer> {
  const size = await f.size();
  const buf = Buffer.alloc(size);
  assert.equal(await f.read(buf, 0, size, 0), size);
  return buf;
}

async function rejectsWithCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: NodeJS.ErrnoException) => {
    assert.ok(e instanceof Error);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    assert.ok(e.message.startsWith(`${code}: `), e.message);
    return true;
  });
}

/** A file system with /d made durably, and /d/name created with its entry synced. */
async function withFile(name = 'f'): Promise<{ fs: MemoryFileSystem; path: string }> {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/d');
  await fs.syncDir('/');
  const path = `/d/${name}`;
  await (await fs.open(path, true)).close();
  await fs.syncDir('/d');
  return { fs, path };
}

test('write then read, gathered writes, overwrite, short read at EOF', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/a');
  const f = await fs.open('/a/x', true);
  await f.writev([b('hello'), b(' '), b('world')], 0);
  assert.equal(await f.size(), 11);
  assert.deepEqual(await readAll(f), b('hello world'));
  await f.writev([b('W')], 6);
  assert.deepEqual(await fs.readFile('/a/x'), b('hello World'));
  const buf = Buffer.alloc(10, 0xee);
  assert.equal(await f.read(buf, 2, 8, 8), 3);
  assert.deepEqual(buf, Buffer.from([0xee, 0xee, ...b('rld'), 0xee, 0xee, 0xee, 0xee, 0xee]));
  assert.equal(await f.read(buf, 0, 4, 11), 0);
  assert.equal(await f.read(buf, 0, 4, 100), 0);
  await f.writev([], 50); // an empty write does not extend
  assert.equal(await f.size(), 11);
  // Reopening sees the same data; readFile returns a copy.
  const g = await fs.open('a/x', false);
  assert.deepEqual(await readAll(g), b('hello World'));
  const copy = await fs.readFile('/a/x');
  copy[0] = 0;
  assert.deepEqual(fs.fileContents('/a/x'), b('hello World'));
  await f.close();
  await g.close();
  assert.equal(fs.openHandleCount, 0);
});

test('holes read as zeros, and growing after shrinking does not resurrect old bytes', async () => {
  const fs = new MemoryFileSystem();
  const f = await fs.open('/h', true);
  await f.writev([b('abcd')], 10);
  assert.equal(await f.size(), 14);
  assert.deepEqual(await readAll(f), Buffer.concat([Buffer.alloc(10), b('abcd')]));
  await f.truncate(2);
  await f.writev([b('Z')], 12);
  assert.deepEqual(await readAll(f), Buffer.concat([Buffer.alloc(12), b('Z')]));
  // A large write far away (buffer growth) keeps earlier contents.
  await f.writev([Buffer.alloc(100_000, 7)], 1_000_000);
  assert.equal(await f.size(), 1_100_000);
  const head = Buffer.alloc(13);
  await f.read(head, 0, 13, 0);
  assert.deepEqual(head, Buffer.concat([Buffer.alloc(12), b('Z')]));
  await f.close();
});

test('truncate shrinks and extends with zeros', async () => {
  const fs = new MemoryFileSystem();
  const f = await fs.open('/t', true);
  await f.writev([b('0123456789')], 0);
  await f.truncate(4);
  assert.equal(await f.size(), 4);
  assert.deepEqual(await readAll(f), b('0123'));
  await f.truncate(8);
  assert.deepEqual(await readAll(f), Buffer.concat([b('0123'), Buffer.alloc(4)]));
  await f.truncate(0);
  assert.equal(await f.size(), 0);
  assert.deepEqual(await fs.stat('/t'), { size: 0, isDirectory: false });
  await f.close();
});

test('datasync then crash keeps the data, with torn writes on', async () => {
  const { fs, path } = await withFile();
  const f = await fs.open(path, false);
  await f.writev([b('durable data')], 0);
  await f.datasync();
  const torn = fs.crash({ rng: seededRng(7) });
  assert.deepEqual(torn, []);
  assert.deepEqual(fs.fileContents(path), b('durable data'));
  const g = await fs.open(path, false);
  assert.deepEqual(await readAll(g), b('durable data'));
  await g.close();
});

test('unsynced writes, overwrites and truncations are lost on crash with tornWrites false', async () => {
  const { fs, path } = await withFile();
  const f = await fs.open(path, false);
  await f.writev([b('AAAAAAAA')], 0);
  await f.datasync();
  await f.writev([b('bb')], 2); // overwrite inside the durable region
  await f.writev([b('CCCC')], 8); // append
  assert.deepEqual(fs.durableContents(path), b('AAAAAAAA'));
  assert.deepEqual(fs.crash({ tornWrites: false }), []);
  assert.deepEqual(fs.fileContents(path), b('AAAAAAAA'));

  const g = await fs.open(path, false);
  await g.truncate(3);
  fs.crash({ tornWrites: false });
  assert.deepEqual(fs.fileContents(path), b('AAAAAAAA'));

  // A synced truncation is durable, and so is a later extension once synced.
  const h = await fs.open(path, false);
  await h.truncate(3);
  await h.datasync();
  await h.writev([b('xyz')], 5);
  await h.datasync();
  await h.writev([b('lost')], 8);
  fs.crash({ tornWrites: false });
  assert.deepEqual(fs.fileContents(path), Buffer.concat([b('AAA'), Buffer.alloc(2), b('xyz')]));
});

test('a file created and datasynced but never synced into its directory is lost on crash', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/data');
  await fs.syncDir('/');
  const f = await fs.open('/data/seg', true);
  await f.writev([b('payload')], 0);
  await f.datasync();
  assert.deepEqual(await fs.readdir('/data'), ['seg']);
  fs.crash(); // even with torn writes: the name never became durable
  assert.deepEqual(await fs.readdir('/data'), []);
  assert.equal(await fs.stat('/data/seg'), null);
  assert.deepEqual(fs.listFiles(), []);

  // With the entry synced (before or after the data), the file survives.
  const g = await fs.open('/data/seg', true);
  await fs.syncDir('/data');
  await g.writev([b('payload')], 0);
  await g.datasync();
  fs.crash();
  assert.deepEqual(fs.listFiles(), ['/data/seg']);
  assert.deepEqual(fs.fileContents('/data/seg'), b('payload'));
});

test('mkdir -p: each new directory needs its parent synced to survive', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/a/b/c');
  await fs.mkdir('/a/b/c'); // idempotent
  assert.deepEqual(await fs.stat('/a/b/c'), { size: 4096, isDirectory: true });
  await fs.syncDir('/a/b');
  await fs.syncDir('/a');
  fs.crash();
  assert.equal(await fs.stat('/a'), null); // root never synced
  await fs.mkdir('/a/b/c');
  await fs.syncDir('/');
  await fs.syncDir('/a');
  fs.crash();
  assert.deepEqual(await fs.readdir('/a'), ['b']);
  assert.deepEqual(await fs.readdir('/a/b'), []);
});

test('rename replaces the target atomically; the change is durable only after syncDir', async () => {
  const { fs } = await withFile('meta');
  await writeFileDurably(fs, '/d', 'meta', b('v1'));
  const syncs = fs.syncDirCount;
  const datasyncs = fs.datasyncCount;

  // A temp file written and renamed over the target, without the directory sync.
  const t = await fs.open('/d/meta.tmp', true);
  await t.writev([b('v2')], 0);
  await t.datasync();
  await t.close();
  await fs.rename('/d/meta.tmp', '/d/meta');
  assert.deepEqual(await fs.readdir('/d'), ['meta']);
  assert.deepEqual(await fs.readFile('/d/meta'), b('v2'));
  fs.crash();
  assert.deepEqual(await fs.readdir('/d'), ['meta']);
  assert.deepEqual(await fs.readFile('/d/meta'), b('v1'));

  await writeFileDurably(fs, '/d', 'meta', b('v3'));
  assert.equal(fs.syncDirCount, syncs + 1);
  assert.equal(fs.datasyncCount, datasyncs + 2);
  fs.crash();
  assert.deepEqual(await fs.readdir('/d'), ['meta']);
  assert.deepEqual(await fs.readFile('/d/meta'), b('v3'));

  // Unlink is also only durable after syncDir.
  await fs.unlink('/d/meta');
  assert.equal(await fs.stat('/d/meta'), null);
  fs.crash();
  assert.deepEqual(await fs.readFile('/d/meta'), b('v3'));
  await fs.unlink('/d/meta');
  await fs.syncDir('/d');
  fs.crash();
  assert.deepEqual(await fs.readdir('/d'), []);
});

test('rename of directories and its errors', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/x/sub');
  const f = await fs.open('/x/sub/file', true);
  await f.writev([b('1')], 0);
  await fs.rename('/x', '/y');
  assert.deepEqual(fs.listFiles(), ['/y/sub/file']);
  await f.writev([b('2')], 1); // the handle follows the file
  assert.deepEqual(fs.fileContents('/y/sub/file'), b('12'));
  await rejectsWithCode(fs.rename('/y', '/y/sub/z'), 'EINVAL');
  await fs.mkdir('/e');
  await rejectsWithCode(fs.rename('/y/sub/file', '/e'), 'EISDIR');
  await rejectsWithCode(fs.rename('/e', '/y/sub/file'), 'ENOTDIR');
  await rejectsWithCode(fs.rename('/e', '/y'), 'ENOTEMPTY');
  await fs.rename('/y/sub', '/e'); // over an empty directory
  assert.deepEqual(fs.listFiles(), ['/e/file']);
  await fs.rename('/e/file', '/e/file'); // same name: no-op
  assert.deepEqual(fs.listFiles('/e'), ['/e/file']);
  await f.close();
});

test('torn writes keep the durable contents and only a prefix of the unsynced region, then maybe a tail', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer(),
      fc.uint8Array({ maxLength: 64 }),
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 64 }), { maxLength: 6 }),
      fc.boolean(),
      async (seed, synced, unsyncedChunks, garbageTails) => {
        const { fs, path } = await withFile();
        const f = await fs.open(path, false);
        await f.writev([Buffer.from(synced)], 0);
        await f.datasync();
        let at = synced.length;
        for (const chunk of unsyncedChunks) {
          await f.writev([Buffer.from(chunk)], at);
          at += chunk.length;
        }
        const before = fs.fileContents(path);
        const torn = fs.crash({ rng: seededRng(seed), garbageTails });
        const after = fs.fileContents(path);
        const ds = synced.length;
        assert.ok(after.length >= ds && after.length <= before.length);
        assert.deepEqual(after.subarray(0, ds), Buffer.from(synced));
        if (after.length === ds) {
          assert.deepEqual(torn, []);
          return;
        }
        assert.equal(torn.length, 1);
        const t = torn[0]!;
        assert.equal(t.path, path);
        assert.equal(t.durableSize, ds);
        assert.equal(t.sizeBeforeCrash, before.length);
        assert.equal(ds + t.keptBytes + t.tailBytes, after.length);
        assert.deepEqual(after.subarray(ds, ds + t.keptBytes), before.subarray(ds, ds + t.keptBytes));
        if (!garbageTails) assert.equal(t.tailBytes, 0);
        assert.equal(t.tail === null, t.tailBytes === 0);
        if (t.tail === 'zeros') assert.ok(after.subarray(ds + t.keptBytes).every((x) => x === 0));
        // What survived is now durable: a second crash changes nothing.
        assert.deepEqual(fs.crash({ rng: seededRng(seed + 1) }), []);
        assert.deepEqual(fs.fileContents(path), after);
      },
    ),
    { numRuns: 300 },
  );
});

test('torn writes are deterministic for a seed, and cover none, all, partial, zero and garbage tails', async () => {
  const outcomes = new Set<string>();
  for (let seed = 0; seed < 200; seed++) {
    const runs: string[] = [];
    for (let rep = 0; rep < 2; rep++) {
      const fs = new MemoryFileSystem({ seed });
      const f = await fs.open('/f', true);
      await fs.syncDir('/');
      await f.writev([Buffer.alloc(100, 1)], 0);
      const [t] = fs.crash();
      runs.push(fs.fileContents('/f').toString('hex'));
      if (t === undefined) outcomes.add('none');
      else if (t.keptBytes === 100) outcomes.add('all');
      else {
        outcomes.add('partial');
        if (t.tail !== null) outcomes.add(t.tail);
      }
    }
    assert.equal(runs[0], runs[1], `seed ${seed}`);
  }
  assert.deepEqual([...outcomes].sort(), ['all', 'garbage', 'none', 'partial', 'zeros']);
});

test('handles are closed by a crash', async () => {
  const { fs, path } = await withFile();
  const f = await fs.open(path, false);
  await f.writev([b('x')], 0);
  assert.equal(fs.openHandleCount, 1);
  fs.crash();
  assert.equal(fs.openHandleCount, 0);
  await rejectsWithCode(f.read(Buffer.alloc(1), 0, 1, 0), 'EBADF');
  await rejectsWithCode(f.writev([b('y')], 0), 'EBADF');
  await rejectsWithCode(f.datasync(), 'EBADF');
  await rejectsWithCode(f.truncate(0), 'EBADF');
  await rejectsWithCode(f.size(), 'EBADF');
  await f.close(); // harmless, as a second close is
  await f.close();
  // Closed handles also reject after a normal close.
  const g = await fs.open(path, false);
  await g.close();
  await rejectsWithCode(g.size(), 'EBADF');
});

test('an unlinked file stays usable through open handles, but is gone by name', async () => {
  const { fs, path } = await withFile();
  const f = await fs.open(path, false);
  await f.writev([b('abc')], 0);
  await fs.unlink(path);
  assert.equal(await fs.stat(path), null);
  await f.writev([b('d')], 3);
  assert.deepEqual(await readAll(f), b('abcd'));
  const g = await fs.open(path, true); // a new, different file
  assert.equal(await g.size(), 0);
  await f.close();
  await g.close();
});

test('errors carry Node-like codes; stat returns null; removeDir is recursive and forgiving', async () => {
  const fs = new MemoryFileSystem();
  await rejectsWithCode(fs.open('/missing/x', true), 'ENOENT');
  await rejectsWithCode(fs.open('/x', false), 'ENOENT');
  await rejectsWithCode(fs.readFile('/x'), 'ENOENT');
  await rejectsWithCode(fs.unlink('/x'), 'ENOENT');
  await rejectsWithCode(fs.rename('/x', '/y'), 'ENOENT');
  await rejectsWithCode(fs.readdir('/x'), 'ENOENT');
  await rejectsWithCode(fs.syncDir('/x'), 'ENOENT');
  await rejectsWithCode(fs.open('', true), 'ENOENT');
  assert.equal(await fs.stat('/x'), null);
  assert.throws(() => fs.fileContents('/x'), { code: 'ENOENT' });

  await (await fs.open('/file', true)).close();
  await rejectsWithCode(fs.rename('/file', '/nodir/file'), 'ENOENT');
  await rejectsWithCode(fs.mkdir('/file'), 'EEXIST');
  await rejectsWithCode(fs.mkdir('/file/sub'), 'ENOTDIR');
  await rejectsWithCode(fs.open('/file/sub', true), 'ENOTDIR');
  await rejectsWithCode(fs.readdir('/file'), 'ENOTDIR');
  await rejectsWithCode(fs.syncDir('/file'), 'ENOTDIR');
  await fs.mkdir('/dir/sub');
  await rejectsWithCode(fs.open('/dir', true), 'EISDIR');
  await rejectsWithCode(fs.readFile('/dir'), 'EISDIR');
  await rejectsWithCode(fs.unlink('/dir'), 'EISDIR');
  const e = await fs.open('/nope', false).catch((err: NodeJS.ErrnoException) => err);
  assert.ok(e instanceof Error);
  assert.equal((e as NodeJS.ErrnoException).errno, -2);
  assert.equal((e as NodeJS.ErrnoException).syscall, 'open');
  assert.equal((e as NodeJS.ErrnoException).path, '/nope');

  await (await fs.open('/dir/sub/f', true)).close();
  await (await fs.open('/dir/g', true)).close();
  assert.deepEqual(fs.listFiles(), ['/dir/g', '/dir/sub/f', '/file']);
  assert.deepEqual(fs.listFiles('/dir/sub'), ['/dir/sub/f']);
  await fs.removeDir('/dir');
  await fs.removeDir('/dir');
  await fs.removeDir('/no/such/dir');
  assert.deepEqual(fs.listFiles(), ['/file']);
  assert.deepEqual(await fs.readdir('/'), ['file']);
});

test('failNext: injected errors propagate and change nothing', async () => {
  const { fs, path } = await withFile();
  const f = await fs.open(path, false);
  await f.writev([b('one')], 0);
  const before = fs.datasyncCount;
  fs.failNext('datasync', 2);
  await rejectsWithCode(f.datasync(), 'EIO');
  await rejectsWithCode(f.datasync(), 'EIO');
  assert.equal(fs.datasyncCount, before + 2);
  assert.deepEqual(fs.durableContents(path), b(''));
  fs.crash({ tornWrites: false });
  assert.deepEqual(fs.fileContents(path), b(''));

  const g = await fs.open(path, false);
  fs.failNext('writev', 1, { code: 'ENOSPC' });
  await rejectsWithCode(g.writev([b('two')], 0), 'ENOSPC');
  assert.equal(await g.size(), 0);
  await g.writev([b('two')], 0);
  await g.datasync(); // the rule was used up
  assert.deepEqual(fs.durableContents(path), b('two'));

  fs.failNext('syncDir');
  await (await fs.open('/d/new', true)).close();
  await rejectsWithCode(fs.syncDir('/d'), 'EIO');
  fs.crash({ tornWrites: false });
  assert.deepEqual(await fs.readdir('/d'), ['f']);

  // Path-scoped rules, and other operations.
  await fs.mkdir('/d/s');
  fs.failNext('open', 1, { path: '/d/other' });
  await (await fs.open('/d/f', false)).close();
  await rejectsWithCode(fs.open('d/other', true), 'EIO');
  assert.equal(await fs.stat('/d/other'), null);
  fs.failNext('rename');
  await rejectsWithCode(fs.rename('/d/f', '/d/g'), 'EIO');
  assert.deepEqual(await fs.readdir('/d'), ['f', 's']);
  fs.failNext('readFile');
  await rejectsWithCode(fs.readFile('/d/f'), 'EIO');
  fs.failNext('stat', 3);
  fs.clearFaults();
  assert.notEqual(await fs.stat('/d/f'), null);

  // A failing close still closes.
  const h = await fs.open(path, false);
  fs.failNext('close');
  await rejectsWithCode(h.close(), 'EIO');
  assert.equal(fs.openHandleCount, 0);
  await rejectsWithCode(h.size(), 'EBADF');
});

test('failNext datasync with discardUnsynced: a later successful datasync does not persist the lost data', async () => {
  const { fs, path } = await withFile();
  const f = await fs.open(path, false);
  await f.writev([b('AAAA')], 0);
  await f.datasync();
  await f.writev([b('BBBB')], 4);
  fs.failNext('datasync', 1, { discardUnsynced: true });
  await rejectsWithCode(f.datasync(), 'EIO');
  await f.datasync(); // "succeeds", as Linux reports the error only once
  assert.deepEqual(await readAll(f), b('AAAABBBB')); // still in the page cache
  await f.writev([b('CC')], 8);
  await f.datasync();
  fs.crash({ tornWrites: false });
  assert.deepEqual(fs.fileContents(path), Buffer.concat([b('AAAA'), Buffer.alloc(4), b('CC')]));
});

test('corrupt and truncateFile act on both current and durable contents', async () => {
  const { fs, path } = await withFile();
  const f = await fs.open(path, false);
  await f.writev([b('abcdef')], 0);
  await f.datasync();
  await f.writev([b('gh')], 6);
  fs.corrupt(path, 1, 0x20);
  fs.corrupt(path, 6, Buffer.from([0x20, 0x20])); // only in the current contents
  assert.deepEqual(await readAll(f), b('aBcdefGH'));
  assert.deepEqual(fs.durableContents(path), b('aBcdef'));
  assert.throws(() => fs.corrupt(path, 8, 1), RangeError);
  fs.truncateFile(path, 3);
  assert.equal(await f.size(), 3);
  fs.crash({ tornWrites: false });
  assert.deepEqual(fs.fileContents(path), b('aBc'));
  fs.truncateFile(path, 5);
  assert.deepEqual(fs.fileContents(path), Buffer.concat([b('aBc'), Buffer.alloc(2)]));
  fs.crash({ tornWrites: false });
  assert.deepEqual(fs.fileContents(path), Buffer.concat([b('aBc'), Buffer.alloc(2)]));
});

test('syncAll makes the whole current state durable', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/p/q');
  const f = await fs.open('/p/q/r', true);
  await f.writev([b('data')], 0);
  fs.syncAll();
  await f.writev([b('more')], 4);
  fs.crash({ tornWrites: false });
  assert.deepEqual(fs.listFiles(), ['/p/q/r']);
  assert.deepEqual(fs.fileContents('/p/q/r'), b('data'));
});

type Op =
  | { kind: 'write'; pos: number; data: Uint8Array }
  | { kind: 'truncate'; len: number }
  | { kind: 'sync' }
  | { kind: 'read'; pos: number; len: number }
  | { kind: 'crash' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('write' as const), pos: fc.nat(300), data: fc.uint8Array({ maxLength: 80 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), len: fc.nat(300) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'sync' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('read' as const), pos: fc.nat(400), len: fc.nat(120) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'crash' as const }) },
);

function modelWrite(model: number[], pos: number, data: Uint8Array): void {
  if (data.length === 0) return;
  while (model.length < pos) model.push(0);
  for (let i = 0; i < data.length; i++) model[pos + i] = data[i]!;
}

test('model-based: current and durable contents match a simple model through writes, truncates, syncs and crashes', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { maxLength: 60 }), async (ops) => {
      const { fs, path } = await withFile();
      let f = await fs.open(path, false);
      let current: number[] = [];
      let durable: number[] = [];
      for (const op of ops) {
        switch (op.kind) {
          case 'write':
            await f.writev([Buffer.from(op.data.subarray(0, 30)), Buffer.from(op.data.subarray(30))], op.pos);
            modelWrite(current, op.pos, op.data);
            break;
          case 'truncate':
            await f.truncate(op.len);
            while (current.length < op.len) current.push(0);
            current.length = op.len;
            break;
          case 'sync':
            await f.datasync();
            durable = [...current];
            break;
          case 'read': {
            const buf = Buffer.alloc(op.len);
            const n = await f.read(buf, 0, op.len, op.pos);
            assert.deepEqual([...buf.subarray(0, n)], current.slice(op.pos, op.pos + op.len));
            break;
          }
          case 'crash':
            fs.crash({ tornWrites: false });
            current = [...durable];
            f = await fs.open(path, false);
            break;
        }
        assert.equal(await f.size(), current.length);
        assert.deepEqual([...fs.durableContents(path)], durable);
      }
      assert.deepEqual([...fs.fileContents(path)], current);
      await f.close();
    }),
    { numRuns: 300 },
  );
});

test('many small appends and syncs are fast (buffers grow by doubling, syncs copy only the new part)', async () => {
  const { fs, path } = await withFile();
  const f = await fs.open(path, false);
  const chunk = Buffer.alloc(200, 3);
  const start = performance.now();
  for (let i = 0; i < 20_000; i++) {
    await f.writev([chunk, chunk], i * 400);
    if (i % 4 === 0) await f.datasync();
  }
  const elapsed = performance.now() - start;
  assert.equal(await f.size(), 8_000_000);
  assert.equal(fs.datasyncCount, 5_000);
  assert.ok(elapsed < 5_000, `took ${elapsed} ms`);
  await f.close();
});

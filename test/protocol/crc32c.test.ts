import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { crc32c, crc32cJs, crc32cImplementation, loadCrc32c, type Crc32cFunction } from '../../src/protocol/crc32c.js';
import { crc32, crc32Js } from '../../src/protocol/crc32.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

function ascending(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = i;
  return b;
}

const implementations: Array<[string, Crc32cFunction]> = [
  ['crc32c (selected)', crc32c],
  ['crc32cJs', crc32cJs],
];

for (const [name, fn] of implementations) {
  test(`${name}: known answers (check value and RFC 3720 B.4)`, () => {
    assert.equal(fn(ascii('123456789')), 0xe3069283);
    assert.equal(fn(new Uint8Array(0)), 0);
    assert.equal(fn(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(fn(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
    assert.equal(fn(ascending(32)), 0x46dd794e);
    assert.equal(fn(ascending(32).reverse()), 0x113fdb5c);
  });

  test(`${name}: chaining equals the checksum of the concatenation`, () => {
    const data = randomBytes(3000);
    const whole = fn(data);
    for (const cut of [0, 1, 7, 8, 9, 1500, 2999, 3000]) {
      assert.equal(fn(data.subarray(cut), fn(data.subarray(0, cut))), whole, `cut at ${cut}`);
    }
    // An empty continuation leaves the running value unchanged, also for 0xffffffff.
    assert.equal(fn(new Uint8Array(0), whole), whole);
    assert.equal(fn(new Uint8Array(0), 0xffffffff), 0xffffffff);
  });

  test(`${name}: returns an unsigned 32-bit integer`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (data) => {
        const v = fn(data);
        assert.ok(Number.isInteger(v) && v >= 0 && v <= 0xffffffff);
      }),
      { numRuns: 200 },
    );
  });
}

test('crc32c: native and JS agree on random inputs of every length 0..5000', () => {
  const data = randomBytes(5000);
  for (let n = 0; n <= 5000; n++) {
    const slice = data.subarray(0, n);
    if (crc32c(slice) !== crc32cJs(slice)) assert.fail(`disagreement at length ${n}`);
  }
});

test('crc32c: native and JS agree on 1 MiB', () => {
  const data = randomBytes(1 << 20);
  assert.equal(crc32c(data), crc32cJs(data));
});

test('crc32c: native and JS agree at odd offsets of a larger buffer', () => {
  const big = randomBytes(10_000);
  fc.assert(
    fc.property(fc.nat(9_999), fc.nat(9_999), fc.nat(), (a, b, initial) => {
      const start = Math.min(a, b);
      const end = Math.max(a, b);
      const view = big.subarray(start, end);
      assert.equal(crc32c(view), crc32cJs(view));
      assert.equal(crc32c(view, initial), crc32cJs(view, initial));
      // A Uint8Array view (not a Buffer) at the same offset gives the same result.
      const u8 = new Uint8Array(big.buffer, big.byteOffset + start, end - start);
      assert.equal(crc32cJs(u8), crc32cJs(view));
    }),
    { numRuns: 300 },
  );
});

test('crc32c: the native implementation is selected here (the package is installed)', () => {
  assert.equal(crc32cImplementation, process.env['FERRY_CRC32C'] === 'js' ? 'js' : 'native');
});

test('loadCrc32c: a loader that throws yields the JS fallback', () => {
  const r = loadCrc32c(() => {
    throw new Error('cannot find native binding');
  });
  assert.equal(r.implementation, 'js');
  assert.equal(r.crc32c, crc32cJs);
});

test('loadCrc32c: a module without crc32c, or with a wrong one, yields the JS fallback', () => {
  assert.equal(loadCrc32c(() => ({})).implementation, 'js');
  assert.equal(loadCrc32c(() => null).implementation, 'js');
  assert.equal(loadCrc32c(() => ({ crc32c: () => 0 })).implementation, 'js');
  assert.equal(
    loadCrc32c(() => ({
      crc32c: () => {
        throw new TypeError('broken');
      },
    })).implementation,
    'js',
  );
  // Right for the check value but ignoring the initial state: chaining would break.
  assert.equal(loadCrc32c(() => ({ crc32c: (d: Uint8Array) => crc32cJs(d) })).implementation, 'js');
});

test('loadCrc32c: a working module is used', () => {
  const r = loadCrc32c(() => ({ crc32c: crc32cJs }));
  assert.equal(r.implementation, 'native');
  assert.equal(r.crc32c(ascii('123456789')), 0xe3069283);
});

test('FERRY_CRC32C=js forces the JS implementation in a fresh process', () => {
  const moduleUrl = new URL('../../src/protocol/crc32c.js', import.meta.url).href;
  const script =
    `const m = await import(${JSON.stringify(moduleUrl)});` +
    `const v = m.crc32c(new TextEncoder().encode('123456789'));` +
    `process.stdout.write(JSON.stringify({ impl: m.crc32cImplementation, v, same: m.crc32c === m.crc32cJs }));`;
  const run = (env: NodeJS.ProcessEnv): { impl: string; v: number; same: boolean } =>
    JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        env,
        cwd: fileURLToPath(new URL('.', import.meta.url)),
        encoding: 'utf8',
      }),
    ) as { impl: string; v: number; same: boolean };
  const forced = run({ ...process.env, FERRY_CRC32C: 'js' });
  assert.deepEqual(forced, { impl: 'js', v: 0xe3069283, same: true });
  const env = { ...process.env };
  delete env['FERRY_CRC32C'];
  const normal = run(env);
  assert.deepEqual(normal, { impl: 'native', v: 0xe3069283, same: false });
});

// ---- CRC-32 (IEEE) -----------------------------------------------------------------------

for (const [name, fn] of [
  ['crc32 (selected)', crc32],
  ['crc32Js', crc32Js],
] as const) {
  test(`${name}: known answers and chaining`, () => {
    assert.equal(fn(ascii('123456789')), 0xcbf43926);
    assert.equal(fn(new Uint8Array(0)), 0);
    assert.equal(fn(ascii('The quick brown fox jumps over the lazy dog')), 0x414fa339);
    assert.equal(fn(new Uint8Array(32)), 0x190a55ad);
    assert.equal(fn(new Uint8Array(32).fill(0xff)), 0xff6cab0b);
    const data = randomBytes(1000);
    assert.equal(fn(data.subarray(333), fn(data.subarray(0, 333))), fn(data));
  });
}

test('crc32: selected and JS implementations agree on random inputs and offsets', () => {
  const big = randomBytes(5000);
  fc.assert(
    fc.property(fc.nat(4999), fc.nat(4999), fc.nat(), (a, b, initial) => {
      const view = big.subarray(Math.min(a, b), Math.max(a, b));
      assert.equal(crc32(view), crc32Js(view));
      assert.equal(crc32(view, initial), crc32Js(view, initial));
    }),
    { numRuns: 300 },
  );
});

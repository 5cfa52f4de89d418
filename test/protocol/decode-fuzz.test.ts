// Random and mutated bytes into every request and response decoder: accepted or rejected
// with ProtocolError, nothing else. A bounded run; `npm run fuzz:protocol` runs longer.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { readRequestHeader } from '../../src/protocol/frame.js';
import { ProtocolError } from '../../src/protocol/protocol-error.js';
import { decodeUntrusted, mutatedProperty, randomBytesProperty } from './fuzz-cases.js';
import { API_SCHEMAS, encodeBody, structArb, versions } from './schema-arbitraries.js';

const NUM_RUNS = Number(process.env.FERRY_FUZZ_RUNS ?? 100);

describe('decoders reject hostile input only with ProtocolError', () => {
  for (const s of API_SCHEMAS) {
    for (const v of versions(s)) {
      test(`${s.name} v${v}`, () => {
        fc.assert(randomBytesProperty(s, v), { numRuns: NUM_RUNS });
        fc.assert(mutatedProperty(s, v), { numRuns: NUM_RUNS });
      });
    }
  }
});

test('the fuzz harness itself tells accepted from rejected input', () => {
  const s = API_SCHEMAS.find((x) => x.name === 'MetadataRequest')!;
  const good = encodeBody(s, 12, fc.sample(structArb(s.fields, 12), { numRuns: 1, seed: 1 })[0]!);
  assert.equal(decodeUntrusted(s, 12, good), true);
  assert.equal(decodeUntrusted(s, 12, good.subarray(0, good.length - 1)), false);
  assert.equal(decodeUntrusted(s, 12, Buffer.concat([good, Buffer.from([0])])), false, 'trailing bytes');
});

test('request headers of random frames: parsed or ProtocolError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        readRequestHeader(Buffer.from(bytes));
      } catch (e) {
        assert.ok(e instanceof ProtocolError, String(e));
      }
    }),
    { numRuns: 2000 },
  );
});

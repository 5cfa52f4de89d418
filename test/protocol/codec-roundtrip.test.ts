// For every API and every version in the specs, and for every data and internal record
// format: encoding a random message and decoding it again gives the message back, with
// fields absent at that version at their defaults. Values come from the schema as data.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ByteReader } from '../../src/protocol/byte-reader.js';
import { decodeData, encodeData, encodeRequestFrame, encodeResponseFrame, readRequestBody, readRequestHeader, readResponse } from '../../src/protocol/frame.js';
import { API_SCHEMAS, DATA_SCHEMAS, apiCodecOf, dataCodecOf, expected, structArb, versions } from './schema-arbitraries.js';

const NUM_RUNS = Number(process.env.FERRY_PROPERTY_RUNS ?? 25);

function strip(chunks: Buffer[]): Buffer {
  const frame = Buffer.concat(chunks);
  assert.equal(frame.readInt32BE(0), frame.length - 4, 'size prefix counts the bytes that follow');
  return frame.subarray(4);
}

describe('API messages round trip through frames', () => {
  for (const s of API_SCHEMAS) {
    const api = apiCodecOf(s);
    for (const v of versions(s)) {
      test(`${s.name} v${v}`, () => {
        fc.assert(
          fc.property(structArb(s.fields, v), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.option(fc.string({ maxLength: 8 }), { nil: null }), (m, correlationId, clientId) => {
            const want = expected(s.fields, v, m);
            if (s.kind === 'request') {
              const frame = strip(encodeRequestFrame(api, v, correlationId, clientId, m));
              const header = readRequestHeader(frame);
              assert.deepEqual(
                [header.apiKey, header.apiVersion, header.correlationId, header.clientId, header.headerVersion],
                [api.apiKey, v, correlationId, clientId, api.requestHeaderVersion(v)],
              );
              assert.deepStrictEqual(readRequestBody(api, header, frame), want);
            } else {
              const frame = strip(encodeResponseFrame(api, v, correlationId, m));
              assert.equal(frame.readInt32BE(0), correlationId);
              assert.deepStrictEqual(readResponse(api, v, frame), want);
            }
          }),
          { numRuns: NUM_RUNS },
        );
      });
    }
  }
});

describe('data and internal record formats round trip', () => {
  for (const s of DATA_SCHEMAS) {
    const codec = dataCodecOf(s);
    for (const v of versions(s)) {
      test(`${s.name} v${v}`, () => {
        fc.assert(
          fc.property(structArb(s.fields, v), (m) => {
            assert.deepStrictEqual(decodeData(codec, v, encodeData(codec, v, m)), expected(s.fields, v, m));
          }),
          { numRuns: NUM_RUNS },
        );
      });
    }
  }
});

test('every API in the specs has a codec covering exactly its valid versions', () => {
  for (const s of API_SCHEMAS) {
    const api = apiCodecOf(s);
    assert.deepEqual([api.minVersion, api.maxVersion], [...s.validVersions], s.name);
    const flexible = s.flexibleVersions[0] <= s.flexibleVersions[1] ? s.flexibleVersions[0] : -1;
    if (s.kind === 'request') assert.equal(api.firstFlexibleVersion, flexible, s.name);
  }
});

test('header versions: request v1/v2 by flexibility, response v0/v1, ApiVersions always v0', () => {
  for (const s of API_SCHEMAS.filter((x) => x.kind === 'response')) {
    const api = apiCodecOf(s);
    for (const v of versions(s)) {
      const flexible = v >= s.flexibleVersions[0] && v <= s.flexibleVersions[1];
      assert.equal(api.responseHeaderVersion(v), s.apiKey === 18 ? 0 : flexible ? 1 : 0, `${s.name} v${v}`);
    }
  }
});

test('ApiVersions v3 response: header v0 but a flexible body', () => {
  const api = apiCodecOf(API_SCHEMAS.find((s) => s.apiKey === 18 && s.kind === 'response')!);
  const frame = strip(encodeResponseFrame(api, 3, 7, { errorCode: 0, apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }], throttleTimeMs: 0 }));
  // correlation id, then directly the body: errorCode int16, compact array (2 = 1 element)...
  assert.deepEqual([...frame.subarray(0, 7)], [0, 0, 0, 7, 0, 0, 2]);
  // apiKey 18, min 0, max 4, element tag buffer 0, throttle 0, top-level tag buffer 0
  assert.deepEqual([...frame.subarray(7)], [0, 18, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0]);
});

test('request header v2 keeps the client id a plain nullable string', () => {
  const api = apiCodecOf(API_SCHEMAS.find((s) => s.apiKey === 18 && s.kind === 'request')!);
  const frame = strip(encodeRequestFrame(api, 3, 1, 'ab', { clientSoftwareName: 'x', clientSoftwareVersion: 'y' }));
  // apiKey 18, version 3, correlation 1, client id int16 length 2 "ab", header tag buffer 0
  assert.deepEqual([...frame.subarray(0, 13)], [0, 18, 0, 3, 0, 0, 0, 1, 0, 2, 0x61, 0x62, 0]);
  // body: compact strings "x" and "y", then the body's tag buffer
  assert.deepEqual([...frame.subarray(13)], [2, 0x78, 2, 0x79, 0]);
});

test('unknown tagged fields are skipped; known ones are read', () => {
  const s = API_SCHEMAS.find((x) => x.apiKey === 18 && x.kind === 'response')!;
  const api = apiCodecOf(s);
  // errorCode 0, empty compact array, throttle 0, then 2 tagged fields: tag 9 (unknown,
  // 3 bytes) and tag 1 (FinalizedFeaturesEpoch, int64 = 5).
  const body = Buffer.from([0, 0, 1, 0, 0, 0, 0, 2, 9, 3, 1, 2, 3, 1, 8, 0, 0, 0, 0, 0, 0, 0, 5]);
  const r = new ByteReader(body);
  const m = api.readResponse(3, r) as { finalizedFeaturesEpoch: bigint };
  r.done('test');
  assert.equal(m.finalizedFeaturesEpoch, 5n);
});

test('tagged fields at their default are not written', () => {
  const s = API_SCHEMAS.find((x) => x.apiKey === 18 && x.kind === 'response')!;
  const api = apiCodecOf(s);
  const base = { errorCode: 0, apiKeys: [], throttleTimeMs: 0 };
  const plain = Buffer.concat(encodeResponseFrame(api, 3, 0, { ...base, finalizedFeaturesEpoch: -1n, zkMigrationReady: false }));
  const tagged = Buffer.concat(encodeResponseFrame(api, 3, 0, { ...base, finalizedFeaturesEpoch: 5n }));
  assert.equal(plain.at(-1), 0, 'no tagged fields');
  assert.equal(tagged.length, plain.length + 10, 'tag, size and the int64');
});

test('a non-ignorable field that the version cannot carry must be at its default', () => {
  const api = apiCodecOf(API_SCHEMAS.find((s) => s.apiKey === 1 && s.kind === 'response')!);
  const body = { throttleTimeMs: 0, errorCode: 0, responses: [] };
  // SessionId exists from Fetch v7 and is not ignorable; ErrorCode (v7+) is ignorable.
  assert.throws(() => encodeResponseFrame(api, 4, 1, { ...body, sessionId: 5 }), /sessionId is set but only versions 7\+ carry it/);
  assert.doesNotThrow(() => encodeResponseFrame(api, 4, 1, { ...body, sessionId: 0, errorCode: 3 }));
  assert.doesNotThrow(() => encodeResponseFrame(api, 7, 1, { ...body, sessionId: 5 }));
});

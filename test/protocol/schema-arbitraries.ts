/**
 * fast-check arbitraries and expected values derived from the message schemas as data
 * (src/protocol/messages/schema.ts). This is an independent reading of the specs: it does
 * not use the generated code, so a round trip through the generated encoder and decoder
 * that matches `expected` checks the generator's logic, not a copy of it.
 */
import fc from 'fast-check';
import type { ApiCodec, DataCodec } from '../../src/protocol/api-codec.js';
import { ByteWriter } from '../../src/protocol/byte-writer.js';
import * as messages from '../../src/protocol/messages/index.js';
import { type FieldSchema, MESSAGE_SCHEMAS, type MessageSchema } from '../../src/protocol/messages/schema.js';

type Value = unknown;
type Obj = Record<string, Value>;

export function inRange(r: readonly [number, number] | undefined, v: number): boolean {
  return r !== undefined && v >= r[0] && v <= r[1];
}

function elemType(f: FieldSchema): string {
  return f.type.startsWith('[]') ? f.type.slice(2) : f.type;
}

const INT_RANGES: Record<string, [number, number]> = {
  int8: [-128, 127],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
};

function primArb(type: string, nullable: boolean): fc.Arbitrary<Value> {
  let a: fc.Arbitrary<Value>;
  if (type in INT_RANGES) {
    const [min, max] = INT_RANGES[type]!;
    a = fc.integer({ min, max });
  } else {
    switch (type) {
      case 'bool':
        a = fc.boolean();
        break;
      case 'int64':
        a = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
        break;
      case 'float64':
        a = fc.double();
        break;
      case 'string':
        a = fc.string({ unit: 'binary', maxLength: 12 });
        break;
      case 'uuid':
        a = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('base64url'));
        break;
      case 'bytes':
        a = fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b));
        break;
      case 'records':
        // Large payloads take the writer's zero-copy reference path, small ones are copied.
        a = fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 1024, maxLength: 1500 })).map((b) => Buffer.from(b));
        break;
      default:
        throw new Error(`unknown primitive ${type}`);
    }
  }
  return nullable ? fc.option(a, { nil: null, freq: 4 }) : a;
}

function fieldArb(f: FieldSchema, v: number, depth: number): fc.Arbitrary<Value> {
  const nullable = inRange(f.nullableVersions, v);
  let elem: fc.Arbitrary<Value>;
  if (f.fields !== undefined) elem = structArb(f.fields, v, depth + 1);
  else elem = primArb(elemType(f), false);
  if (f.type.startsWith('[]')) {
    const arr = fc.array(elem, { maxLength: depth > 2 ? 1 : 3 });
    return nullable ? fc.option(arr, { nil: null, freq: 4 }) : arr;
  }
  if (f.fields !== undefined) return nullable ? fc.option(elem, { nil: null, freq: 4 }) : elem;
  return primArb(elemType(f), nullable);
}

export function structArb(fields: readonly FieldSchema[], v: number, depth = 0): fc.Arbitrary<Obj> {
  const model: Record<string, fc.Arbitrary<Value>> = {};
  for (const f of fields) if (inRange(f.versions, v)) model[f.prop] = fieldArb(f, v, depth);
  return fc.record(model) as fc.Arbitrary<Obj>;
}

/** The value a decoder must produce for a field absent at the decoded version. */
export function defaultValue(f: FieldSchema): Value {
  if (f.type.startsWith('[]')) return f.default === 'null' ? null : [];
  if (f.fields !== undefined) return f.default === 'null' ? null : defaultStruct(f.fields);
  const d = f.default;
  switch (f.type) {
    case 'bool':
      return d === 'true';
    case 'int64':
      return BigInt(d ?? '0');
    case 'string':
      return d === 'null' ? null : (d ?? '');
    case 'uuid':
      return 'AAAAAAAAAAAAAAAAAAAAAA';
    case 'bytes':
      return d === 'null' ? null : Buffer.alloc(0);
    case 'records':
      return null;
    default:
      return Number(d ?? '0');
  }
}

function defaultStruct(fields: readonly FieldSchema[]): Obj {
  const out: Obj = {};
  for (const f of fields) out[f.prop] = defaultValue(f);
  return out;
}

/** What decoding the encoding of `value` at version v must give: absent fields at defaults. */
export function expected(fields: readonly FieldSchema[], v: number, value: Obj): Obj {
  const out: Obj = {};
  for (const f of fields) {
    if (!inRange(f.versions, v)) {
      out[f.prop] = defaultValue(f);
      continue;
    }
    const x = value[f.prop];
    if (f.fields === undefined || x === null) out[f.prop] = x;
    else if (f.type.startsWith('[]')) out[f.prop] = (x as Obj[]).map((e) => expected(f.fields!, v, e));
    else out[f.prop] = expected(f.fields, v, x as Obj);
  }
  return out;
}

export function versions(s: MessageSchema): number[] {
  const out: number[] = [];
  for (let v = s.validVersions[0]; v <= s.validVersions[1]; v++) out.push(v);
  return out;
}

export const API_SCHEMAS = MESSAGE_SCHEMAS.filter((s) => s.kind === 'request' || s.kind === 'response');
export const DATA_SCHEMAS = MESSAGE_SCHEMAS.filter((s) => s.kind !== 'request' && s.kind !== 'response');

export function apiCodecOf(s: MessageSchema): ApiCodec<unknown, unknown> {
  const api = messages.API_CODECS.get(s.apiKey!);
  if (api === undefined) throw new Error(`no codec for API ${s.apiKey}`);
  return api;
}

export function dataCodecOf(s: MessageSchema): DataCodec<unknown> {
  const codec = (messages as unknown as Record<string, DataCodec<unknown> | undefined>)[`${s.name}Codec`];
  if (codec === undefined) throw new Error(`no codec for ${s.name}`);
  return codec;
}

/** Encodes a request or response body (no header) with the generated codec. */
export function encodeBody(s: MessageSchema, v: number, m: Obj): Buffer {
  const api = apiCodecOf(s);
  const w = new ByteWriter();
  if (s.kind === 'request') {
    w.allocate(api.sizeRequest(v, m, w));
    api.writeRequest(v, m, w);
  } else {
    w.allocate(api.sizeResponse(v, m, w));
    api.writeResponse(v, m, w);
  }
  return w.finishOne();
}

/**
 * Hostile input for the generated decoders: random bytes, and valid encodings with bytes
 * overwritten, lengths blown up, bytes inserted or the tail cut off. A decoder may accept
 * such input or reject it with ProtocolError; anything else (another error type, a hang,
 * a huge allocation) is a bug. Shared by the bounded test and `npm run fuzz:protocol`.
 */
import fc from 'fast-check';
import { ByteReader } from '../../src/protocol/byte-reader.js';
import { ProtocolError } from '../../src/protocol/protocol-error.js';
import type { MessageSchema } from '../../src/protocol/messages/schema.js';
import { apiCodecOf, encodeBody, structArb } from './schema-arbitraries.js';

export type Mutation =
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'huge'; at: number; width: 1 | 2 | 4 }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'truncate'; at: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('huge' as const), at: fc.nat(), width: fc.constantFrom(1 as const, 2 as const, 4 as const) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

export function mutate(buf: Buffer, mutations: Mutation[]): Buffer {
  let out = Buffer.from(buf);
  for (const m of mutations) {
    if (out.length === 0) break;
    const at = m.at % out.length;
    switch (m.kind) {
      case 'set':
        out[at] = m.byte;
        break;
      case 'huge':
        // Lengths and counts that claim far more than the frame holds (0x7f.. / 0xff..).
        for (let i = 0; i < m.width && at + i < out.length; i++) out[at + i] = i === 0 ? 0x7f : 0xff;
        break;
      case 'insert':
        out = Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
        break;
      case 'truncate':
        out = out.subarray(0, at);
        break;
    }
  }
  return out;
}

/** Decodes `bytes` as the body of schema `s` at version v; returns false if it was rejected. */
export function decodeUntrusted(s: MessageSchema, v: number, bytes: Buffer): boolean {
  const api = apiCodecOf(s);
  const r = new ByteReader(bytes);
  try {
    if (s.kind === 'request') api.readRequest(v, r);
    else api.readResponse(v, r);
    r.done(s.name);
    return true;
  } catch (e) {
    if (e instanceof ProtocolError) return false;
    throw new Error(`${s.name} v${v} threw ${String(e)} for input ${bytes.toString('hex')}`);
  }
}

export function randomBytesProperty(s: MessageSchema, v: number): fc.IPropertyWithHooks<[Uint8Array]> {
  return fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
    decodeUntrusted(s, v, Buffer.from(bytes));
  });
}

export function mutatedProperty(s: MessageSchema, v: number): fc.IPropertyWithHooks<[Record<string, unknown>, Mutation[]]> {
  return fc.property(structArb(s.fields, v), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (m, mutations) => {
    decodeUntrusted(s, v, mutate(encodeBody(s, v, m), mutations));
  });
}

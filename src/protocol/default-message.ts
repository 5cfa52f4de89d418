/**
 * A message with every field at its default, built from the schema data. The broker uses it
 * to answer a request for an API it does not serve with that API's own response shape and
 * an error code, instead of dropping the request.
 */
import { type FieldSchema, MESSAGE_SCHEMAS } from './messages/schema.js';

function defaultField(f: FieldSchema): unknown {
  if (f.type.startsWith('[]')) return f.default === 'null' ? null : [];
  if (f.fields !== undefined) return f.default === 'null' ? null : defaultFields(f.fields);
  switch (f.type) {
    case 'bool':
      return f.default === 'true';
    case 'int64':
      return BigInt(f.default ?? '0');
    case 'string':
      return f.default === 'null' ? null : (f.default ?? '');
    case 'uuid':
      return 'AAAAAAAAAAAAAAAAAAAAAA';
    case 'bytes':
      return f.default === 'null' ? null : Buffer.alloc(0);
    case 'records':
      return null;
    default:
      return Number(f.default ?? '0');
  }
}

function defaultFields(fields: readonly FieldSchema[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) out[f.prop] = defaultField(f);
  return out;
}

/** The response of an API with defaults everywhere and `errorCode` set where it has one. */
export function errorResponse(apiKey: number, errorCode: number): Record<string, unknown> {
  const schema = MESSAGE_SCHEMAS.find((s) => s.kind === 'response' && s.apiKey === apiKey);
  if (schema === undefined) throw new Error(`no response schema for API key ${apiKey}`);
  const m = defaultFields(schema.fields);
  if ('errorCode' in m) m.errorCode = errorCode;
  return m;
}

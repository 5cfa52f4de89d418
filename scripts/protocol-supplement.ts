/**
 * Applies scripts/protocol-legacy.json, the supplement that restores API versions which Kafka
 * removed from its message specs (KIP-896, Apache Kafka 4.0) but which older clients still
 * send, so that the generator emits codecs for them as well.
 *
 * The supplement works on the raw JSON of a spec, before it is normalized, and can only:
 *  - lower "validVersions" to cover versions directly below the spec's own range;
 *  - insert fields that existed only in those versions (a field whose "versions" lie
 *    entirely inside the restored range), at a named position among the existing fields;
 *  - change the "versions" or "nullableVersions" of an existing field, where the change
 *    only affects restored versions.
 * Every edit is checked so that the layout of the versions Kafka still defines cannot change,
 * and an entry that no longer fits the specs (Kafka restored the versions itself, a field
 * reappeared, an anchor field was renamed) fails the generator instead of being skipped.
 * Every spec whose comments say versions "were removed in Apache Kafka" must be covered by an
 * entry or listed under "notRestored" with a reason.
 */
import { readFileSync } from 'node:fs';
import { type RawField, type RawMessage, type VersionRange, VERSION_MAX, parseVersions, stripComments } from './protocol-spec.js';

/** A field as written in Kafka's JSON specs (the parts the supplement may carry). */
export interface RawLegacyField {
  name: string;
  type: string;
  versions: string;
  nullableVersions?: string;
  default?: string | number | boolean;
  ignorable?: boolean;
  entityType?: string;
  about?: string;
  fields?: RawLegacyField[];
}

export interface InsertEdit {
  /** Dotted path of struct fields from the message root to the struct that gets the field; "" = root. */
  in: string;
  after?: string;
  before?: string;
  insert: RawLegacyField;
}

export interface ChangeEdit {
  /** Dotted path of the field from the message root. */
  change: string;
  versions?: string;
  nullableVersions?: string;
}

export type LegacyEdit = InsertEdit | ChangeEdit;

export interface LegacyApiEntry {
  api: string;
  apiKey: number;
  /** The restored versions, e.g. "0" or "0-2": they end right below the spec's validVersions. */
  restore: string;
  request?: LegacyEdit[];
  response?: LegacyEdit[];
}

export interface LegacyNotRestored {
  /** Spec name, e.g. "RequestHeader". */
  spec: string;
  versions: string;
  reason: string;
}

export interface LegacySupplement {
  /** Path shown in generated file headers, relative to the repository root. */
  source: string;
  apis: LegacyApiEntry[];
  notRestored: LegacyNotRestored[];
}

/** What the supplement did to one spec. */
export interface LegacyApplied {
  source: string;
  restoredVersions: VersionRange;
}

const INSERT_KEYS = new Set(['in', 'after', 'before', 'insert']);
const CHANGE_KEYS = new Set(['change', 'versions', 'nullableVersions']);
const FIELD_KEYS = new Set(['name', 'type', 'versions', 'nullableVersions', 'default', 'ignorable', 'entityType', 'about', 'fields']);

function fail(msg: string): never {
  throw new Error(`protocol supplement: ${msg}`);
}

function checkKeys(obj: object, allowed: Set<string>, what: string): void {
  for (const k of Object.keys(obj)) if (!allowed.has(k)) fail(`${what}: unknown key "${k}"`);
}

function checkField(f: RawLegacyField, what: string): void {
  checkKeys(f, FIELD_KEYS, what);
  if (typeof f.name !== 'string' || typeof f.type !== 'string' || typeof f.versions !== 'string') {
    fail(`${what}: a field needs string "name", "type" and "versions"`);
  }
  for (const c of f.fields ?? []) checkField(c, `${what}.${c.name}`);
}

/** Reads and checks the supplement's shape; `source` is the path to show in generated headers. */
export function loadLegacySupplement(path: string, source: string): LegacySupplement {
  const raw = JSON.parse(stripComments(readFileSync(path, 'utf8'))) as { apis?: LegacyApiEntry[]; notRestored?: LegacyNotRestored[] };
  checkKeys(raw, new Set(['apis', 'notRestored']), source);
  const apis = raw.apis ?? [];
  const seen = new Set<string>();
  for (const e of apis) {
    checkKeys(e, new Set(['api', 'apiKey', 'restore', 'request', 'response']), `${source} ${e.api}`);
    if (seen.has(e.api)) fail(`${e.api} listed twice`);
    seen.add(e.api);
    if (typeof e.apiKey !== 'number') fail(`${e.api}: apiKey missing`);
    parseVersions(e.restore, `${source} ${e.api}.restore`);
    for (const edit of [...(e.request ?? []), ...(e.response ?? [])]) {
      if ('insert' in edit) {
        checkKeys(edit, INSERT_KEYS, `${e.api} insert`);
        if ((edit.after === undefined) === (edit.before === undefined)) fail(`${e.api} insert ${edit.insert.name}: give exactly one of "after" and "before"`);
        checkField(edit.insert, `${e.api} insert ${edit.insert.name}`);
      } else if ('change' in edit) {
        checkKeys(edit, CHANGE_KEYS, `${e.api} change`);
        if (edit.versions === undefined && edit.nullableVersions === undefined) fail(`${e.api} change ${edit.change}: nothing to change`);
      } else {
        fail(`${e.api}: an edit is either {"insert", "in", "after"|"before"} or {"change", ...}`);
      }
    }
  }
  for (const n of raw.notRestored ?? []) {
    checkKeys(n, new Set(['spec', 'versions', 'reason']), `${source} notRestored`);
    if (typeof n.reason !== 'string' || n.reason === '') fail(`notRestored ${n.spec}: a reason is required`);
  }
  return { source, apis, notRestored: raw.notRestored ?? [] };
}

function rangeText(r: VersionRange): string {
  return r[0] > r[1] ? 'none' : r[1] === VERSION_MAX ? `${r[0]}+` : r[0] === r[1] ? `${r[0]}` : `${r[0]}-${r[1]}`;
}

/** The versions that the spec's comments say were removed, or null if they say none. */
export function removedVersionsNote(text: string): VersionRange | null {
  let found: VersionRange | null = null;
  for (const line of text.split('\n')) {
    if (!/^\s*\/\//.test(line)) continue;
    const m = /\bVersions? (\d+)(?:-(\d+))? (?:was|were) removed in Apache Kafka\b/.exec(line);
    if (m === null) continue;
    const r: VersionRange = [Number(m[1]), Number(m[2] ?? m[1])];
    if (found !== null && (found[0] !== r[0] || found[1] !== r[1])) fail(`conflicting removal notes: ${rangeText(found)} and ${rangeText(r)}`);
    found = r;
  }
  return found;
}

/** Resolves the struct field list at a dotted path (struct fields, inline or common structs). */
function structAt(spec: RawMessage, path: string, what: string): RawField[] {
  let fields = spec.fields ?? [];
  if (path === '') return fields;
  for (const name of path.split('.')) {
    const f = fields.find((x) => x.name === name);
    if (f === undefined) fail(`${what}: no field "${name}" on the path "${path}"`);
    const elem = f.type.startsWith('[]') ? f.type.slice(2) : f.type;
    const next = f.fields ?? spec.commonStructs?.find((s) => s.name === elem)?.fields;
    if (next === undefined) fail(`${what}: "${name}" on the path "${path}" is not a struct`);
    fields = next;
  }
  return fields;
}

function within(inner: VersionRange, outer: VersionRange): boolean {
  return inner[0] > inner[1] || (inner[0] >= outer[0] && inner[1] <= outer[1]);
}

/** The part of range r inside [lo, hi], normalized so that empty ranges compare equal. */
function clip(r: VersionRange, lo: number, hi: number): string {
  const a = Math.max(r[0], lo);
  const b = Math.min(r[1], hi);
  return a > b ? 'none' : `${a}-${b}`;
}

/**
 * Applies the supplement to one raw spec. Returns the spec (edited in place) and what was done,
 * or null when no entry concerns it. `text` is the file's text, for its removal note.
 */
export function applyLegacy(
  supplement: LegacySupplement,
  file: string,
  text: string,
  spec: RawMessage,
): LegacyApplied | null {
  const note = removedVersionsNote(text);
  const isApi = spec.type === 'request' || spec.type === 'response';
  const apiName = spec.name.replace(/(Request|Response)$/, '');
  const entry = isApi ? supplement.apis.find((e) => e.api === apiName) : undefined;
  if (entry === undefined) {
    const skip = supplement.notRestored.find((n) => n.spec === spec.name);
    if (note !== null && skip === undefined) {
      fail(`${file} says versions ${rangeText(note)} were removed; restore them or list ${spec.name} under "notRestored"`);
    }
    if (skip !== undefined) {
      const r = parseVersions(skip.versions, `notRestored ${spec.name}`);
      if (note === null || r[0] !== note[0] || r[1] !== note[1]) {
        fail(`notRestored ${spec.name}: versions ${skip.versions}, but ${file} says ${note === null ? 'no versions' : rangeText(note)} were removed`);
      }
    }
    return null;
  }
  const what = `${supplement.source} ${entry.api} (${file})`;
  if (spec.apiKey !== entry.apiKey) fail(`${what}: apiKey ${entry.apiKey}, but the spec has ${spec.apiKey}`);
  const restored = parseVersions(entry.restore, what);
  const [lo, hi] = parseVersions(spec.validVersions, file);
  if (lo > hi) fail(`${what}: the API was removed entirely (validVersions "none")`);
  if (restored[1] + 1 !== lo) {
    fail(`${what}: restores ${entry.restore}, but the spec's validVersions are ${spec.validVersions}: the restored versions must end right below them (did Kafka restore them itself?)`);
  }
  if (note === null || note[0] !== restored[0] || note[1] !== restored[1]) {
    fail(`${what}: restores ${entry.restore}, but the spec's comments say ${note === null ? 'no versions' : rangeText(note)} were removed`);
  }
  if (hi === VERSION_MAX) fail(`${what}: open validVersions are not expected`);
  spec.validVersions = `${restored[0]}-${hi}`;

  const edits = (spec.type === 'request' ? entry.request : entry.response) ?? [];
  for (const edit of edits) {
    if ('insert' in edit) {
      const f = edit.insert;
      const fieldWhat = `${what} insert ${edit.in === '' ? '' : `${edit.in}.`}${f.name}`;
      const list = structAt(spec, edit.in, fieldWhat);
      if (list.some((x) => x.name === f.name)) fail(`${fieldWhat}: the spec already has this field`);
      const anchor = edit.after ?? edit.before!;
      const at = list.findIndex((x) => x.name === anchor);
      if (at < 0) fail(`${fieldWhat}: no field "${anchor}" to insert ${edit.after !== undefined ? 'after' : 'before'}`);
      // Only versions outside Kafka's current range may gain the field.
      const versions = parseVersions(f.versions, fieldWhat);
      if (!within(versions, restored)) fail(`${fieldWhat}: versions ${f.versions} reach beyond the restored ${entry.restore}`);
      if (!within(parseVersions(f.nullableVersions, fieldWhat), versions)) fail(`${fieldWhat}: nullableVersions outside its versions`);
      list.splice(edit.after !== undefined ? at + 1 : at, 0, structuredClone(f) as RawField);
    } else {
      const parts = edit.change.split('.');
      const name = parts.pop()!;
      const fieldWhat = `${what} change ${edit.change}`;
      const f = structAt(spec, parts.join('.'), fieldWhat).find((x) => x.name === name);
      if (f === undefined) fail(`${fieldWhat}: no such field`);
      for (const key of ['versions', 'nullableVersions'] as const) {
        const next = edit[key];
        if (next === undefined) continue;
        // Only the restored versions may see the change: within Kafka's own range
        // [lo, hi] the field must stay exactly as the spec says.
        if (clip(parseVersions(f[key], fieldWhat), lo, hi) !== clip(parseVersions(next, fieldWhat), lo, hi)) {
          fail(`${fieldWhat}: ${key} ${f[key] ?? 'none'} -> ${next} would change versions ${lo}-${hi}, which Kafka still defines`);
        }
        f[key] = next;
      }
    }
  }
  return { source: supplement.source, restoredVersions: restored };
}

/** Fails for entries that matched no request or no response spec (a renamed or removed API). */
export function checkAllUsed(supplement: LegacySupplement, applied: Array<{ name: string; kind: string }>): void {
  for (const e of supplement.apis) {
    for (const kind of ['request', 'response']) {
      if (!applied.some((a) => a.kind === kind && a.name === `${e.api}${kind === 'request' ? 'Request' : 'Response'}`)) {
        fail(`${e.api}: no ${kind} spec was found for this entry`);
      }
    }
  }
  for (const n of supplement.notRestored) {
    if (!applied.some((a) => a.name === n.spec)) fail(`notRestored ${n.spec}: no such spec`);
  }
}

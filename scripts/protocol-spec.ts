/**
 * Reads Kafka's JSON message definitions into a normalized model.
 *
 * The files are JSON with whole-line `//` comments. Version ranges are "N", "N+", "N-M" or
 * "none"; this model stores them as [lo, hi] with hi = VERSION_MAX for open ranges and
 * [0, -1] for none, so membership is a pair of comparisons.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export const VERSION_MAX = 0x7fff;
export type VersionRange = readonly [number, number];
export const NO_VERSIONS: VersionRange = [0, -1];

export function parseVersions(text: string | undefined, what: string): VersionRange {
  if (text === undefined || text === 'none') return NO_VERSIONS;
  let m = /^(\d+)\+$/.exec(text);
  if (m) return [Number(m[1]), VERSION_MAX];
  m = /^(\d+)-(\d+)$/.exec(text);
  if (m) return [Number(m[1]), Number(m[2])];
  m = /^(\d+)$/.exec(text);
  if (m) return [Number(m[1]), Number(m[1])];
  throw new Error(`${what}: bad version range ${JSON.stringify(text)}`);
}

export function inRange(r: VersionRange, v: number): boolean {
  return v >= r[0] && v <= r[1];
}

export const PRIMITIVES = ['bool', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64', 'string', 'uuid', 'bytes', 'records'] as const;
export type Primitive = (typeof PRIMITIVES)[number];

export function isPrimitive(t: string): t is Primitive {
  return (PRIMITIVES as readonly string[]).includes(t);
}

/** A field after struct references are resolved. */
export interface FieldSpec {
  name: string;
  /** Spec type text, e.g. "int32", "[]string", "[]Topic", "LeaderIdAndEpoch". */
  type: string;
  versions: VersionRange;
  nullableVersions: VersionRange;
  taggedVersions: VersionRange;
  tag: number | null;
  /** Field-level override of the message's flexible versions (RequestHeader.ClientId). */
  flexibleVersions: VersionRange | null;
  default: string | null;
  about: string;
  ignorable: boolean;
  /** For struct and struct-array fields. */
  struct: StructSpec | null;
}

export interface StructSpec {
  /** The struct's type name in the spec ("Topic" of "[]Topic"). */
  specName: string;
  fields: FieldSpec[];
}

export type MessageKind = 'request' | 'response' | 'header' | 'data' | 'coordinator-key' | 'coordinator-value';

export interface MessageSpec {
  /** Path relative to the specs root, e.g. "messages/ProduceRequest.json". */
  file: string;
  /** The supplement that edited this spec (see SpecPatch), or null. */
  supplement: string | null;
  /** Versions below Kafka's own validVersions that a supplement restored, or NO_VERSIONS. */
  restoredVersions: VersionRange;
  name: string;
  kind: MessageKind;
  apiKey: number | null;
  validVersions: VersionRange;
  flexibleVersions: VersionRange;
  latestVersionUnstable: boolean;
  fields: FieldSpec[];
}

/** A field as written in the JSON files. */
export interface RawField {
  name: string;
  type: string;
  versions?: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  flexibleVersions?: string;
  default?: string | number | boolean;
  about?: string;
  ignorable?: boolean;
  fields?: RawField[];
}

/** A message spec as written in the JSON files (comments stripped). */
export interface RawMessage {
  apiKey?: number;
  type: MessageKind;
  name: string;
  validVersions: string;
  flexibleVersions?: string;
  latestVersionUnstable?: boolean;
  fields?: RawField[];
  commonStructs?: Array<{ name: string; versions?: string; fields: RawField[] }>;
}

export function stripComments(text: string): string {
  return text
    .split('\n')
    .map((line) => (/^\s*\/\//.test(line) ? '' : line))
    .join('\n');
}

/**
 * Edits a raw spec before it is normalized, for specs that need versions Kafka no longer
 * defines (scripts/protocol-supplement.ts). Gets the file's path and text (for its comments)
 * and returns what it did, or null to leave the spec as it is.
 */
export type SpecPatch = (file: string, text: string, raw: RawMessage) => { source: string; restoredVersions: VersionRange } | null;

function parseMessage(file: string, raw: RawMessage, patched: ReturnType<SpecPatch>): MessageSpec {
  const common = new Map<string, RawField[]>();
  for (const s of raw.commonStructs ?? []) common.set(s.name, s.fields);
  const structs = new Map<string, StructSpec>();

  const field = (f: RawField, where: string): FieldSpec => {
    const what = `${file} ${where}.${f.name}`;
    const elem = f.type.startsWith('[]') ? f.type.slice(2) : f.type;
    let struct: StructSpec | null = null;
    if (!isPrimitive(elem)) {
      const rawFields = f.fields ?? common.get(elem);
      if (rawFields === undefined) throw new Error(`${what}: unknown struct type ${elem}`);
      struct = structs.get(elem) ?? null;
      if (struct === null) {
        struct = { specName: elem, fields: [] };
        structs.set(elem, struct);
        struct.fields = rawFields.map((c) => field(c, `${where}.${f.name}`));
      } else if (f.fields !== undefined && !common.has(elem)) {
        throw new Error(`${what}: struct ${elem} defined twice`);
      }
    } else if (f.fields !== undefined) {
      throw new Error(`${what}: primitive with fields`);
    }
    const versions = parseVersions(f.versions, what);
    const taggedVersions = parseVersions(f.taggedVersions, what);
    if ((f.tag === undefined) !== (f.taggedVersions === undefined)) throw new Error(`${what}: tag without taggedVersions or the reverse`);
    return {
      name: f.name,
      type: f.type,
      versions,
      nullableVersions: parseVersions(f.nullableVersions, what),
      taggedVersions,
      tag: f.tag ?? null,
      flexibleVersions: f.flexibleVersions === undefined ? null : parseVersions(f.flexibleVersions, what),
      default: f.default === undefined ? null : String(f.default),
      about: f.about ?? '',
      ignorable: f.ignorable ?? false,
      struct,
    };
  };

  return {
    file,
    supplement: patched?.source ?? null,
    restoredVersions: patched?.restoredVersions ?? NO_VERSIONS,
    name: raw.name,
    kind: raw.type,
    apiKey: raw.apiKey ?? null,
    validVersions: parseVersions(raw.validVersions, file),
    flexibleVersions: parseVersions(raw.flexibleVersions, file),
    latestVersionUnstable: raw.latestVersionUnstable ?? false,
    fields: (raw.fields ?? []).map((f) => field(f, raw.name)),
  };
}

/**
 * Loads every spec under root (messages/ and internal/), sorted by path for stable output,
 * letting `patch` edit each raw spec first.
 */
export function loadSpecs(root: string, patch?: SpecPatch): MessageSpec[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.json')) files.push(path);
    }
  };
  walk(join(root, 'messages'));
  walk(join(root, 'internal'));
  return files.map((path) => {
    const file = relative(root, path).split('\\').join('/');
    const text = readFileSync(path, 'utf8');
    const raw = JSON.parse(stripComments(text)) as RawMessage;
    return parseMessage(file, raw, patch === undefined ? null : patch(file, text, raw));
  });
}

/**
 * `npm run gen:protocol`: generates src/protocol/messages/ from Kafka's JSON message specs.
 * `npm run check:protocol` (`--check`): regenerates in memory and fails if the committed
 * files differ, so the committed code can never drift from the specs.
 *
 * The specs are read from $FERRY_KAFKA_PROTOCOL_DIR, default ../shared/kafka-protocol
 * (relative to the repository root). Nothing else in the project reads them.
 *
 * The second input is scripts/protocol-legacy.json: the API versions that Apache Kafka 4.0
 * removed from its specs (KIP-896) but that older clients still send, restored with the
 * fields that only those versions had (scripts/protocol-supplement.ts applies it). The
 * generated files that it touched name it in their "Sources" line, and the drift check
 * covers it like the specs.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GENERATED_MARK, MessageEmitter, kebab, lowerFirst, sha256, versionSwitch } from './protocol-codegen.js';
import { type FieldSpec, type MessageSpec, VERSION_MAX, loadSpecs } from './protocol-spec.js';
import { applyLegacy, checkAllUsed, loadLegacySupplement } from './protocol-supplement.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OUTPUT_DIR = join(repoRoot, 'src', 'protocol', 'messages');
/** The supplement restoring removed API versions; an input of the generator like the specs. */
export const LEGACY_SUPPLEMENT = join(repoRoot, 'scripts', 'protocol-legacy.json');

export function specsDir(): string {
  return resolve(repoRoot, process.env.FERRY_KAFKA_PROTOCOL_DIR ?? '../shared/kafka-protocol');
}

const IMPORTABLE: Array<[string, string]> = [
  ['ByteReader', '../byte-reader.js'],
  ['EMPTY', '../byte-reader.js'],
  ['ZERO_UUID', '../byte-reader.js'],
  ['ByteWriter', '../byte-writer.js'],
  ['uvarintSize', '../byte-writer.js'],
  ['stringSize', '../byte-writer.js'],
  ['nullableStringSize', '../byte-writer.js'],
  ['compactStringSize', '../byte-writer.js'],
  ['compactNullableStringSize', '../byte-writer.js'],
  ['compactBytesSize', '../byte-writer.js'],
  ['compactNullableBytesSize', '../byte-writer.js'],
  ['ProtocolError', '../protocol-error.js'],
  ['notNull', '../protocol-error.js'],
  ['EncodeError', '../protocol-error.js'],
];

function importsFor(body: string, depth: number): string {
  const byModule = new Map<string, string[]>();
  for (const [name, mod] of IMPORTABLE) {
    if (!new RegExp(`\\b${name}\\b`).test(body)) continue;
    const path = depth === 0 ? mod : mod.replace('../', '../'.repeat(depth + 1));
    const list = byModule.get(path) ?? [];
    list.push(name);
    byModule.set(path, list);
  }
  const lines = [...byModule].map(([mod, names]) => `import { ${names.join(', ')} } from '${mod}';`);
  const codecTypes = ['ApiCodec', 'DataCodec'].filter((n) => new RegExp(`\\b${n}<`).test(body));
  if (codecTypes.length) lines.unshift(`import type { ${codecTypes.join(', ')} } from '${depth === 0 ? '../' : '../'.repeat(depth + 1)}api-codec.js';`);
  return lines.join('\n');
}

/** Wraps a generated body with the header and a hash that lets tests detect hand edits. */
function fileText(sources: string[], body: string, depth: number): string {
  const content = `${importsFor(body, depth)}\n\n${body.trimEnd()}\n`;
  return `${GENERATED_MARK}\n// Sources: ${sources.join(', ')}\n// Content-SHA256: ${sha256(content)}\n\n${content}`;
}

/** The spec files of a generated file, then any supplement that edited them. */
function sourcesOf(specs: MessageSpec[]): string[] {
  const supplements = specs.map((s) => s.supplement).filter((x): x is string => x !== null);
  return [...specs.map((s) => s.file), ...new Set(supplements)];
}

function unsupported(what: string): string {
  return `throw new ProtocolError(\`${what} version \${version} is not supported\`);`;
}

function apiFile(req: MessageSpec, res: MessageSpec): { name: string; text: string; exportName: string } {
  const apiName = req.name.replace(/Request$/, '');
  const reqEm = new MessageEmitter(req, req.name);
  const resEm = new MessageEmitter(res, res.name);
  const reqVersions = reqEm.generateVersions();
  const resVersions = resEm.generateVersions();
  const [lo, hi] = req.validVersions;
  if (res.validVersions[0] !== lo || res.validVersions[1] !== hi) throw new Error(`${apiName}: request and response versions differ`);
  const [rlo, rhi] = req.restoredVersions;
  const restored = rlo <= rhi ? ` (${rlo === rhi ? `version ${rlo}` : `versions ${rlo}-${rhi}`} restored by ${req.supplement})` : '';
  const firstFlexible = req.flexibleVersions[0] <= req.flexibleVersions[1] ? req.flexibleVersions[0] : -1;
  const resFlexible = res.flexibleVersions[0] <= res.flexibleVersions[1] ? res.flexibleVersions[0] : -1;
  const exportName = `${apiName}Api`;
  const sw = (m: Map<number, string>, call: (n: string) => string, what: string): string =>
    `    switch (version) {\n${versionSwitch(m, call, '      ')}\n    }\n    ${unsupported(what)}`;
  const codec = `/** ${apiName} (API key ${req.apiKey}), versions ${lo}-${hi}${restored}. */
export const ${exportName}: ApiCodec<${req.name}, ${res.name}> = {
  apiKey: ${req.apiKey},
  name: '${apiName}',
  minVersion: ${lo},
  maxVersion: ${hi},
  firstFlexibleVersion: ${firstFlexible},
  latestVersionUnstable: ${req.latestVersionUnstable},
  requestHeaderVersion(${firstFlexible >= 0 ? 'version' : '_version'}: number): number {
    return ${firstFlexible >= 0 ? `version >= ${firstFlexible} ? 2 : 1` : '1'};
  },
  responseHeaderVersion(${req.apiKey === 18 || resFlexible < 0 ? '_version' : 'version'}: number): number {
    ${req.apiKey === 18 ? '// ApiVersions responses always use header v0 (KIP-511), so a client that\n    // sent a version the broker does not know can still read the error.\n    return 0;' : resFlexible >= 0 ? `return version >= ${resFlexible} ? 1 : 0;` : 'return 0;'}
  },
  readRequest(version: number, r: ByteReader): ${req.name} {
${sw(reqVersions, (n) => `return read${n}(r);`, `${apiName} request`)}
  },
  sizeRequest(version: number, m: ${req.name}, w: ByteWriter): number {
${sw(reqVersions, (n) => `return size${n}(m, w);`, `${apiName} request`)}
  },
  writeRequest(version: number, m: ${req.name}, w: ByteWriter): void {
${sw(reqVersions, (n) => `return write${n}(m, w);`, `${apiName} request`)}
  },
  readResponse(version: number, r: ByteReader): ${res.name} {
${sw(resVersions, (n) => `return read${n}(r);`, `${apiName} response`)}
  },
  sizeResponse(version: number, m: ${res.name}, w: ByteWriter): number {
${sw(resVersions, (n) => `return size${n}(m, w);`, `${apiName} response`)}
  },
  writeResponse(version: number, m: ${res.name}, w: ByteWriter): void {
${sw(resVersions, (n) => `return write${n}(m, w);`, `${apiName} response`)}
  },
};`;
  const body = [...reqEm.declarations(), ...resEm.declarations(), codec].join('\n\n');
  const name = `${String(req.apiKey).padStart(2, '0')}-${kebab(apiName)}.ts`;
  return { name, exportName, text: fileText(sourcesOf([req, res]), body, 0) };
}

function dataFile(spec: MessageSpec, dir: string): { name: string; text: string; exportName: string } {
  const em = new MessageEmitter(spec, spec.name);
  const versions = em.generateVersions();
  const exportName = `${spec.name}Codec`;
  const [lo, hi] = spec.validVersions;
  const sw = (call: (n: string) => string): string =>
    `    switch (version) {\n${versionSwitch(versions, call, '      ')}\n    }\n    ${unsupported(spec.name)}`;
  const codec = `export const ${exportName}: DataCodec<${spec.name}> = {
  name: '${spec.name}',
  minVersion: ${lo},
  maxVersion: ${hi},
  recordType: ${spec.apiKey ?? -1},
  read(version: number, r: ByteReader): ${spec.name} {
${sw((n) => `return read${n}(r);`)}
  },
  size(version: number, m: ${spec.name}, w: ByteWriter): number {
${sw((n) => `return size${n}(m, w);`)}
  },
  write(version: number, m: ${spec.name}, w: ByteWriter): void {
${sw((n) => `return write${n}(m, w);`)}
  },
};`;
  const body = [...em.declarations(), codec].join('\n\n');
  return { name: `${dir}${kebab(spec.name)}.ts`, exportName, text: fileText(sourcesOf([spec]), body, dir === '' ? 0 : 1) };
}

// ---- schema data for tests -----------------------------------------------------------------

function fieldSchema(f: FieldSpec): unknown {
  const out: Record<string, unknown> = {
    name: f.name,
    prop: lowerFirst(f.name),
    type: f.type,
    versions: f.versions,
  };
  if (f.nullableVersions[0] <= f.nullableVersions[1]) out.nullableVersions = f.nullableVersions;
  if (f.tag !== null) {
    out.tag = f.tag;
    out.taggedVersions = f.taggedVersions;
  }
  if (f.flexibleVersions !== null) out.flexibleVersions = f.flexibleVersions;
  if (f.default !== null) out.default = f.default;
  if (f.struct !== null) out.fields = f.struct.fields.map(fieldSchema);
  return out;
}

function schemaFile(specs: MessageSpec[]): string {
  const data = specs
    .filter((s) => s.validVersions[0] <= s.validVersions[1])
    .map((s) => ({
      file: s.file,
      name: s.name,
      kind: s.kind,
      apiKey: s.apiKey,
      validVersions: s.validVersions,
      ...(s.restoredVersions[0] <= s.restoredVersions[1] ? { restoredVersions: s.restoredVersions } : {}),
      flexibleVersions: s.flexibleVersions,
      fields: s.fields.map(fieldSchema),
    }));
  const supplements = [...new Set(specs.map((s) => s.supplement).filter((x): x is string => x !== null))];
  const body = `/**
 * The message specs as data, for tests that derive values and expectations from the schema
 * independently of the generated straight-line code. Version ranges are [lo, hi] with
 * hi = ${VERSION_MAX} for open ranges. The specs are as the generator saw them, with the
 * supplement that restores removed versions (${supplements.join(', ') || 'none'}) applied.
 */
export interface FieldSchema {
  name: string;
  prop: string;
  type: string;
  versions: readonly [number, number];
  nullableVersions?: readonly [number, number];
  tag?: number;
  taggedVersions?: readonly [number, number];
  flexibleVersions?: readonly [number, number];
  default?: string;
  fields?: readonly FieldSchema[];
}

export interface MessageSchema {
  file: string;
  name: string;
  kind: 'request' | 'response' | 'header' | 'data' | 'coordinator-key' | 'coordinator-value';
  apiKey: number | null;
  validVersions: readonly [number, number];
  /** Versions below Kafka's current validVersions restored by the supplement, if any. */
  restoredVersions?: readonly [number, number];
  flexibleVersions: readonly [number, number];
  fields: readonly FieldSchema[];
}

export const MESSAGE_SCHEMAS: readonly MessageSchema[] = ${JSON.stringify(data, null, 1)};
`;
  return fileText(['all specs', ...supplements], body, 0);
}

// ---- the whole output ------------------------------------------------------------------------

export function generate(specRoot: string, supplementPath = LEGACY_SUPPLEMENT): Map<string, string> {
  const supplement = loadLegacySupplement(supplementPath, relative(repoRoot, supplementPath).split('\\').join('/'));
  const specs = loadSpecs(specRoot, (file, text, raw) => applyLegacy(supplement, file, text, raw));
  checkAllUsed(supplement, specs.map((s) => ({ name: s.name, kind: s.kind })));
  const files = new Map<string, string>();
  const requests = new Map<number, MessageSpec>();
  const responses = new Map<number, MessageSpec>();
  const exports: Array<{ module: string; name: string; kind: 'api' | 'data' | 'header'; apiKey: number | null }> = [];
  const typeNames = new Map<string, string>();

  for (const s of specs) {
    if (s.validVersions[0] > s.validVersions[1]) continue; // removed APIs such as ControlledShutdown
    if (s.kind === 'request') requests.set(s.apiKey!, s);
    else if (s.kind === 'response') responses.set(s.apiKey!, s);
  }
  for (const [key, req] of [...requests].sort((a, b) => a[0] - b[0])) {
    const res = responses.get(key);
    if (res === undefined) throw new Error(`API ${key} has no response spec`);
    const f = apiFile(req, res);
    files.set(f.name, f.text);
    exports.push({ module: f.name, name: f.exportName, kind: 'api', apiKey: key });
  }
  for (const s of specs) {
    if (s.validVersions[0] > s.validVersions[1] || s.kind === 'request' || s.kind === 'response') continue;
    const dir = s.file.startsWith('internal/') ? 'internal/' : s.kind === 'header' ? '' : 'data/';
    const f = dataFile(s, dir);
    files.set(f.name, f.text);
    exports.push({ module: f.name, name: f.exportName, kind: s.kind === 'header' ? 'header' : 'data', apiKey: null });
  }
  // Every exported identifier must be unique across modules, since index.ts re-exports all.
  for (const [name, text] of files) {
    for (const m of text.matchAll(/^export (?:interface|const|function) (\w+)/gm)) {
      const prev = typeNames.get(m[1]!);
      if (prev !== undefined) throw new Error(`${m[1]} is exported by both ${prev} and ${name}`);
      typeNames.set(m[1]!, name);
    }
  }

  const apis = exports.filter((e) => e.kind === 'api');
  const index = `${exports.map((e) => `export * from './${e.module.replace(/\.ts$/, '.js')}';`).join('\n')}
${apis.map((e) => `import { ${e.name} } from './${e.module.replace(/\.ts$/, '.js')}';`).join('\n')}

/** Every API in the specs, by key. */
export const API_CODECS: ReadonlyMap<number, ApiCodec<unknown, unknown>> = new Map<number, ApiCodec<unknown, unknown>>([
${apis.map((e) => `  [${e.apiKey}, ${e.name}],`).join('\n')}
]);

/** API keys by name. */
export const ApiKey = {
${apis.map((e) => `  ${e.name.replace(/Api$/, '')}: ${e.apiKey},`).join('\n')}
} as const;
`;
  files.set('index.ts', fileText(['all specs'], index, 0));
  files.set('schema.ts', schemaFile(specs));
  return files;
}

function listExisting(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) out.push(...listExisting(join(dir, entry.name), `${prefix}${entry.name}/`));
    else if (entry.name.endsWith('.ts')) out.push(`${prefix}${entry.name}`);
  }
  return out.sort();
}

/**
 * Returns the differences between committed files and what the generator produces from the
 * specs and the supplement.
 */
export function drift(specRoot: string, outDir = OUTPUT_DIR, supplementPath = LEGACY_SUPPLEMENT): string[] {
  const files = generate(specRoot, supplementPath);
  const problems: string[] = [];
  for (const [name, text] of files) {
    const path = join(outDir, name);
    if (!existsSync(path)) problems.push(`missing: ${name}`);
    else if (readFileSync(path, 'utf8') !== text) problems.push(`differs: ${name}`);
  }
  for (const name of listExisting(outDir)) if (!files.has(name)) problems.push(`not generated: ${name}`);
  return problems;
}

function main(): void {
  const root = specsDir();
  if (!existsSync(join(root, 'messages'))) {
    console.error(`Kafka message specs not found at ${root} (set FERRY_KAFKA_PROTOCOL_DIR)`);
    process.exit(2);
  }
  if (process.argv.includes('--check')) {
    const problems = drift(root);
    if (problems.length > 0) {
      console.error(`src/protocol/messages is out of date with ${root} and ${relative(process.cwd(), LEGACY_SUPPLEMENT)}; run npm run gen:protocol\n  ${problems.join('\n  ')}`);
      process.exit(1);
    }
    console.log(`src/protocol/messages matches the specs at ${root} and ${relative(process.cwd(), LEGACY_SUPPLEMENT)}`);
    return;
  }
  const files = generate(root);
  rmSync(OUTPUT_DIR, { recursive: true, force: true });
  for (const [name, text] of files) {
    const path = join(OUTPUT_DIR, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  console.log(`generated ${files.size} files in ${relative(process.cwd(), OUTPUT_DIR)} from ${root} and ${relative(process.cwd(), LEGACY_SUPPLEMENT)}`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();

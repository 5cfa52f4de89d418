/**
 * `npm run fuzz:protocol`: the decoder fuzz of test/protocol/decode-fuzz.test.ts, for longer.
 * Runs for FERRY_FUZZ_SECONDS (default 120) with fresh seeds, round-robin over every API
 * version, and exits non-zero on the first decoder that fails with anything other than
 * ProtocolError, printing the seed to reproduce it.
 */
import fc from 'fast-check';
import { mutatedProperty, randomBytesProperty } from '../test/protocol/fuzz-cases.js';
import { API_SCHEMAS, versions } from '../test/protocol/schema-arbitraries.js';

const seconds = Number(process.env.FERRY_FUZZ_SECONDS ?? 120);
const deadline = Date.now() + seconds * 1000;
const targets = API_SCHEMAS.flatMap((s) => versions(s).map((v) => ({ s, v })));
let cases = 0;
let round = 0;
while (Date.now() < deadline) {
  for (const { s, v } of targets) {
    const seed = (Date.now() ^ (round * 7919)) | 0;
    for (const property of [randomBytesProperty(s, v), mutatedProperty(s, v)]) {
      const result = fc.check(property as fc.IProperty<unknown[]>, { numRuns: 200, seed });
      cases += result.numRuns;
      if (result.failed) {
        console.error(`${s.name} v${v} failed with seed ${seed}:\n${fc.defaultReportMessage(result)}`);
        process.exit(1);
      }
    }
    if (Date.now() >= deadline) break;
  }
  round++;
}
console.log(`fuzzed ${targets.length} decoders with ${cases} inputs in ${seconds}s: only ProtocolError`);

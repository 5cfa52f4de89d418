// The generated codec must be exactly what the generator makes from the specs.
//  - Always: every generated file still hashes to the Content-SHA256 in its header, so a
//    hand edit fails the suite even where the specs are not around.
//  - Where the specs are (CI, and any checkout beside ../shared): the generator is run in
//    memory and its output compared with the committed files, byte for byte.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { GENERATED_MARK, sha256 } from '../../scripts/protocol-codegen.js';
import { OUTPUT_DIR, drift, specsDir } from '../../scripts/gen-protocol.js';

function generatedFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? generatedFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

test('generated files carry the do-not-edit mark and an intact content hash', () => {
  const files = generatedFiles(OUTPUT_DIR);
  assert.ok(files.length > 100, `expected the generated codec, found ${files.length} files`);
  for (const path of files) {
    const text = readFileSync(path, 'utf8');
    const [mark, , hashLine] = text.split('\n', 3);
    assert.equal(mark, GENERATED_MARK, path);
    const m = /^\/\/ Content-SHA256: ([0-9a-f]{64})$/.exec(hashLine ?? '');
    assert.ok(m, `${path}: no content hash`);
    const content = text.slice(text.indexOf('\n\n') + 2);
    assert.equal(sha256(content), m[1], `${path} was edited by hand; change the generator and run npm run gen:protocol`);
  }
});

test('committed code equals the generator output for the specs', (t) => {
  const root = specsDir();
  if (!existsSync(join(root, 'messages'))) {
    // Outside this workspace the specs may be absent; CI always has them and also runs
    // npm run check:protocol, which fails rather than passes when they are missing.
    t.diagnostic(`specs not found at ${root}: drift check not possible here`);
    assert.fail(`Kafka message specs not found at ${root}; set FERRY_KAFKA_PROTOCOL_DIR`);
  }
  assert.deepEqual(drift(root), []);
});

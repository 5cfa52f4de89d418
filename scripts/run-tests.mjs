#!/usr/bin/env node
// Runs every compiled test file under dist/test with Node's test runner and the TAP
// reporter, whose closing lines ("# pass N", "# fail 0") CI reads.
//
//   node scripts/run-tests.mjs [FILTER]            the *.test.js files (npm test)
//   node scripts/run-tests.mjs --compat [FILTER]   the *.compat.js files: the real-client
//                                                  suite (npm run test:compat), one file at a time
// FILTER keeps the files whose path contains it, e.g. `compat/clients/kcat`.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const compat = args.includes('--compat');
const suffix = compat ? '.compat.js' : '.test.js';

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...find(path));
    else if (name.endsWith(suffix)) out.push(path);
  }
  return out;
}

const filter = args.find((a) => !a.startsWith('--'));
const files = find('dist/test').filter((f) => !filter || f.includes(filter));
if (files.length === 0) {
  console.error(`no ${suffix} files found under dist/test${filter ? ` matching ${filter}` : ''}`);
  process.exit(1);
}
// The compat files each start a broker and drive real clients: one at a time keeps their
// timing independent of the machine's core count.
// A test that hangs fails after this long instead of stalling CI until its deadline.
const runnerArgs = compat ? ['--test-concurrency=1', '--test-timeout=600000'] : ['--test-timeout=300000'];
const result = spawnSync(process.execPath, ['--test', '--test-reporter=tap', ...runnerArgs, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);

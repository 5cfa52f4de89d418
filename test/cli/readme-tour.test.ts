/**
 * Runs README.md's "Five-minute tour" as written: every `$ ` line of its shell blocks, in
 * order, against a fresh broker, and compares each command's output with the lines the README
 * shows under it. The only changes made to the commands:
 * - `npx ferry` runs this checkout's bin/ferry.js;
 * - `ferry start` gets `--port 0` and a temporary data directory (port 9092 may be taken on the
 *   machine running the tests) and group.initial.rebalance.delay.ms=0 (the 3 s the README
 *   mentions would only slow the test), and every other ferry command gets `--bootstrap` with
 *   that broker's address.
 * Output is compared line by line with runs of spaces collapsed; for `consume` commands as a
 * set of lines, since records of different partitions may arrive in any order (the README
 * says so).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FERRY_BIN, PROJECT_ROOT, type Running, lines, shell, spawnFerry, waitFor } from './cli-harness.js';

interface Step {
  command: string;
  expected: string[];
}

/** The `$ ` commands of the tour's sh blocks, each with the output lines shown under it. */
function tourSteps(readme: string): Step[] {
  const start = readme.indexOf('\n## Five-minute tour\n');
  assert.ok(start >= 0, 'README.md has a "## Five-minute tour" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const steps: Step[] = [];
  for (const block of section.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of block[1]!.split('\n')) {
      if (line.startsWith('$ ')) steps.push({ command: line.slice(2), expected: [] });
      else if (line !== '' || steps.length > 0) steps[steps.length - 1]?.expected.push(line);
    }
  }
  for (const s of steps) while (s.expected.length > 0 && s.expected[s.expected.length - 1] === '') s.expected.pop();
  return steps;
}

const normalize = (l: string): string => l.replace(/\s+/g, ' ').trim();

test('README five-minute tour: every command runs and prints what the README shows', async () => {
  const steps = tourSteps(readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8'));
  assert.ok(steps.length >= 8, `the tour has its commands (${steps.length} found)`);
  assert.equal(steps[0]!.command, 'npx ferry start', 'the tour starts the broker first');
  const kinds = steps.map((s) => s.command);
  for (const needed of [/ferry topic create/, /ferry produce/, /ferry consume .*--group/, /ferry group describe/, /ferry group reset-offsets .*--execute/]) {
    assert.ok(
      kinds.some((c) => needed.test(c)),
      `the tour shows ${needed}`,
    );
  }

  const dataDir = mkdtempSync(join(tmpdir(), 'ferry-tour-'));
  let broker: Running | null = null;
  try {
    broker = spawnFerry(['start', '--port', '0', '--data-dir', dataDir, '--group.initial.rebalance.delay.ms=0']);
    await waitFor(() => /listening on [\d.]+:\d+\n/.test(broker!.stdout()), 'the broker to listen');
    const port = Number(/listening on [\d.]+:(\d+)/.exec(broker.stdout())![1]);
    assert.deepEqual(lines(broker.stdout()).map(normalize), steps[0]!.expected.map((l) => normalize(l.replace(':9092', `:${port}`))));

    for (const step of steps.slice(1)) {
      assert.match(step.command, /^(.*\| )?npx ferry [^|]*$/, `a tour command runs ferry last in its pipeline: ${step.command}`);
      const command = `${step.command.replace('npx ferry', `"${process.execPath}" "${FERRY_BIN}"`)} --bootstrap 127.0.0.1:${port}`;
      const r = await shell(command, { timeoutMs: 30_000 });
      assert.equal(r.code, 0, `${step.command}: ${r.stderr}`);
      assert.equal(r.stderr, '', step.command);
      let got = lines(r.stdout).map(normalize);
      let want = step.expected.map(normalize);
      if (/ferry consume/.test(step.command)) {
        got = got.sort();
        want = want.sort();
      }
      assert.deepEqual(got, want, step.command);
    }
  } finally {
    if (broker !== null) {
      broker.child.kill('SIGINT');
      const stopped = await broker.exited;
      assert.equal(stopped.code, 0, `Ctrl-C stops the broker cleanly: ${stopped.stderr}`);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
});

/**
 * Runs the real `ferry` binary (bin/ferry.js, which loads the compiled dist/) as a child
 * process, against a real broker started in this process on a free port.
 *
 * The broker runs in the test's own event loop, so the binary is always spawned
 * asynchronously: a synchronous spawn would block the loop and the broker would never answer.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Broker, type StartBrokerOptions, startBroker } from '../../src/broker/broker.js';

/** The repository's root: this file runs as dist/test/cli/cli-harness.js. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const FERRY_BIN = join(PROJECT_ROOT, 'bin', 'ferry.js');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time of the process. */
  ms: number;
}

export interface RunOptions {
  /** Written to stdin, which is then closed; without it stdin is empty. */
  input?: string;
  timeoutMs?: number;
  cwd?: string;
}

/** Runs `ferry ARGS...` to completion. */
export function ferry(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return runProcess(process.execPath, [FERRY_BIN, ...args], options);
}

/** Runs a shell command line (for pipelines quoted from the README). */
export function shell(command: string, options: RunOptions = {}): Promise<RunResult> {
  return runProcess('/bin/sh', ['-c', command], options);
}

function runProcess(cmd: string, args: string[], options: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(cmd, args, { stdio: 'pipe', cwd: options.cwd ?? PROJECT_ROOT, env: { ...process.env, FERRY_DEBUG: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** Runs `ferry ARGS...` and fails the test (with its stderr) unless it exits 0; returns stdout. */
export async function ferryOk(args: string[], options: RunOptions = {}): Promise<string> {
  const r = await ferry(args, options);
  if (r.code !== 0) throw new Error(`ferry ${args.join(' ')} exited ${r.code ?? r.signal}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** A long-running `ferry` process (consume without --count) with its output so far. */
export interface Running {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  exited: Promise<RunResult>;
}

export function spawnFerry(args: string[]): Running {
  const started = Date.now();
  const child = spawn(process.execPath, [FERRY_BIN, ...args], { stdio: 'pipe', cwd: PROJECT_ROOT });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<RunResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - started })));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

export interface CliBroker {
  broker: Broker;
  bootstrap: string;
  /** `--bootstrap HOST:PORT`, to append to a command's arguments. */
  at: string[];
  close(): Promise<void>;
}

export async function startCliBroker(settings: StartBrokerOptions['settings'] = {}): Promise<CliBroker> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ferry-cli-'));
  // A group rebalances at once: the 3 s wait for more members would only slow the tests.
  const broker = await startBroker({ port: 0, dataDir, log: () => undefined, settings: { 'group.initial.rebalance.delay.ms': 0, ...settings } });
  const bootstrap = `127.0.0.1:${broker.port}`;
  return {
    broker,
    bootstrap,
    at: ['--bootstrap', bootstrap],
    async close() {
      await broker.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

let counter = 0;
/** A topic or group name unique within the run. */
export function unique(prefix: string): string {
  return `${prefix}-${process.pid}-${++counter}`;
}

/** Waits until `check` is true, polling; fails after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The lines of a command's output, without the empty one after the last newline. */
export function lines(text: string): string[] {
  return text.split('\n').filter((l, i, all) => !(l === '' && i === all.length - 1));
}

/**
 * A real Ferry broker on a free port and a temporary directory, for the client tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Broker, type StartBrokerOptions, startBroker } from '../../src/broker/broker.js';

export interface TestBroker {
  broker: Broker;
  bootstrap: string;
  close(): Promise<void>;
}

export async function startTestBroker(settings: StartBrokerOptions['settings'] = {}): Promise<TestBroker> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ferry-client-'));
  // Groups rebalance at once in tests: the 3 s wait for more members would only slow them down.
  const broker = await startBroker({ port: 0, dataDir, log: () => undefined, settings: { 'group.initial.rebalance.delay.ms': 0, ...settings } });
  return {
    broker,
    bootstrap: `127.0.0.1:${broker.port}`,
    async close() {
      await broker.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A topic name unique within the test run. */
let counter = 0;
export function uniqueTopic(prefix: string): string {
  return `${prefix}-${process.pid}-${++counter}`;
}

/** Waits until `check` returns true, polling; fails after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

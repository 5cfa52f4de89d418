/**
 * The TypeScript end of the Python drivers (py/*.py, protocol in py/driver_common.py): one
 * long-running `/usr/bin/python3 py/<driver>.py BOOTSTRAP` process per client, answering JSON
 * requests one line each. Every request has a time limit; a driver that exceeds it is killed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { ClientError, INSTALL_HINT, PY_DIR, SYSTEM_PYTHON, tail, track, withTimeout } from './harness.js';

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class PyDriver {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buffered = '';
  private stderrText = '';
  private exited = false;
  private readonly exitPromise: Promise<void>;
  private helloWaiter: Pending | null = null;

  private constructor(
    private readonly child: ChildProcess,
    readonly script: string,
  ) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => this.onData(d));
    child.stderr!.on('data', (d: Buffer) => {
      this.stderrText = tail(this.stderrText + d.toString('utf8'), 32_000);
    });
    child.stdin!.on('error', () => undefined);
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exited = true;
        const e = new Error(`${script} exited (code ${code}, signal ${signal}):\n${tail(this.stderrText)}`);
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
        this.helloWaiter?.reject(e);
        resolve();
      });
    });
  }

  /** Starts a driver and waits for its hello line; a missing client fails with the install hint. */
  static async start(script: string, args: string[], timeoutMs = 30_000): Promise<{ driver: PyDriver; hello: Record<string, unknown> }> {
    const child = track(spawn(SYSTEM_PYTHON, ['-B', '-u', join(PY_DIR, script), ...args], { stdio: ['pipe', 'pipe', 'pipe'], cwd: PY_DIR }));
    const spawnError = new Promise<never>((_, reject) =>
      child.once('error', (e: NodeJS.ErrnoException) =>
        reject(e.code === 'ENOENT' ? new Error(`${SYSTEM_PYTHON} is missing: ${INSTALL_HINT}`) : e),
      ),
    );
    const driver = new PyDriver(child, script);
    const hello = new Promise<unknown>((resolve, reject) => (driver.helloWaiter = { resolve, reject }));
    let h: Record<string, unknown>;
    try {
      h = (await withTimeout(Promise.race([hello, spawnError]), timeoutMs, `${script} start`)) as Record<string, unknown>;
    } catch (e) {
      child.kill('SIGKILL');
      throw e;
    }
    if (h['ready'] !== true) {
      child.kill('SIGKILL');
      throw new Error(`${String(h['error'])}: ${INSTALL_HINT}`);
    }
    return { driver, hello: h };
  }

  private onData(d: string): void {
    this.buffered += d;
    for (let nl = this.buffered.indexOf('\n'); nl >= 0; nl = this.buffered.indexOf('\n')) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      if (line.trim() === '') continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        this.stderrText += `\n[stdout, not JSON] ${line.slice(0, 500)}`;
        continue;
      }
      if ('ready' in msg) {
        this.helloWaiter?.resolve(msg);
        this.helloWaiter = null;
        continue;
      }
      const p = this.pending.get(msg['id'] as number);
      if (p === undefined) continue;
      this.pending.delete(msg['id'] as number);
      if (msg['ok'] === true) p.resolve(msg['result']);
      else {
        const info = (msg['error'] ?? {}) as Record<string, unknown>;
        const { traceback, ...rest } = info;
        p.reject(new ClientError(`${this.script}: ${JSON.stringify(rest)}${traceback ? `\n${String(traceback)}` : ''}`, info));
      }
    }
  }

  /** Sends a request; rejects with ClientError when the client raised, or after timeoutMs (killing the driver). */
  async request<T>(op: string, args: object, timeoutMs = 60_000): Promise<T> {
    if (this.exited) throw new Error(`${this.script} is not running:\n${tail(this.stderrText)}`);
    const id = this.nextId++;
    const answer = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.child.stdin!.write(JSON.stringify({ id, op, args }) + '\n');
    try {
      return (await withTimeout(answer, timeoutMs, `${this.script} ${op}`)) as T;
    } catch (e) {
      if (!(e instanceof ClientError) && !this.exited) {
        this.child.kill('SIGKILL');
        throw new Error(`${(e as Error).message}; driver killed. Its stderr:\n${tail(this.stderrText)}`);
      }
      throw e;
    }
  }

  get stderr(): string {
    return this.stderrText;
  }

  /** Asks the driver to close its clients and exit; kills it if that takes over timeoutMs. */
  async close(timeoutMs = 20_000): Promise<void> {
    if (this.exited) return;
    try {
      await this.request('exit', {}, timeoutMs);
      await withTimeout(this.exitPromise, 5_000, `${this.script} exit`);
    } catch {
      this.child.kill('SIGKILL');
      await withTimeout(this.exitPromise, 5_000, `${this.script} kill`).catch(() => undefined);
    }
  }
}

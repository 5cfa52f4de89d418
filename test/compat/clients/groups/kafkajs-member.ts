/**
 * One kafkajs group consumer as a child process, for the consumer-group compatibility tests
 * (groups-*.compat.ts). Started as `node dist/test/compat/clients/groups/kafkajs-member.js CONFIG`
 * with CONFIG a JSON MemberConfig; it reports on stdout, one JSON object a line (see
 * group-members.ts):
 *
 *   {"e":"ready","version":"2.2.4"}                        connected and subscribed, run() started
 *   {"e":"join","member":ID,"leader":bool,"assigned":[…]}  kafkajs GROUP_JOIN: a generation's assignment
 *   {"e":"m","p":P,"o":O,"k":KEY}                          a message processed (eachMessage returned)
 *   {"e":"c","gen":G,"offsets":{P:O,…}}                    kafkajs COMMIT_OFFSETS: a commit the broker acknowledged
 *   {"e":"rebalancing"} / {"e":"crash",…}                  kafkajs REBALANCING / CRASH events
 *   {"e":"stopped"}                                        after {"cmd":"stop"}: disconnected (LeaveGroup sent)
 *
 * Offsets are committed the way kafkajs does by default (autoCommit): the offsets of processed
 * messages are resolved one by one and committed after every batch and before rejoining in a
 * rebalance. kafkajs's own log goes to stderr.
 */
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';

const require = createRequire(import.meta.url);
const { Kafka, logLevel } = kafkajs;
const VERSION = (JSON.parse(readFileSync(require.resolve('kafkajs/package.json'), 'utf8')) as { version: string }).version;

export interface MemberConfig {
  bootstrap: string;
  topic: string;
  groupId: string;
  clientId: string;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
  /** Fetch.maxBytesPerPartition: small values make small batches, so commits are frequent. */
  maxBytesPerPartition: number;
  maxWaitTimeMs: number;
  /** Time spent "processing" every processDelayEvery-th message (0: none), to slow the member down. */
  processDelayMs: number;
  processDelayEvery: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as MemberConfig;

function emit(obj: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const kafka = new Kafka({
  clientId: config.clientId,
  brokers: [config.bootstrap],
  logLevel: logLevel.WARN,
  // kafkajs's default logger writes to the console, i.e. stdout: keep stdout for the events.
  logCreator: () => (entry: { namespace: string; level: number; log: { message: string } & Record<string, unknown> }) => {
    process.stderr.write(`[kafkajs ${entry.namespace}] ${JSON.stringify(entry.log)}\n`);
  },
  retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 2000 },
  connectionTimeout: 3000,
});

const consumer = kafka.consumer({
  groupId: config.groupId,
  sessionTimeout: config.sessionTimeoutMs,
  heartbeatInterval: config.heartbeatIntervalMs,
  rebalanceTimeout: config.rebalanceTimeoutMs,
  maxBytesPerPartition: config.maxBytesPerPartition,
  maxWaitTimeInMs: config.maxWaitTimeMs,
  retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 2000 },
});

const { GROUP_JOIN, COMMIT_OFFSETS, REBALANCING, CRASH } = consumer.events;
consumer.on(GROUP_JOIN, (ev) => {
  const assigned = ev.payload.memberAssignment[config.topic] ?? [];
  emit({ e: 'join', member: ev.payload.memberId, leader: ev.payload.isLeader, protocol: ev.payload.groupProtocol, assigned: [...assigned].sort((a, b) => a - b) });
});
consumer.on(COMMIT_OFFSETS, (ev) => {
  const offsets: Record<string, number> = {};
  for (const t of ev.payload.topics) if (t.topic === config.topic) for (const p of t.partitions) offsets[String(p.partition)] = Number(p.offset);
  emit({ e: 'c', gen: ev.payload.groupGenerationId, offsets });
});
consumer.on(REBALANCING, () => emit({ e: 'rebalancing' }));
consumer.on(CRASH, (ev) => emit({ e: 'crash', error: String(ev.payload.error), restart: ev.payload.restart }));

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  try {
    await consumer.disconnect();
    emit({ e: 'stopped' });
  } catch (e) {
    process.stderr.write(`disconnect failed: ${String(e)}\n`);
    code = 1;
  }
  process.exit(code);
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = (JSON.parse(line) as { cmd: string }).cmd;
  if (cmd === 'stop') void stop(0);
});
process.stdin.on('end', () => void stop(0));

await consumer.connect();
await consumer.subscribe({ topic: config.topic, fromBeginning: true });
let processed = 0;
await consumer.run({
  eachMessage: async ({ partition, message }) => {
    if (config.processDelayMs > 0 && ++processed % config.processDelayEvery === 0) await new Promise((r) => setTimeout(r, config.processDelayMs));
    emit({ e: 'm', p: partition, o: Number(message.offset), k: message.key === null ? null : message.key.toString('latin1') });
  },
});
emit({ e: 'ready', version: VERSION });

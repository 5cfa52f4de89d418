/**
 * `ferry group list|describe|reset-offsets|delete`: consumer groups, their lag, and moving
 * their committed offsets, like Kafka's kafka-consumer-groups.sh.
 */
import type { Admin, GroupDescription, OffsetResetTarget } from '../client/admin.js';
import { type Args, BOOTSTRAP_OPTION, type CommandSpec, JSON_OPTION, type Subcommand, dispatch, parseInteger } from './args.js';
import { CliError, withAdmin, writeOut } from './common.js';
import { renderTable, toJson } from './table.js';

const LIST: CommandSpec = {
  command: 'ferry group list',
  usage: '[options]',
  summary: 'Lists the consumer groups with their state.',
  positionals: { min: 0, max: 0 },
  options: { ...BOOTSTRAP_OPTION, ...JSON_OPTION },
};

const DESCRIBE: CommandSpec = {
  command: 'ferry group describe',
  usage: 'GROUP [options]',
  summary: "Shows a group's state and, per partition, its committed offset, the log end offset, the lag and the member that owns it.",
  positionals: { min: 1, max: 1 },
  options: { ...BOOTSTRAP_OPTION, ...JSON_OPTION },
};

const RESET: CommandSpec = {
  command: 'ferry group reset-offsets',
  usage: 'GROUP (--topic TOPIC... | --all-topics) TARGET [--execute] [options]',
  summary: "Moves a group's committed offsets. Prints the plan and changes nothing unless --execute is given. The group must have no active members.",
  positionals: { min: 1, max: 1 },
  options: {
    ...BOOTSTRAP_OPTION,
    ...JSON_OPTION,
    topic: { kind: 'list', arg: 'TOPIC[:P,P]', help: 'a topic to reset, optionally only some partitions (repeatable)' },
    'all-topics': { kind: 'flag', help: 'every topic the group has committed offsets for' },
    'to-earliest': { kind: 'flag', help: 'to the oldest record still in the log' },
    'to-latest': { kind: 'flag', help: 'to the end of the log (skip everything there now)' },
    'to-datetime': { kind: 'string', arg: 'ISO', help: 'to the first record at or after this time, e.g. 2024-05-01T12:00:00Z' },
    'to-offset': { kind: 'string', arg: 'N', help: 'to offset N in each partition' },
    'shift-by': { kind: 'string', arg: 'N', help: 'move by N (negative: back) from the committed offset' },
    execute: { kind: 'flag', help: 'apply the plan (without it this is a dry run)' },
  },
  notes: 'Offsets are clamped to the log (a reset never points before its start or past its end).',
};

const DELETE: CommandSpec = {
  command: 'ferry group delete',
  usage: 'GROUP... [options]',
  summary: 'Deletes groups and their committed offsets. A group must have no active members.',
  positionals: { min: 1, max: Infinity },
  options: { ...BOOTSTRAP_OPTION },
};

const SUBCOMMANDS: Subcommand[] = [
  { name: 'list', spec: LIST, run: list },
  { name: 'describe', spec: DESCRIBE, run: describe },
  { name: 'reset-offsets', spec: RESET, run: resetOffsets },
  { name: 'delete', spec: DELETE, run: remove },
];

export function runGroup(argv: string[]): Promise<number> {
  return dispatch('ferry group', 'Lists, describes, resets and deletes consumer groups.', SUBCOMMANDS, argv);
}

async function list(args: Args): Promise<number> {
  await withAdmin(args, async (admin) => {
    const groups = await admin.listGroups();
    if (args.flag('json')) await writeOut(toJson(groups.map((g) => ({ group: g.groupId, state: g.state, protocolType: g.protocolType }))));
    else if (groups.length === 0) await writeOut('no groups\n');
    else await writeOut(renderTable(['group', 'state', 'type'], groups.map((g) => [g.groupId, g.state, g.protocolType])));
  });
  return 0;
}

/** A group that the coordinator does not know (Dead, no members) and that has no offsets does not exist. */
function exists(description: GroupDescription | undefined, offsetCount: number): boolean {
  return description !== undefined && !(description.state === 'Dead' && description.members.length === 0 && offsetCount === 0);
}

async function describe(args: Args): Promise<number> {
  const groupId = args.positionals[0]!;
  await withAdmin(args, async (admin) => {
    const [description] = await admin.describeGroups([groupId]);
    const lag = await admin.describeGroupLag(groupId);
    if (!exists(description, lag.length)) throw new CliError(`group ${groupId} does not exist`);
    const d = description!;
    const totalLag = lag.reduce((n, p) => n + p.lag, 0n);
    if (args.flag('json')) {
      await writeOut(
        toJson({
          group: groupId,
          state: d.state,
          protocolType: d.protocolType,
          protocol: d.protocol,
          members: d.members.map((m) => ({ memberId: m.memberId, clientId: m.clientId, clientHost: m.clientHost, groupInstanceId: m.groupInstanceId, assignment: m.assignment })),
          partitions: lag.map((p) => ({
            topic: p.topic,
            partition: p.partition,
            committedOffset: p.committedOffset,
            endOffset: p.logEndOffset,
            lag: p.lag,
            memberId: p.memberId,
            clientId: p.clientId,
          })),
          totalLag,
        }),
      );
      return;
    }
    const members = d.members.length;
    let out = `group ${groupId}: ${d.state}, ${members} member${members === 1 ? '' : 's'}${d.protocol !== '' ? `, assignor ${d.protocol}` : ''}, total lag ${totalLag}\n`;
    if (lag.length > 0) {
      out += `\n${renderTable(
        ['topic', 'partition', 'committed', 'end', 'lag', 'member', 'client'],
        lag.map((p) => [p.topic, p.partition, p.committedOffset, p.logEndOffset, p.lag, p.memberId, p.clientId]),
      )}`;
    }
    await writeOut(out);
  });
  return 0;
}

/** `--topic orders` or `--topic orders:0,2`. */
function parseTopics(args: Args): Array<{ topic: string; partitions?: number[] }> {
  return args.list('topic').map((raw) => {
    const i = raw.lastIndexOf(':');
    if (i < 0) return { topic: raw };
    const topic = raw.slice(0, i);
    if (topic === '') throw args.usageError(`--topic needs a topic name: ${JSON.stringify(raw)}`);
    const partitions = raw
      .slice(i + 1)
      .split(',')
      .map((p) => parseInteger(p, `partition in --topic ${raw}`, { min: 0 }, args.spec.command));
    return { topic, partitions };
  });
}

function parseTarget(args: Args): OffsetResetTarget {
  const given = ['to-earliest', 'to-latest', 'to-datetime', 'to-offset', 'shift-by'].filter((n) => args.has(n));
  if (given.length === 0) throw args.usageError('say where to: --to-earliest, --to-latest, --to-datetime, --to-offset or --shift-by');
  args.exclusive(...given);
  if (args.flag('to-earliest')) return 'earliest';
  if (args.flag('to-latest')) return 'latest';
  const datetime = args.string('to-datetime');
  if (datetime !== undefined) {
    // Only ISO 8601 (what Kafka's tool takes): Date.parse alone would accept much looser text.
    const ms = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(datetime) ? Date.parse(datetime) : NaN;
    if (Number.isNaN(ms)) throw args.usageError(`--to-datetime must be an ISO 8601 time such as 2024-05-01T12:00:00Z, not ${JSON.stringify(datetime)}`);
    return { timestamp: ms };
  }
  const offset = args.int('to-offset', { min: 0 });
  if (offset !== undefined) return { offset: BigInt(offset) };
  return { shiftBy: BigInt(args.int('shift-by')!) };
}

async function resetOffsets(args: Args): Promise<number> {
  const groupId = args.positionals[0]!;
  const target = parseTarget(args);
  const topics = parseTopics(args);
  if (topics.length === 0 && !args.flag('all-topics')) throw args.usageError('name the topics to reset: --topic TOPIC (repeatable) or --all-topics');
  if (topics.length > 0 && args.flag('all-topics')) throw args.usageError('--topic and --all-topics cannot be used together');
  const execute = args.flag('execute');
  await withAdmin(args, async (admin) => {
    await requireEmpty(admin, groupId);
    let selected = topics;
    if (args.flag('all-topics')) {
      const committed = await admin.fetchGroupOffsets(groupId);
      selected = [...new Set(committed.map((c) => c.topic))].sort().map((topic) => ({ topic }));
      if (selected.length === 0) throw new CliError(`group ${groupId} has no committed offsets; name the topics with --topic`);
    }
    const plan = [];
    for (const t of selected) {
      plan.push(...(await admin.resetGroupOffsets(groupId, [t.topic], target, { dryRun: !execute, ...(t.partitions !== undefined ? { partitions: t.partitions } : {}) })));
    }
    if (args.flag('json')) {
      await writeOut(
        toJson({
          group: groupId,
          executed: execute,
          partitions: plan.map((p) => ({ topic: p.topic, partition: p.partition, previousOffset: p.previousOffset, newOffset: p.offset })),
        }),
      );
      return;
    }
    let out = renderTable(
      ['topic', 'partition', 'current', 'new'],
      plan.map((p) => [p.topic, p.partition, p.previousOffset, p.offset]),
    );
    out += execute ? `reset the offsets of group ${groupId}\n` : 'dry run: nothing changed; add --execute to apply\n';
    await writeOut(out);
  });
  return 0;
}

/**
 * Offsets may only move while nobody consumes: an active member would overwrite them with
 * its next commit, and Kafka's tool refuses for the same reason.
 */
async function requireEmpty(admin: Admin, groupId: string): Promise<void> {
  const [d] = await admin.describeGroups([groupId]);
  if (d !== undefined && d.members.length > 0) {
    throw new CliError(
      `group ${groupId} has ${d.members.length} active member${d.members.length === 1 ? '' : 's'} (state ${d.state}); offsets can be reset only while the group is empty: stop its consumers first`,
    );
  }
}

async function remove(args: Args): Promise<number> {
  const groups = [...new Set(args.positionals)];
  await withAdmin(args, async (admin) => {
    for (const g of groups) {
      await admin.deleteGroups([g]);
      process.stdout.write(`deleted group ${g}\n`);
    }
  });
  return 0;
}

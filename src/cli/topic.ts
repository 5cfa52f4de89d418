/**
 * `ferry topic create|list|describe|alter|delete`: topics and their configs, through the admin
 * client.
 */
import type { Admin, ConfigChange } from '../client/admin.js';
import { type Args, BOOTSTRAP_OPTION, type CommandSpec, JSON_OPTION, type Subcommand, dispatch } from './args.js';
import { withAdmin, writeOut } from './common.js';
import { renderTable, toJson } from './table.js';

const CREATE: CommandSpec = {
  command: 'ferry topic create',
  usage: 'NAME [options]',
  summary: 'Creates a topic.',
  positionals: { min: 1, max: 1 },
  options: {
    ...BOOTSTRAP_OPTION,
    partitions: { kind: 'string', arg: 'N', help: "number of partitions (default: the broker's num.partitions)" },
    'replication-factor': { kind: 'string', arg: 'N', help: "copies of each partition (default: the broker's default.replication.factor)" },
    config: { kind: 'list', arg: 'KEY=VALUE', help: 'a topic config, e.g. retention.ms=86400000 (repeatable)' },
    'if-not-exists': { kind: 'flag', help: 'succeed when the topic exists already' },
  },
};

const LIST: CommandSpec = {
  command: 'ferry topic list',
  usage: '[options]',
  summary: 'Lists the topics with their partition counts.',
  positionals: { min: 0, max: 0 },
  options: { ...BOOTSTRAP_OPTION, ...JSON_OPTION, internal: { kind: 'flag', help: 'include internal topics such as __consumer_offsets' } },
};

const DESCRIBE: CommandSpec = {
  command: 'ferry topic describe',
  usage: 'NAME [options]',
  summary: "Shows a topic's partitions (leader, replicas, in-sync replicas, start and end offsets) and the configs set on it.",
  positionals: { min: 1, max: 1 },
  options: { ...BOOTSTRAP_OPTION, ...JSON_OPTION, 'all-configs': { kind: 'flag', help: 'show every config, defaults included' } },
};

const ALTER: CommandSpec = {
  command: 'ferry topic alter',
  usage: 'NAME [options]',
  summary: 'Adds partitions to a topic (Kafka cannot remove them) and sets or removes its configs.',
  positionals: { min: 1, max: 1 },
  options: {
    ...BOOTSTRAP_OPTION,
    partitions: { kind: 'string', arg: 'N', help: 'grow the topic to N partitions in total' },
    config: { kind: 'list', arg: 'KEY=VALUE', help: 'set a config (repeatable)' },
    'delete-config': { kind: 'list', arg: 'KEY', help: 'return a config to its default (repeatable)' },
  },
};

const DELETE: CommandSpec = {
  command: 'ferry topic delete',
  usage: 'NAME... [options]',
  summary: 'Deletes topics and their data.',
  positionals: { min: 1, max: Infinity },
  options: { ...BOOTSTRAP_OPTION, 'if-exists': { kind: 'flag', help: 'succeed when a topic does not exist' } },
};

const SUBCOMMANDS: Subcommand[] = [
  { name: 'create', spec: CREATE, run: create },
  { name: 'list', spec: LIST, run: list },
  { name: 'describe', spec: DESCRIBE, run: describe },
  { name: 'alter', spec: ALTER, run: alter },
  { name: 'delete', spec: DELETE, run: remove },
];

export function runTopic(argv: string[]): Promise<number> {
  return dispatch('ferry topic', 'Creates, lists, describes, alters and deletes topics.', SUBCOMMANDS, argv);
}

async function create(args: Args): Promise<number> {
  const name = args.positionals[0]!;
  const partitions = args.int('partitions', { min: 1 });
  const replicationFactor = args.int('replication-factor', { min: 1, max: 32767 });
  const configs = Object.fromEntries(args.keyValues('config'));
  await withAdmin(args, async (admin) => {
    if (args.flag('if-not-exists') && (await admin.listTopics({ includeInternal: true })).includes(name)) {
      process.stdout.write(`topic ${name} exists already\n`);
      return;
    }
    await admin.createTopics([{ name, ...(partitions !== undefined ? { partitions } : {}), ...(replicationFactor !== undefined ? { replicationFactor } : {}), configs }], {
      ifNotExists: args.flag('if-not-exists'),
    });
    const [description] = await admin.describeTopics([name]);
    const count = description?.partitions.length ?? partitions ?? 0;
    process.stdout.write(`created topic ${name} with ${count} partition${count === 1 ? '' : 's'}\n`);
  });
  return 0;
}

async function list(args: Args): Promise<number> {
  await withAdmin(args, async (admin) => {
    const names = await admin.listTopics({ includeInternal: args.flag('internal') });
    const topics = names.length === 0 ? [] : await admin.describeTopics(names);
    const rows = topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.length,
      replicationFactor: t.partitions[0]?.replicas.length ?? 0,
      internal: t.isInternal,
    }));
    if (args.flag('json')) {
      await writeOut(toJson(rows));
    } else if (rows.length === 0) {
      await writeOut('no topics\n');
    } else {
      await writeOut(
        renderTable(
          ['name', 'partitions', 'replicas'],
          rows.map((r) => [r.name, r.partitions, r.replicationFactor]),
        ),
      );
    }
  });
  return 0;
}

async function describe(args: Args): Promise<number> {
  const name = args.positionals[0]!;
  await withAdmin(args, async (admin) => {
    const [topic] = await admin.describeTopics([name]);
    const offsets = await admin.topicOffsets(name);
    const configs = await topicConfigs(admin, name, args.flag('all-configs'));
    const partitions = topic!.partitions.map((p) => {
      const o = offsets.find((x) => x.partition === p.partition);
      return { partition: p.partition, leader: p.leader, replicas: p.replicas, isr: p.isr, startOffset: o?.earliest ?? null, endOffset: o?.latest ?? null };
    });
    if (args.flag('json')) {
      await writeOut(toJson({ name, topicId: topic!.topicId, internal: topic!.isInternal, partitions, configs: Object.fromEntries(configs.map((c) => [c.name, c.value])) }));
      return;
    }
    const records = partitions.reduce((n, p) => n + ((p.endOffset ?? 0n) - (p.startOffset ?? 0n)), 0n);
    let out = `topic ${name}: ${partitions.length} partition${partitions.length === 1 ? '' : 's'}, replication factor ${partitions[0]?.replicas.length ?? 0}, ${records} record${records === 1n ? '' : 's'}, id ${topic!.topicId}\n\n`;
    out += renderTable(
      ['partition', 'leader', 'replicas', 'in-sync', 'start', 'end'],
      partitions.map((p) => [p.partition, p.leader, p.replicas.join(','), p.isr.join(','), p.startOffset, p.endOffset]),
    );
    out += '\n';
    if (configs.length === 0) {
      out += 'configs: none set on the topic (broker defaults apply; --all-configs shows them)\n';
    } else {
      out += renderTable(
        ['config', 'value', 'source'],
        configs.map((c) => [c.name, c.value, c.source]),
      );
    }
    await writeOut(out);
  });
  return 0;
}

/** The topic's configs: those set on the topic, or all of them. */
async function topicConfigs(admin: Admin, name: string, all: boolean): Promise<Array<{ name: string; value: string | null; source: string }>> {
  const [resource] = await admin.describeConfigs([{ type: 'topic', name }]);
  return (resource?.entries ?? [])
    .filter((e) => all || e.source === 'dynamic-topic')
    .map((e) => ({ name: e.name, value: e.isSensitive ? '(sensitive)' : e.value, source: e.source }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function alter(args: Args): Promise<number> {
  const name = args.positionals[0]!;
  const partitions = args.int('partitions', { min: 1 });
  const changes: ConfigChange[] = [
    ...args.keyValues('config').map(([k, v]): ConfigChange => ({ name: k, operation: 'set', value: v })),
    ...args.list('delete-config').map((k): ConfigChange => ({ name: k, operation: 'delete' })),
  ];
  if (partitions === undefined && changes.length === 0) throw args.usageError('nothing to change: give --partitions, --config or --delete-config');
  await withAdmin(args, async (admin) => {
    const [topic] = await admin.describeTopics([name]);
    const done: string[] = [];
    if (partitions !== undefined) {
      const current = topic!.partitions.length;
      if (partitions < current) throw args.usageError(`topic ${name} has ${current} partitions; Kafka topics cannot shrink (--partitions ${partitions})`);
      if (partitions > current) {
        await admin.createPartitions([{ topic: name, count: partitions }]);
        done.push(`partitions ${current} -> ${partitions}`);
      } else {
        done.push(`partitions unchanged (${current})`);
      }
    }
    if (changes.length > 0) {
      await admin.alterConfigs([{ type: 'topic', name, changes }]);
      for (const c of changes) done.push(c.operation === 'delete' ? `${c.name} reset to default` : `${c.name}=${c.value ?? ''}`);
    }
    process.stdout.write(`altered topic ${name}: ${done.join(', ')}\n`);
  });
  return 0;
}

async function remove(args: Args): Promise<number> {
  const names = [...new Set(args.positionals)];
  await withAdmin(args, async (admin) => {
    let targets = names;
    if (args.flag('if-exists')) {
      const existing = new Set(await admin.listTopics({ includeInternal: true }));
      targets = names.filter((n) => existing.has(n));
    }
    if (targets.length > 0) await admin.deleteTopics(targets);
    for (const n of names) process.stdout.write(targets.includes(n) ? `deleted topic ${n}\n` : `topic ${n} does not exist\n`);
  });
  return 0;
}

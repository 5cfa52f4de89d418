/**
 * A small, strict argument parser for the `ferry` subcommands.
 *
 * Each command declares its options and how many positional arguments it takes; anything
 * else is a usage error (exit code 2), because a misspelled option that is silently ignored
 * produces a command that does something other than what its user asked for. Options take
 * the forms `--name value` and `--name=value`; an option that takes a value consumes the
 * next argument even when it starts with a dash, so `--shift-by -5` works. `--` ends the
 * options. `--help` and `-h` are accepted by every command.
 */

/** Bad arguments or usage: reported as one line and exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose --help explains the usage, e.g. `ferry topic create`. */
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export type OptionKind = 'string' | 'flag' | 'list';

export interface OptionSpec {
  kind: OptionKind;
  /** The value's placeholder in the help text, e.g. `N` or `HOST:PORT`. */
  arg?: string;
  help: string;
}

export interface CommandSpec {
  /** The full command, e.g. `ferry topic create`. */
  command: string;
  /** What follows the command in the usage line, e.g. `NAME [options]`. */
  usage: string;
  summary: string;
  /** Bounds on the number of positional arguments. */
  positionals: { min: number; max: number };
  options: Record<string, OptionSpec>;
  /** Free text appended to the help, e.g. examples. */
  notes?: string;
}

/** Options every command that talks to a broker accepts. */
export const BOOTSTRAP_OPTION: Record<string, OptionSpec> = {
  bootstrap: { kind: 'string', arg: 'HOST:PORT', help: 'the broker to connect to (default 127.0.0.1:9092; several: a,b)' },
};

export const JSON_OPTION: Record<string, OptionSpec> = {
  json: { kind: 'flag', help: 'print JSON for scripts instead of a table' },
};

/** The parsed arguments of one command, with typed and validated accessors. */
export class Args {
  constructor(
    readonly spec: CommandSpec,
    readonly positionals: string[],
    private readonly values: Map<string, string[]>,
  ) {}

  has(name: string): boolean {
    this.check(name);
    return this.values.has(name);
  }

  flag(name: string): boolean {
    return this.has(name);
  }

  string(name: string): string | undefined {
    this.check(name);
    const v = this.values.get(name);
    return v === undefined ? undefined : v[v.length - 1];
  }

  list(name: string): string[] {
    this.check(name);
    return this.values.get(name) ?? [];
  }

  /** An integer option within bounds; undefined when absent. */
  int(name: string, bounds: { min?: number; max?: number } = {}): number | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    return parseInteger(raw, `--${name}`, bounds, this.spec.command);
  }

  /** A `key=value` list option as pairs, in order. */
  keyValues(name: string): Array<[string, string]> {
    return this.list(name).map((item) => {
      const i = item.indexOf('=');
      if (i <= 0) throw new UsageError(`--${name} takes KEY=VALUE, not ${JSON.stringify(item)}`, this.spec.command);
      return [item.slice(0, i), item.slice(i + 1)];
    });
  }

  /** Fails unless at most one of these options was given. */
  exclusive(...names: string[]): void {
    const given = names.filter((n) => this.has(n));
    if (given.length > 1) throw new UsageError(`${given.map((n) => `--${n}`).join(' and ')} cannot be used together`, this.spec.command);
  }

  usageError(message: string): UsageError {
    return new UsageError(message, this.spec.command);
  }

  /** Catches typos in the command's own code: reading an option it never declared. */
  private check(name: string): void {
    if (!(name in this.spec.options)) throw new Error(`internal: ${this.spec.command} reads undeclared option --${name}`);
  }
}

export function parseInteger(raw: string, what: string, bounds: { min?: number; max?: number } = {}, command?: string): number {
  if (!/^-?\d+$/.test(raw.trim())) throw new UsageError(`${what} must be an integer, not ${JSON.stringify(raw)}`, command);
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new UsageError(`${what} is out of range: ${raw}`, command);
  if (bounds.min !== undefined && n < bounds.min) throw new UsageError(`${what} must be at least ${bounds.min}, not ${raw}`, command);
  if (bounds.max !== undefined && n > bounds.max) throw new UsageError(`${what} must be at most ${bounds.max}, not ${raw}`, command);
  return n;
}

/** Parses `argv` (the arguments after the command words); null means `--help` was asked for. */
export function parseArgs(spec: CommandSpec, argv: readonly string[]): Args | null {
  const positionals: string[] = [];
  const values = new Map<string, string[]>();
  let optionsEnded = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (optionsEnded || !arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    if (arg === '--') {
      optionsEnded = true;
      continue;
    }
    if (arg === '--help' || arg === '-h') return null;
    if (!arg.startsWith('--')) throw new UsageError(`unknown option ${arg}`, spec.command);
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const option = spec.options[name];
    if (option === undefined) throw new UsageError(`unknown option --${name}`, spec.command);
    let value: string;
    if (option.kind === 'flag') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`, spec.command);
      value = 'true';
    } else if (eq >= 0) {
      value = arg.slice(eq + 1);
    } else {
      if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value${option.arg !== undefined ? ` (${option.arg})` : ''}`, spec.command);
      value = argv[++i]!;
    }
    const list = values.get(name);
    if (list === undefined) values.set(name, [value]);
    else if (option.kind === 'list') list.push(value);
    else if (option.kind === 'flag') list.push(value);
    else throw new UsageError(`--${name} was given more than once`, spec.command);
  }
  const { min, max } = spec.positionals;
  if (positionals.length < min) {
    throw new UsageError(positionals.length === 0 ? `missing argument: ${spec.command} ${spec.usage}` : `too few arguments: ${spec.command} ${spec.usage}`, spec.command);
  }
  if (positionals.length > max) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[max])}`, spec.command);
  return new Args(spec, positionals, values);
}

/** The help text of a command, generated from its spec so that it cannot drift from the parser. */
export function helpText(spec: CommandSpec): string {
  const names = Object.entries(spec.options).map(([name, o]) => {
    const left = `--${name}${o.arg !== undefined ? ` ${o.arg}` : ''}`;
    return [o.kind === 'list' ? `${left} ...` : left, o.help] as const;
  });
  names.push(['--help', 'print this help']);
  const width = Math.max(...names.map(([l]) => l.length));
  const lines = [`Usage: ${spec.command} ${spec.usage}`, '', spec.summary, '', 'Options:'];
  for (const [left, help] of names) lines.push(`  ${left.padEnd(width)}  ${help}`);
  if (spec.notes !== undefined) lines.push('', spec.notes.trimEnd());
  return `${lines.join('\n')}\n`;
}

/** Lists the subcommands of a command group, for `ferry topic --help` and unknown subcommands. */
export function groupHelp(command: string, summary: string, subcommands: Array<[string, string]>): string {
  const width = Math.max(...subcommands.map(([n]) => n.length));
  const lines = [`Usage: ${command} <subcommand> [options]`, '', summary, '', 'Subcommands:'];
  for (const [name, help] of subcommands) lines.push(`  ${name.padEnd(width)}  ${help}`);
  lines.push('', `Run '${command} <subcommand> --help' for the options of each.`);
  return `${lines.join('\n')}\n`;
}

export interface Subcommand {
  name: string;
  spec: CommandSpec;
  run: (args: Args) => Promise<number>;
}

/** Runs the subcommand named by argv[0] of a command group such as `ferry topic`. */
export async function dispatch(command: string, summary: string, subcommands: Subcommand[], argv: readonly string[]): Promise<number> {
  const sub = argv[0];
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(groupHelp(command, summary, subcommands.map((s) => [s.name, s.spec.summary])));
    return 0;
  }
  const names = subcommands.map((s) => s.name).join(', ');
  if (sub === undefined || sub.startsWith('-')) throw new UsageError(`missing subcommand: ${names}`, command);
  const entry = subcommands.find((s) => s.name === sub);
  if (entry === undefined) throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}; expected one of ${names}`, command);
  const args = parseArgs(entry.spec, argv.slice(1));
  if (args === null) {
    process.stdout.write(helpText(entry.spec));
    return 0;
  }
  return entry.run(args);
}

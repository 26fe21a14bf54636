// `nexus <group> <command> [args] [--json] [--yes] [--help]`: parses the command line, runs the
// command against the hub's database, prints text or JSON. Exit status: 0 success, 1 failure
// (one line on standard error), 2 wrong usage, 78 bad configuration.
import { parseArgs } from 'node:util';
import { ConfigError } from '../config.js';
import { describeDomainError } from '../admin/domain-errors.js';
import { PlansError } from '../billing/plans.js';
import { AutomationsError } from '../events/automations.js';
import { CliError, UsageError, type Command, type CommandGroup } from './command.js';
import { openContext } from './context.js';
import { clients } from './commands/clients.js';
import { users } from './commands/users.js';
import { access } from './commands/access.js';
import { keys } from './commands/keys.js';
import { apikeys } from './commands/apikeys.js';
import { plans } from './commands/plans.js';
import { events } from './commands/events.js';
import { webhooks } from './commands/webhooks.js';
import { automations } from './commands/automations.js';

const GROUPS: Record<string, CommandGroup> = { clients, users, access, keys, apikeys, plans, events, webhooks, automations };

const COMMON = {
  json: { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  help: { type: 'boolean', short: 'h' },
} as const;

function overview() {
  const groups = Object.entries(GROUPS).map(([name, group]) => `  ${name.padEnd(9)} ${group.summary}`);
  return ['Usage: nexus <group> <command> [options]', '', 'Groups:', ...groups, '',
    'Every command takes --json (machine-readable output), --yes (never ask) and --help.',
    'It uses the same DATABASE_URL / DATA_DIR (and NEXUS_MASTER_KEY) as the hub.'].join('\n');
}

function groupHelp(name: string, group: CommandGroup) {
  const commands = Object.entries(group.commands).map(([command, spec]) => `  ${command.padEnd(14)} ${spec.summary}`);
  return [`Usage: nexus ${name} <command> [options]`, '', `${group.summary[0].toUpperCase()}${group.summary.slice(1)}.`, '', 'Commands:', ...commands].join('\n');
}

function commandHelp(group: string, name: string, command: Command) {
  return [`Usage: nexus ${group} ${name} ${command.usage} [--json]`.replace(/\s+/g, ' ').trim(), '', `${command.summary[0].toUpperCase()}${command.summary.slice(1)}.`].join('\n');
}

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  stdin: () => Promise<string>;
  interactive: boolean;
  env: NodeJS.ProcessEnv;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const defaultIo: Io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  stdin: readStdin,
  interactive: Boolean(process.stdin.isTTY),
  env: process.env,
};

export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  const [groupName, commandName, ...rest] = argv;
  const json = argv.includes('--json');
  const fail = (status: number, message: string, code: string) => {
    io.err(`nexus: ${message}`);
    if (json) io.out(JSON.stringify({ error: code, message }));
    return status;
  };

  // Asked for help: standard output, status 0. Nothing asked: a usage error, standard error, 2.
  if (!groupName || groupName === '--help' || groupName === '-h' || groupName === 'help') {
    (groupName ? io.out : io.err)(overview());
    return groupName ? 0 : 2;
  }
  const group = GROUPS[groupName];
  if (!group) return fail(2, `unknown group "${groupName}"; run \`nexus --help\``, 'usage');
  if (!commandName || commandName === '--help' || commandName === '-h') {
    (commandName ? io.out : io.err)(groupHelp(groupName, group));
    return commandName ? 0 : 2;
  }
  const command = group.commands[commandName];
  if (!command) return fail(2, `unknown command "${groupName} ${commandName}"; run \`nexus ${groupName} --help\``, 'usage');

  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({ args: rest, options: { ...COMMON, ...command.options }, allowPositionals: true, strict: true }));
  } catch (error) {
    return fail(2, `${(error as Error).message.replace(/\. To specify.*$/s, '')}; run \`nexus ${groupName} ${commandName} --help\``, 'usage');
  }
  if (values.help) {
    io.out(commandHelp(groupName, commandName, command));
    return 0;
  }
  const expected = command.args ?? [];
  if (positionals.length < expected.length) return fail(2, `missing ${expected[positionals.length]}; usage: nexus ${groupName} ${commandName} ${command.usage}`, 'usage');
  if (positionals.length > expected.length) return fail(2, `unexpected argument "${positionals[expected.length]}"`, 'usage');

  let ctx;
  try {
    ctx = await openContext(io.env, io.stdin, io.interactive);
  } catch (error) {
    if (error instanceof ConfigError) return fail(78, error.problems.join('; '), 'config');
    return fail(1, `cannot open the database: ${(error as Error).message}`, 'database');
  }
  try {
    const output = await command.run(ctx, values, positionals);
    io.out(json ? JSON.stringify(output.data, null, 2) : output.text);
    if (!output.incomplete) return 0;
    for (const line of output.incomplete.lines) io.err(line);
    io.err(`nexus: ${output.incomplete.summary}`);
    return 1;
  } catch (error) {
    if (error instanceof UsageError) return fail(2, `${error.message}; usage: nexus ${groupName} ${commandName} ${command.usage}`, 'usage');
    if (error instanceof CliError) return fail(1, error.message, error.code);
    if (error instanceof PlansError) return fail(78, error.problems.join('; '), 'config');
    if (error instanceof AutomationsError) return fail(78, error.problems.join('; '), 'config');
    const known = describeDomainError(error);
    if (known) return fail(1, known.message, known.code);
    return fail(1, `unexpected error: ${(error as Error).message}`, 'internal');
  } finally {
    await ctx.close();
  }
}

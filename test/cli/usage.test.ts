// What needs no database: --help on every group and command, usage errors (exit 2) and bad
// configuration (exit 78), each through a real `nexus` process.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clients } from '../../src/cli/commands/clients.js';
import { users } from '../../src/cli/commands/users.js';
import { access } from '../../src/cli/commands/access.js';
import { keys } from '../../src/cli/commands/keys.js';
import { apikeys } from '../../src/cli/commands/apikeys.js';
import { plans } from '../../src/cli/commands/plans.js';
import { events } from '../../src/cli/commands/events.js';
import { webhooks } from '../../src/cli/commands/webhooks.js';
import { automations } from '../../src/cli/commands/automations.js';
import { expectFailure, expectSuccess, pool, run, type CliResult } from './support.js';

const GROUPS = { clients, users, access, keys, apikeys, plans, events, webhooks, automations };
// Every command the issue lists (and `plans`, added since); the CLI's tables must offer exactly these.
const EXPECTED: Record<string, string[]> = {
  clients: ['list', 'show', 'add', 'update', 'rotate-secret', 'disable', 'enable', 'remove', 'sync'],
  users: ['create', 'list', 'show', 'disable', 'enable', 'set-password', 'delete', 'import', 'reset-mfa'],
  access: ['grant', 'revoke', 'list'],
  keys: ['list', 'rotate', 'retire'],
  apikeys: ['create', 'list', 'revoke'],
  plans: ['show', 'set'],
  events: ['list', 'show'],
  webhooks: ['add', 'list', 'show', 'disable', 'enable', 'remove', 'rotate-secret', 'test', 'deliveries', 'replay', 'replay-failed'],
  automations: ['list'],
};

let dataDir: string;
// No hub here: an isolated DATA_DIR, and a DATABASE_URL nothing listens on, so a command that
// wrongly opened the database would fail instead of touching anything.
let env: Record<string, string>;
beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'nexus-cli-usage-'));
  env = { DATA_DIR: dataDir, DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/nexus_cli_nowhere' };
});
afterAll(async () => {
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

const nexus = (args: string[], extra: Record<string, string> = {}) => run(undefined, args, { env: { ...env, ...extra } });

describe('nexus --help', () => {
  it('covers every command', () => {
    expect(Object.fromEntries(Object.entries(GROUPS).map(([name, group]) => [name, Object.keys(group.commands).sort()])))
      .toEqual(Object.fromEntries(Object.entries(EXPECTED).map(([name, commands]) => [name, [...commands].sort()])));
  });

  it('prints the overview and a group help with exit 0', async () => {
    const [overview, group] = await pool([['--help'], ['clients', '-h']], 2, (args) => nexus(args));
    expectSuccess(overview);
    expect(overview.stdout).toMatch(/^Usage: nexus <group> <command> \[options\]\n/);
    // The overview lists exactly the groups whose commands are covered here.
    const listed = overview.stdout.split('Groups:\n')[1].split('\n\n')[0].split('\n').map((line) => line.trim().split(/\s+/)[0]);
    expect(listed).toEqual(Object.keys(EXPECTED));

    expectSuccess(group);
    expect(group.stdout).toMatch(/^Usage: nexus clients <command> \[options\]\n/);
    for (const command of EXPECTED.clients) expect(group.stdout).toMatch(new RegExp(`^  ${command} +\\S`, 'm'));
  });

  it.each(Object.entries(EXPECTED))('prints the help of every %s command with exit 0, without opening the database', async (group, commands) => {
    const results: CliResult[] = await pool(commands, 2, (command) => nexus([group, command, '--help']));
    commands.forEach((command, i) => {
      const result = results[i];
      expect(result.code, `${group} ${command} --help: ${result.stderr}`).toBe(0);
      expect(result.stderr).toBe('');
      const [usage, blank, summary] = result.stdout.trimEnd().split('\n');
      expect(usage).toMatch(new RegExp(`^Usage: nexus ${group} ${command}\\b.*\\[--json\\]$`));
      expect(blank).toBe('');
      expect(summary).toMatch(/^[A-Z].*\.$/);
    });
    // The usage line names the flags a command needs.
    if (group === 'clients') expect(results[commands.indexOf('add')].stdout).toContain('--id ID --name NAME --redirect-uri URL...');
  });
});

describe('usage errors exit 2 with one line on standard error', () => {
  it('unknown group, command and option; unexpected and missing arguments', async () => {
    const [group, command, option, unexpected, jsonMissing] = await pool([
      ['frobnicate', 'list'],
      ['clients', 'frobnicate'],
      ['users', 'list', '--bogus'],
      ['clients', 'list', 'extra'],
      ['keys', 'retire', '--json'],
    ], 2, (args) => nexus(args));
    expectFailure(group, 2, 'unknown group "frobnicate"; run `nexus --help`');
    expectFailure(command, 2, 'unknown command "clients frobnicate"; run `nexus clients --help`');
    expectFailure(option, 2, "Unknown option '--bogus'; run `nexus users list --help`");
    expectFailure(unexpected, 2, 'unexpected argument "extra"');
    expectFailure(jsonMissing, 2, 'missing KID; usage: nexus keys retire KID');
    expect(JSON.parse(jsonMissing.stdout)).toEqual({ error: 'usage', message: 'missing KID; usage: nexus keys retire KID' });
  });

  it('no group or no command prints the help on standard error with exit 2', async () => {
    const [bare, group] = await pool([[], ['apikeys']], 2, (args) => nexus(args));
    expect(bare.code).toBe(2);
    expect(bare.stdout).toBe('');
    expect(bare.stderr).toMatch(/^Usage: nexus <group> <command>/);
    expect(group.code).toBe(2);
    expect(group.stderr).toMatch(/^Usage: nexus apikeys <command> \[options\]\n/);
    for (const command of EXPECTED.apikeys) expect(group.stderr).toMatch(new RegExp(`^  ${command} +\\S`, 'm'));
  });
});

describe('configuration and database errors', () => {
  it('bad configuration exits 78; --json puts the error object on standard output', async () => {
    const json = await nexus(['clients', 'list', '--json'], { DATABASE_URL: 'mysql://x' });
    expectFailure(json, 78, 'DATABASE_URL must start with postgres:// or postgresql://');
    expect(JSON.parse(json.stdout)).toEqual({ error: 'config', message: 'DATABASE_URL must start with postgres:// or postgresql://' });
  });

  it('an unreachable database exits 1 with one line', async () => {
    expectFailure(await nexus(['clients', 'list']), 1, /^cannot open the database: /);
  });
});

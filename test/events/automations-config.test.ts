// automations.json as the hub reads it: every mistake found at start (the real server process
// and `nexus automations list` exit 78, one line per mistake), a missing default file is no
// rules, and the {{placeholder}} mapping can reach nothing but the event's own fields.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { coverageEnv, freePort, runServer, waitForReady, type ServerProcess } from '../support/process.js';
import { expectFailure, ROOT, run } from '../cli/support.js';
import { Automations, AutomationsError, render, renderPath } from '../../src/events/automations.js';
import type { StoredEvent } from '../../src/events/event.js';

const PROJECTS = ['sales', 'dream-people', 'liminal'];

const event = (data: Record<string, unknown> = {}): StoredEvent => ({
  id: '7f0c1a52-1c55-4b5e-9d8e-2b1e4a0f9c11', type: 'deal.won', source: 'sales', subject: '0b6c9a34-8f2e-4d1a-a7b2-5c3e9d0f1a22', sequence: 42,
  data, actor: { type: 'client', id: 'sales' }, occurredAt: '2026-12-01T10:00:00.000Z', key: null, depth: 0, causedBy: null,
});

const rule = (id: string, overrides: Record<string, unknown> = {}, call: Record<string, unknown> = {}) => ({
  id, on: { source: 'sales', type: 'deal.won' }, call: { project: 'dream-people', method: 'POST', path: '/transactions', ...call }, ...overrides,
});

// One rule per kind of mistake, and the line each must produce (rules in file order, # its index).
const MISTAKES: Array<[unknown, string]> = [
  [rule('Bad_Id'), 'rules[0]: id must be 2-63 lowercase letters, digits or dashes'],
  [rule('x'), 'rules[1]: id must be 2-63 lowercase letters, digits or dashes'],
  [rule('no-source', { on: { source: 'ghost', type: 'deal.won' } }), 'rule "no-source": on.source must be "nexus" or a registered project (got "ghost")'],
  [rule('bad-type', { on: { source: 'sales', type: 'Deal Won' } }), 'rule "bad-type": on.type must be an event type such as deal.won'],
  [rule('no-project', {}, { project: 'nowhere' }), 'rule "no-project": call.project must be a registered project (got "nowhere")'],
  [rule('bad-method', {}, { method: 'TRACE' }), 'rule "bad-method": call.method must be one of GET, POST, PUT, PATCH, DELETE'],
  [rule('number-method', {}, { method: 5 }), 'rule "number-method": call.method must be one of GET, POST, PUT, PATCH, DELETE'],
  ...['/a/../b', '/a/./b', 'relative', '/a?b=1', '/a#f', '/a\\b', '/a b', '/ünï', '/a/%2e%2e/b', '/a/%2E./b', '/a/%zz', '/a/%ff', '/a/..%2fb', '/a\u0000b', `/${'a'.repeat(500)}`]
    .map((p, i): [unknown, string] => [rule(`path-${i}`, {}, { path: p }), `rule "path-${i}": call.path must start with / and hold only URL path characters: no dot segments (even percent-encoded), backslashes, spaces, query or fragment`]),
  [rule('proto-root', {}, { body: { a: '{{constructor}}' } }), 'rule "proto-root": {{constructor}} names nothing of an event (use id, type, source, subject, sequence, occurredAt, actor.*, data.*)'],
  [rule('code', {}, { body: ['{{ process.exit(1) }}'] }), 'rule "code": {{process.exit(1)}} names nothing of an event (use id, type, source, subject, sequence, occurredAt, actor.*, data.*)'],
  [rule('unknown-root', {}, { path: '/u/{{user.id}}' }), 'rule "unknown-root": {{user.id}} names nothing of an event (use id, type, source, subject, sequence, occurredAt, actor.*, data.*)'],
  [rule('typo', { bdoy: {} }, { headers: {} }), 'rule "typo": unknown field "bdoy"'],
  [rule('described', { description: 12 }), 'rule "described": description must be text'],
  ['not an object', 'rules[#]: must be an object'],
  [rule('twice'), ''],
  [rule('twice'), 'rule "twice" is defined twice'],
];
// The typo rule also names its unknown call field.
const EXPECTED = MISTAKES.map(([, line], index) => line.replace('#', String(index))).filter(Boolean);
EXPECTED.splice(EXPECTED.indexOf('rule "typo": unknown field "bdoy"') + 1, 0, 'rule "typo": unknown field "call.headers"');

describe('validation (Automations.fromFile)', () => {
  let dir: string;
  beforeAll(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nexus-rules-')); });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  const load = async (content: unknown, required = true) => {
    const file = path.join(dir, `r-${Math.random().toString(36).slice(2)}.json`);
    await fs.writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
    return () => Automations.fromFile(file, PROJECTS, required);
  };
  const problems = (loader: () => Automations) => {
    try {
      loader();
    } catch (error) {
      expect(error).toBeInstanceOf(AutomationsError);
      return (error as AutomationsError).problems;
    }
    throw new Error('loaded without a problem');
  };

  it('lists every mistake, one each', async () => {
    expect(problems(await load({ rules: MISTAKES.map(([r]) => r) }))).toEqual(EXPECTED);
  });

  it('refuses what is not a rules file, and a named file that is not there; a missing default file is no rules', async () => {
    expect(problems(await load('{ not json'))[0]).toMatch(/^is not valid JSON: /);
    for (const content of [[], {}, { rules: {} }, null, 'null', '"rules"']) {
      expect(problems(await load(content))).toEqual(['must be an object with a "rules" list']);
    }
    const missing = path.join(dir, 'absent.json');
    expect(problems(() => Automations.fromFile(missing, PROJECTS, true))[0]).toMatch(/^cannot be read: ENOENT/);
    expect(Automations.fromFile(missing, PROJECTS, false).rules).toEqual([]);
    expect(problems(() => Automations.fromFile(dir, PROJECTS, false))[0]).toMatch(/^cannot be read: EISDIR/);
  });

  it('accepts the shipped file, notes ($comment), methods in any case, hub events, paths with placeholders and escapes', async () => {
    expect(Automations.fromFile(path.join(ROOT, 'automations.json'), ['sales', 'dream-people', 'liminal', 'testing'], true).rules.map((r) => r.id))
      .toEqual(['sales-commission', 'audit-testimonial', 'assessment-suggestion']);
    const loaded = (await load({
      $comment: 'notes', rules: [
        { $comment: 'a note', id: 'on-signup', on: { source: 'nexus', type: 'user.created', $why: 'x' }, call: { project: 'liminal', method: 'patch', path: '/users/{{subject}}/%C3%BC-x~y:z@1,2;3' } },
      ],
    }))();
    expect(loaded.rules).toEqual([{ id: 'on-signup', description: '', on: { source: 'nexus', type: 'user.created' }, call: { project: 'liminal', method: 'PATCH', path: '/users/{{subject}}/%C3%BC-x~y:z@1,2;3' } }]);
    expect(loaded.rulesOf('nexus')).toEqual([{ rule: 'on-signup', type: 'user.created' }]);
    expect(loaded.rulesOf('sales')).toEqual([]);
    expect(loaded.get('on-signup')?.call.method).toBe('PATCH');
  });
});

describe('rendering', () => {
  it('exact placeholders keep the type, embedded ones become text, keys and non-strings stay as written', () => {
    const e = event({ dealValue: 1200.5, won: true, none: null, items: [{ sku: 'a' }, { sku: 'b' }], nested: { x: 1 } });
    expect(render({
      amount: '{{data.dealValue}}', spaced: '{{ data.dealValue }}', won: '{{data.won}}', none: '{{data.none}}', sku: '{{data.items.1.sku}}',
      nested: '{{data.nested}}', text: 'v={{data.dealValue}} n={{data.nested}} z={{data.none}} s={{subject}}', seq: '{{sequence}}', actor: '{{actor}}',
      '{{subject}}': 'key', list: ['{{type}}', 1, false, null, { deep: '{{source}}' }], literal: '{single} {{', number: 3,
    }, e)).toStrictEqual({
      amount: 1200.5, spaced: 1200.5, won: true, none: null, sku: 'b', nested: { x: 1 }, text: `v=1200.5 n={"x":1} z= s=${e.subject}`, seq: 42,
      actor: { type: 'client', id: 'sales' }, '{{subject}}': 'key', list: ['deal.won', 1, false, null, { deep: 'sales' }], literal: '{single} {{', number: 3,
    });
  });

  it('reaches no prototype: __proto__, constructor, prototype and inherited methods render null or nothing', () => {
    const e = event({ dealId: 'd1', items: [] });
    const names = ['data.__proto__', 'data.constructor', 'data.constructor.prototype', 'data.toString', 'data.hasOwnProperty', 'data.valueOf',
      'data.__proto__.polluted', 'data.items.map', 'actor.constructor', 'id.length', 'type.constructor', '__proto__', 'constructor', 'data.__defineGetter__'];
    for (const name of names) {
      expect(render(`{{${name}}}`, e), name).toBeNull();
      expect(render(`<{{${name}}}>`, e), name).toBe('<>');
      expect(renderPath(`/x/{{${name}}}`, e), name).toBe('/x/');
    }
    // A template key "__proto__" (from JSON.parse of the file) is an own key of the result.
    const template = JSON.parse('{"__proto__": {"polluted": "{{data.dealId}}"}, "a": 1}');
    const out = render(template, e) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(JSON.stringify(out)).toBe('{"__proto__":{"polluted":"d1"},"a":1}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a path takes each value as one percent-encoded segment', () => {
    const e = event({ id: 'a b/../c?d#e%f', n: 7, o: { k: 'v' } });
    expect(renderPath('/deals/{{data.id}}/n/{{data.n}}/{{data.o}}/{{data.none}}', e)).toBe('/deals/a%20b%2F..%2Fc%3Fd%23e%25f/n/7/%7B%22k%22%3A%22v%22%7D/');
  });
});

describe('at start', () => {
  let database: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    database = await createTestDatabase();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nexus-rules-start-'));
  });
  afterAll(async () => {
    await database?.drop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const baseEnv = async () => ({
    PORT: String(await freePort()), HOST: '127.0.0.1', DATABASE_URL: database.url, DATA_DIR: path.join(dir, 'data'),
    CLIENTS_FILE: path.join(ROOT, 'clients.json'), PLANS_FILE: path.join(ROOT, 'plans.json'), LOG_LEVEL: 'silent',
  });
  const refusal = async (server: ServerProcess) => {
    const code = await server.exited;
    return { code, lines: server.output().trim().split('\n').filter((line) => !line.includes('oidc-provider WARNING')) };
  };

  it('the server exits 78 with one line per mistake, and so does `nexus automations list`', async () => {
    const file = path.join(dir, 'wrong.json');
    await fs.writeFile(file, JSON.stringify({ rules: MISTAKES.map(([r]) => r) }));
    const env = { ...await baseEnv(), AUTOMATIONS_FILE: file };
    const { code, lines } = await refusal(runServer(env));
    expect(code).toBe(78);
    expect(lines).toEqual([`Invalid automations file ${file}:`, ...EXPECTED.map((line) => `  - ${line}`)]);

    const listed = await run(undefined, ['automations', 'list'], { env });
    expectFailure(listed, 78, EXPECTED.join('; '));
  });

  it('a file that is not JSON, and a named file that is not there: exit 78, one line', async () => {
    const broken = path.join(dir, 'broken.json');
    await fs.writeFile(broken, '{"rules": [');
    const missing = path.join(dir, 'missing.json');
    for (const [file, reason] of [[broken, /^is not valid JSON: /], [missing, /^cannot be read: ENOENT/]] as const) {
      const env = { ...await baseEnv(), AUTOMATIONS_FILE: file };
      const { code, lines } = await refusal(runServer(env));
      expect(code).toBe(78);
      expect(lines[0]).toBe(`Invalid automations file ${file}:`);
      expect(lines).toHaveLength(2);
      expect(lines[1].slice(4)).toMatch(reason);
      expectFailure(await run(undefined, ['automations', 'list'], { env }), 78, reason);
    }
  });

  it('without AUTOMATIONS_FILE and no automations.json in the working directory: no rules, the hub starts', async () => {
    const cwd = await fs.mkdtemp(path.join(dir, 'cwd-'));
    const env = await baseEnv();
    const tsx = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
    const spawnIn = (args: string[]) => spawn(process.execPath, args, {
      cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...coverageEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (child: ReturnType<typeof spawnIn>) => {
      let output = '';
      child.stdout!.on('data', (chunk) => { output += chunk; });
      child.stderr!.on('data', (chunk) => { output += chunk; });
      return { output: () => output, exited: new Promise<number | null>((resolve) => child.on('close', resolve)) };
    };
    const hub = spawnIn(['--import', tsx, path.join(ROOT, 'src/server.ts')]);
    const watched = collect(hub);
    try {
      await waitForReady(`http://127.0.0.1:${env.PORT}`, { child: hub, output: watched.output, exited: watched.exited, stop: async () => null });
    } finally {
      hub.kill('SIGTERM');
      await watched.exited;
    }
    const cli = collect(spawnIn([path.join(ROOT, 'scripts/nexus.mjs'), 'automations', 'list']));
    expect(await cli.exited).toBe(0);
    expect(cli.output().trim()).toBe(`No rules in ${path.join(cwd, 'automations.json')}.`);
  });
});

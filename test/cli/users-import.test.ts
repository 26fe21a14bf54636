// `nexus users import` through the real process against a test hub's database: Supabase exports
// (JSON and CSV) and the hub's own formats; imported users sign in through the real login page
// with the passwords they had, and their names, pictures and verified flags reach the ID token.
// The fixtures' hashes were made by bcryptjs for the passwords below.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import bcrypt from 'bcryptjs';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import pg from 'pg';
import { startTestHub, type TestHub } from '../support/hub.js';
import { authorize, Browser } from '../support/browser.js';
import { postForm } from '../support/oauth.js';
import { expectFailure, expectSuccess, nexus, nexusJson, run, ROOT } from './support.js';

const FIXTURES = path.join(ROOT, 'test/cli/fixtures');
const SALES_CALLBACK = 'http://localhost:3001/auth/callback';
const PASSWORDS = {
  'ada@supabase.example': 'ada-old-supabase-password',
  'grace@supabase.example': 'grace-old-supabase-password',
  'hedy@supabase.example': 'hedy-old-supabase-password',
  'linus@supabase-csv.example': 'linus-old-csv-password',
  'margaret@supabase-csv.example': 'margaret-old-csv-password',
  'katherine@own.example': 'katherine-own-json-password',
  'dorothy@own.example': 'dorothy-own-csv-password',
};

let t: TestHub;
let db: pg.Client;
let jwks: ReturnType<typeof createRemoteJWKSet>;
let dir: string;

beforeAll(async () => {
  t = await startTestHub();
  db = new pg.Client({ connectionString: t.database.url });
  await db.connect();
  jwks = createRemoteJWKSet(new URL(`${t.url}/jwks`));
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nexus-import-'));
});
afterAll(async () => {
  await db?.end();
  await t?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const fixture = (name: string) => path.join(FIXTURES, name);

/** Writes a file for one test and returns its path; an array as JSON with one row a line (row n on line n + 1). */
async function file(name: string, content: string | unknown[]) {
  const target = path.join(dir, name);
  await fs.writeFile(target, typeof content === 'string' ? content : `[\n${content.map((row) => JSON.stringify(row)).join(',\n')}\n]\n`);
  return target;
}

/** Signs in to sales through the real login page and returns the verified ID token's claims. */
async function idTokenOf(email: string, password: string) {
  const result = await authorize(new Browser(t.url), { clientId: 'sales', redirectUri: SALES_CALLBACK, email, password, scope: 'openid email profile' });
  expect(result.code, `sign-in of ${email} failed:\n${result.body.slice(0, 1500)}`).toBeTruthy();
  const tokens = await postForm(t, '/token', 'sales', { grant_type: 'authorization_code', code: result.code!, code_verifier: result.verifier, redirect_uri: SALES_CALLBACK });
  expect(tokens.status).toBe(200);
  return (await jwtVerify(tokens.body.id_token, jwks, { issuer: t.url, audience: 'sales' })).payload;
}

async function expectLoginRefused(email: string, password: string) {
  const result = await authorize(new Browser(t.url), { clientId: 'sales', redirectUri: SALES_CALLBACK, email, password });
  expect(result.code).toBeNull();
  expect(result.body).toContain('Incorrect email or password.');
}

/** What the import may change: users (with their update times), grants and events. */
async function snapshot() {
  const users = await db.query('SELECT email, password_hash, full_name, avatar_url, email_verified, disabled_at, updated_at FROM users ORDER BY email');
  const grants = await db.query('SELECT u.email, project, role::text, source FROM project_access JOIN users u ON u.id = user_id ORDER BY 1, 2');
  const events = await db.query('SELECT count(*)::int AS n FROM events');
  return { users: users.rows, grants: grants.rows, events: events.rows[0].n as number };
}

async function eventsOf(type: string, email: string) {
  const { rows } = await db.query(`SELECT e.data, e.actor FROM events e JOIN users u ON u.id = e.user_id WHERE e.type = $1 AND u.email = $2`, [type, email]);
  return rows;
}

describe('nexus users import: Supabase exports', () => {
  it('JSON: the old $2a$ passwords sign in; names, pictures and verified flags reach the ID token; banned users are disabled', async () => {
    const result = await nexus(t, 'users', 'import', '--file', fixture('supabase-users.json'), '--format', 'supabase');
    expectSuccess(result);
    expect(result.stdout).toBe([
      `Imported ${fixture('supabase-users.json')} (4 rows, supabase).`,
      'created:   4 (1 without a password: they set one through password reset; 1 disabled: banned in the source)',
      'existing:  0, left as they are',
      'rejected:  0',
      '',
    ].join('\n'));

    const ada = await idTokenOf('ada@supabase.example', PASSWORDS['ada@supabase.example']);
    expect(ada).toMatchObject({ email: 'ada@supabase.example', email_verified: true, name: 'Ada Lovelace', picture: 'https://images.example.com/ada.png' });
    // `name` and `picture` in the metadata (other apps' spelling); no email_confirmed_at: unverified.
    const grace = await idTokenOf('GRACE@supabase.example', PASSWORDS['grace@supabase.example']);
    expect(grace).toMatchObject({ email: 'grace@supabase.example', email_verified: false, name: 'Grace Hopper', picture: 'https://images.example.com/grace.png' });

    // A Google sign-in has no password: imported without one (password reset sets it).
    const joan = await nexusJson(t, 'users', 'show', 'joan@supabase.example');
    expect(joan).toMatchObject({ fullName: 'Joan Clarke', avatarUrl: 'https://lh3.googleusercontent.com/a/joan', emailVerified: true, hasPassword: false, disabledAt: null });
    // Banned until 2999: imported disabled; the right password does not sign in until an operator enables the account.
    const hedy = await nexusJson(t, 'users', 'show', 'hedy@supabase.example');
    expect(hedy.disabledAt).not.toBeNull();
    await expectLoginRefused('hedy@supabase.example', PASSWORDS['hedy@supabase.example']);
    expectSuccess(await nexus(t, 'users', 'enable', 'hedy@supabase.example'));
    await idTokenOf('hedy@supabase.example', PASSWORDS['hedy@supabase.example']);

    // user.created, as `nexus users create` publishes it: the CLI acts; never the hash.
    const [created] = await eventsOf('user.created', 'ada@supabase.example');
    expect(created).toMatchObject({ actor: { type: 'admin', id: 'cli' }, data: { email: 'ada@supabase.example', name: 'Ada Lovelace', emailVerified: true, disabled: false } });
    expect(JSON.stringify(created)).not.toMatch(/\$2[aby]\$/);
  });

  it('CSV as psql writes it (t/f, quoted JSON metadata, PostgreSQL timestamps): the old passwords sign in', async () => {
    const result = await nexus(t, 'users', 'import', '--file', fixture('supabase-users.csv'), '--format', 'supabase', '--json');
    expectSuccess(result);
    expect(JSON.parse(result.stdout)).toEqual({
      file: fixture('supabase-users.csv'), format: 'supabase', dryRun: false, rows: 2, created: 2, withoutPassword: 0, disabled: 0, existing: 0, rolesAdded: 0, rejected: [],
    });
    const linus = await idTokenOf('linus@supabase-csv.example', PASSWORDS['linus@supabase-csv.example']);
    expect(linus).toMatchObject({ email_verified: true, name: 'Linus "Pascal" Torvalds, Jr.', picture: 'https://images.example.com/linus.png' });
    const margaret = await idTokenOf('margaret@supabase-csv.example', PASSWORDS['margaret@supabase-csv.example']);
    expect(margaret).toMatchObject({ email_verified: false, name: 'Margaret Hamilton' });
    expect(margaret.picture).toBeUndefined();
    await expectLoginRefused('margaret@supabase-csv.example', 'not her old password');
  });

  it('a second run changes nothing, publishes nothing and exits 0', async () => {
    const before = await snapshot();
    for (const name of ['supabase-users.json', 'supabase-users.csv']) {
      const again = await nexus(t, 'users', 'import', '--file', fixture(name), '--format', 'supabase');
      expectSuccess(again);
      expect(again.stdout).toMatch(/\ncreated: {3}0\nexisting: {2}[24], left as they are\nrejected: {2}0\n$/);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('soft-deleted rows are rejected; bans that ended are no bans; metadata that is not JSON is a reason', async () => {
    const [row] = JSON.parse(await fs.readFile(fixture('supabase-users.json'), 'utf8'));
    const export_ = await file('deleted.json', [
      { ...row, email: 'gone@supabase.example', deleted_at: '2026-01-01T00:00:00+00:00' },
      { ...row, email: 'was-banned@supabase.example', banned_until: '2020-01-01T00:00:00+00:00' },
      { ...row, email: 'forever@supabase.example', banned_until: 'infinity' },
      { ...row, email: 'broken@supabase.example', raw_user_meta_data: '{"full_name": ' },
      { ...row, email: 'when@supabase.example', banned_until: 'tomorrow' },
    ]);
    const result = await nexus(t, 'users', 'import', '--file', export_, '--format', 'supabase');
    expect(result.code).toBe(1);
    expect(result.stderr.split('\n').filter((line) => line.startsWith('line '))).toEqual([
      'line 2 (gone@supabase.example): deleted in Supabase (deleted_at is set)',
      'line 5 (broken@supabase.example): raw_user_meta_data is not JSON',
      'line 6 (when@supabase.example): banned_until is not a time',
    ]);
    expect((await nexusJson(t, 'users', 'show', 'was-banned@supabase.example')).disabledAt).toBeNull();
    expect((await nexusJson(t, 'users', 'show', 'forever@supabase.example')).disabledAt).not.toBeNull();
    expectFailure(await nexus(t, 'users', 'show', 'gone@supabase.example'), 1, 'no user with email gone@supabase.example');
  });
});

describe('nexus users import: the hub\'s own formats', () => {
  it('JSON ({ "users": [...] }) and CSV with roles; $2b$ and $2y$ hashes sign in; users without a hash have no password', async () => {
    expectSuccess(await nexus(t, 'users', 'import', '--file', fixture('users.json')));
    const csv = await nexus(t, 'users', 'import', '--file', fixture('users.csv'));
    expectSuccess(csv);
    expect(csv.stdout).toContain('created:   2 (1 without a password: they set one through password reset)');

    expect(await nexusJson(t, 'access', 'list', '--email', 'katherine@own.example')).toEqual([
      expect.objectContaining({ project: 'liminal', role: 'read_only', source: 'admin' }),
      expect.objectContaining({ project: 'sales', role: 'admin', source: 'admin' }),
    ]);
    expect(await nexusJson(t, 'access', 'list', '--email', 'dorothy@own.example')).toEqual([
      expect.objectContaining({ project: 'liminal', role: 'admin' }),
      expect.objectContaining({ project: 'sales', role: 'user' }),
    ]);
    expect(await eventsOf('access.granted', 'dorothy@own.example')).toEqual(expect.arrayContaining([
      expect.objectContaining({ actor: { type: 'admin', id: 'cli' }, data: expect.objectContaining({ project: 'liminal', role: 'admin', source: 'admin' }) }),
    ]));
    expect(await idTokenOf('katherine@own.example', PASSWORDS['katherine@own.example'])).toMatchObject({
      email_verified: true, name: 'Katherine Johnson', picture: 'https://images.example.com/katherine.png',
    });
    expect(await idTokenOf('dorothy@own.example', PASSWORDS['dorothy@own.example'])).toMatchObject({ name: 'Vaughan, Dorothy', email_verified: true });
    for (const email of ['mary@own.example', 'annie@own.example']) {
      expect(await nexusJson(t, 'users', 'show', email)).toMatchObject({ hasPassword: false, emailVerified: false });
    }
  });

  it('an existing user is left as they are, but gains the roles of projects they have no grant in', async () => {
    expectSuccess(await nexus(t, 'users', 'create', '--email', 'existing@own.example', '--name', 'Kept Name', '--password', 'kept password 123'));
    expectSuccess(await nexus(t, 'access', 'grant', '--email', 'existing@own.example', '--project', 'sales', '--role', 'read_only'));
    const before = await snapshot();
    const source = await file('existing.json', [
      { email: 'Existing@Own.example', password_hash: bcrypt.hashSync('another password', 4), name: 'Other Name', roles: { sales: 'admin', liminal: 'user' } },
    ]);
    const dry = await nexus(t, 'users', 'import', '--file', source, '--dry-run');
    expectSuccess(dry);
    expect(dry.stdout).toContain('\nto create: 0\nexisting:  1, left as they are (1 missing project role to add)\n');
    expect(await snapshot()).toEqual(before);

    const result = await nexus(t, 'users', 'import', '--file', source, '--json');
    expectSuccess(result);
    expect(JSON.parse(result.stdout)).toMatchObject({ created: 0, existing: 1, rolesAdded: 1 });
    expect(await eventsOf('access.granted', 'existing@own.example')).toHaveLength(2); // the CLI's grant, the import's
    expect(await nexusJson(t, 'access', 'list', '--email', 'existing@own.example')).toEqual([
      expect.objectContaining({ project: 'liminal', role: 'user' }),
      expect.objectContaining({ project: 'sales', role: 'read_only' }), // the grant in force is kept
    ]);
    expect(await nexusJson(t, 'users', 'show', 'existing@own.example')).toMatchObject({ fullName: 'Kept Name' });
    await idTokenOf('existing@own.example', 'kept password 123');

    const again = await nexus(t, 'users', 'import', '--file', source, '--json');
    expectSuccess(again);
    expect(JSON.parse(again.stdout)).toMatchObject({ created: 0, existing: 1, rolesAdded: 0 });
    expect(await eventsOf('access.granted', 'existing@own.example')).toHaveLength(2);
  });
});

describe('nexus users import: rejected rows', () => {
  const good = (n: number) => ({ email: `good${n}@rows.example`, password_hash: bcrypt.hashSync(`good password ${n}`, 4), name: `Good ${n}` });
  const huge = 'x'.repeat(100 * 1024);

  it('reports each rejected row with its line and reason, imports the good rows and exits 1', async () => {
    const rows = [
      good(1),
      { email: 'not an address' },
      { email: 'bad-hash@rows.example', password_hash: '$2a$10$tooShort' },
      { email: 'md5@rows.example', password_hash: '5f4dcc3b5aa765d61d8327deb882cf99' },
      { email: 'cost@rows.example', password_hash: `$2b$03$${'a'.repeat(53)}` },
      { email: 'slow@rows.example', password_hash: `$2b$31$${'a'.repeat(53)}` },
      { email: 'nul\u0000@rows.example' },
      { email: 'nul-name@rows.example', name: 'Ada\u0000Lovelace' },
      { email: 'huge-name@rows.example', name: huge },
      { email: `${huge}@rows.example` },
      { email: 'huge-avatar@rows.example', avatar_url: `https://images.example.com/${huge}` },
      { email: 'http-avatar@rows.example', avatar_url: 'http://images.example.com/a.png' },
      { email: 'project@rows.example', roles: { 'no-such-project': 'user' } },
      { email: 'role@rows.example', roles: { sales: 'owner' } },
      { email: 'hub-admin@rows.example', roles: { 'nexus-console': 'admin' } },
      { email: 'GOOD1@rows.example', name: 'Twice' },
      { email: 'types@rows.example', name: 42 },
      { email: 'flag@rows.example', email_verified: 'maybe' },
      { email: 'plain@rows.example', password: 'a plain-text password' },
      'not an object',
      good(2),
    ];
    const source = await file('rejected.json', rows);
    const result = await nexus(t, 'users', 'import', '--file', source);
    expect(result.code).toBe(1);
    // A reason never repeats a hash or a password from the file.
    expect(result.stdout + result.stderr).not.toMatch(/tooShort|5f4dcc3b|a plain-text password/);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toEqual([
      'line 3 ("not an address"): not a usable email address',
      'line 4 (bad-hash@rows.example): the password hash is not bcrypt ($2a$, $2b$ or $2y$, a cost of 04 to 31, 53 characters of salt and hash)',
      'line 5 (md5@rows.example): the password hash is not bcrypt ($2a$, $2b$ or $2y$, a cost of 04 to 31, 53 characters of salt and hash)',
      'line 6 (cost@rows.example): the password hash is not bcrypt ($2a$, $2b$ or $2y$, a cost of 04 to 31, 53 characters of salt and hash)',
      'line 7 (slow@rows.example): the bcrypt cost 31 is above 13: every sign-in would hold a password worker for too long (rehash it, or import without it and let the user reset the password)',
      'line 8 ("nul\\u0000@rows.example"): not a usable email address',
      'line 9 (nul-name@rows.example): Name must not contain control characters.',
      'line 10 (huge-name@rows.example): Name must be at most 200 characters.',
      'line 11 ("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…"): not a usable email address',
      'line 12 (huge-avatar@rows.example): The avatar URL must be at most 2048 characters.',
      'line 13 (http-avatar@rows.example): The avatar URL must start with https://.',
      'line 14 (project@rows.example): unknown project "no-such-project"',
      'line 15 (role@rows.example): the role in sales must be one of admin, user, read_only, not "owner"',
      "line 16 (hub-admin@rows.example): roles in the hub's own project (nexus-console) are not imported: use `nexus access grant`",
      'line 17 (good1@rows.example): duplicate: line 2 has the same address',
      'line 18 (types@rows.example): name must be text',
      'line 19 (flag@rows.example): email_verified must be true or false',
      'line 20 (plain@rows.example): unknown field "password"',
      'line 21 (no email): not a JSON object',
      'nexus: 19 of 21 rows rejected; the other rows were imported',
    ]);
    expect(result.stdout).toContain('created:   2\n');
    for (const n of [1, 2]) await idTokenOf(`good${n}@rows.example`, `good password ${n}`);
    const { rows: stored } = await db.query("SELECT email FROM users WHERE email LIKE '%rows.example' ORDER BY email");
    expect(stored.map((row) => row.email)).toEqual(['good1@rows.example', 'good2@rows.example']);
  });

  it('CSV: NUL bytes, a 100 KB cell, quoted line breaks, a short row and bad roles, each on its own line', async () => {
    const hash = bcrypt.hashSync('csv good password', 4);
    const source = await file('rejected.csv', [
      'email,password_hash,name,avatar_url,email_verified,roles',
      `csv-good@rows.example,${hash},"Multi-line\nis refused",,t,`, // lines 2-3
      `csv-good2@rows.example,${hash},Good,,yes,sales:read_only`,
      `csv-nul@rows.example,${hash},"A\u0000B",,,`,
      `csv-huge@rows.example,${hash},${huge},,,`,
      'csv-short@rows.example,,Short',
      `csv-roles@rows.example,,,,,sales=admin`,
      `csv-twice@rows.example,,,,,sales:admin;sales:user`,
      `csv-flag@rows.example,,,,maybe,`,
      '',
    ].join('\n'));
    const result = await nexus(t, 'users', 'import', '--file', source);
    expect(result.code).toBe(1);
    expect(result.stderr.trimEnd().split('\n')).toEqual([
      'line 2 (csv-good@rows.example): Name must not contain control characters.',
      'line 5 (csv-nul@rows.example): Name must not contain control characters.',
      'line 6 (csv-huge@rows.example): Name must be at most 200 characters.',
      'line 7 (csv-short@rows.example): has 3 fields, the header has 6',
      'line 8 (csv-roles@rows.example): roles must look like "sales:user;liminal:admin", not "sales=admin"',
      'line 9 (csv-twice@rows.example): project sales is given more than one role',
      'line 10 (csv-flag@rows.example): email_verified must be true or false',
      'nexus: 7 of 8 rows rejected; the other rows were imported',
    ]);
    expect(await nexusJson(t, 'access', 'list', '--email', 'csv-good2@rows.example')).toEqual([expect.objectContaining({ project: 'sales', role: 'read_only' })]);
  });

  it('--dry-run checks and reports as a real run would, writes nothing, and exits 1 on rejected rows', async () => {
    const source = await file('dry.json', [good(10), good(11), { email: 'dry-bad@rows.example', password_hash: 'nope' }, { email: 'good1@rows.example' }]);
    const before = await snapshot();
    const dry = await nexus(t, 'users', 'import', '--file', source, '--dry-run', '--json');
    expect(dry.code).toBe(1);
    expect(dry.stderr).toContain('nexus: 1 of 4 rows rejected; nothing was written (dry run)\n');
    const report = JSON.parse(dry.stdout);
    expect(report).toMatchObject({ dryRun: true, rows: 4, created: 2, existing: 1, rejected: [{ line: 4, email: 'dry-bad@rows.example' }] });
    expect(await snapshot()).toEqual(before);

    const real = await nexus(t, 'users', 'import', '--file', source, '--json');
    expect(real.code).toBe(1);
    expect({ ...JSON.parse(real.stdout), dryRun: true }).toEqual(report);
  });
});

describe('nexus users import: usage and unreadable files', () => {
  it('a wrong --format, a missing --file or a name without a known extension are usage errors (2)', async () => {
    expectFailure(await nexus(t, 'users', 'import', '--file', fixture('users.json'), '--format', 'xml'), 2, '--format must be one of json, csv, supabase, not "xml"');
    expectFailure(await nexus(t, 'users', 'import'), 2, 'missing --file; usage: nexus users import --file F [--format json|csv|supabase] [--dry-run]');
    expectFailure(await nexus(t, 'users', 'import', '--file'), 2, /--file/);
    expectFailure(await nexus(t, 'users', 'import', '--file', '/tmp/export.txt'), 2, 'cannot tell the format of /tmp/export.txt from its name: give --format json|csv|supabase');
    expectFailure(await nexus(t, 'users', 'import', '--file', fixture('users.json'), 'extra'), 2, 'unexpected argument "extra"');
    const help = await nexus(t, 'users', 'import', '--help');
    expectSuccess(help);
    expect(help.stdout).toContain('Usage: nexus users import --file F [--format json|csv|supabase] [--dry-run] [--json]');
  });

  it('a missing or unreadable file, or one that is not what its format says, fails (1) and imports nothing', async () => {
    const before = await snapshot();
    const cases: Array<[string[], RegExp]> = [
      [['--file', path.join(dir, 'missing.json')], /^cannot import .*missing\.json: ENOENT: no such file or directory/],
      [['--file', dir, '--format', 'json'], /^cannot import .*: EISDIR/],
      [['--file', path.join(dir, 'missing'), '--format', 'supabase'], /^cannot import .*missing: ENOENT: no such file or directory/],
      [['--file', `${'x'.repeat(5000)}.json`], /^cannot import x+\.json: ENAMETOOLONG/],
      [['--file', await file('broken.json', '[{"email": "a@b.example",')], /^cannot import .*broken\.json: not valid JSON: /],
      [['--file', await file('object.json', '{"people": []}')], /the JSON must be an array of users or an object with a "users" array$/],
      [['--file', await file('empty.csv', '')], /the file is empty: a CSV import needs a header row$/],
      [['--file', await file('no-email.csv', 'name\nAda\n')], /the CSV header has no "email" column$/],
      [['--file', await file('unknown.csv', 'email,password\na@b.example,secret\n')], /unknown CSV column "password" \(the columns are email, password_hash, name, avatar_url, email_verified, roles\)$/],
      [['--file', await file('quotes.csv', 'email,name\na@b.example,"Ada\nb@b.example,"Grace" Hopper\n')], /^cannot import .*quotes\.csv: Invalid Closing Quote: .* at line 3/],
    ];
    for (const [args, reason] of cases) expectFailure(await nexus(t, 'users', 'import', ...args), 1, reason);
    expect(await snapshot()).toEqual(before);
  });

  it('a Supabase export named as JSON or CSV says how to read it', async () => {
    for (const name of ['supabase-users.json', 'supabase-users.csv']) {
      expectFailure(await nexus(t, 'users', 'import', '--file', fixture(name)), 1, `cannot import ${fixture(name)}: it looks like a Supabase export (it has encrypted_password): use --format supabase`);
    }
  });
});

describe('nexus users import: where each JSON row starts', () => {
  it('counts lines in either shape of the document, with nested values, strings holding brackets and a repeated "users" member', async () => {
    const text = [
      '{ "note": "[not, the users]", "meta": { "users": [1, 2] },',
      '  "users": [ { "email": "x" } ],',
      '  "users": [',
      '    { "email": "first@lines.example", "roles": { "sales": "owner" } },',
      '    { "email": "second@lines.example", "name": "a \\" quote and [ bracket",',
      '      "roles": { "sales": "owner" } }, {',
      '      "email": "third@lines.example", "roles": "nope" }',
      '  ]',
      '}',
    ].join('\n');
    const result = await nexus(t, 'users', 'import', '--file', await file('lines.json', text), '--dry-run');
    expect(result.stderr.split('\n').slice(0, 3)).toEqual([
      'line 4 (first@lines.example): the role in sales must be one of admin, user, read_only, not "owner"',
      'line 5 (second@lines.example): the role in sales must be one of admin, user, read_only, not "owner"',
      'line 6 (third@lines.example): roles must look like "sales:user;liminal:admin", not "nope"',
    ]);
    const oneLine = await nexus(t, 'users', 'import', '--file', await file('one-line.json', '[{"email":"a"},{"email":"b"}]'), '--dry-run');
    expect(oneLine.stderr).toBe('line 1 ("a"): not a usable email address\nline 1 ("b"): not a usable email address\nnexus: 2 of 2 rows rejected; nothing was written (dry run)\n');
  });
});

// `nexus users ...` and `nexus access ...` through a real process against the test hub's
// PostgreSQL database; their effects checked through the hub's real login pages and tokens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startTestHub, type TestHub } from '../support/hub.js';
import { authorize, Browser } from '../support/browser.js';
import { postForm } from '../support/oauth.js';
import { expectFailure, expectSuccess, nexus, nexusJson, run } from './support.js';

let t: TestHub;
let jwks: ReturnType<typeof createRemoteJWKSet>;
const SALES_CALLBACK = 'http://localhost:3001/auth/callback';
const ADA_PASSWORD = 'correct horse battery';
const ROOT_PASSWORD = 'root password from stdin';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const INVALID_CREDENTIALS = 'Incorrect email or password.';

beforeAll(async () => {
  t = await startTestHub();
  jwks = createRemoteJWKSet(new URL(`${t.url}/jwks`));
});
afterAll(() => t?.stop());

/** Signs in to the sales project through the real login page. */
function signIn(email: string, password: string) {
  return authorize(new Browser(t.url), { clientId: 'sales', redirectUri: SALES_CALLBACK, email, password, scope: 'openid email offline_access leads:read' });
}

/** Signs in and exchanges the code: access and refresh tokens for the sales project. */
async function tokensFor(email: string, password: string) {
  const result = await signIn(email, password);
  expect(result.code, `sign-in of ${email} failed:\n${result.body.slice(0, 1500)}`).toBeTruthy();
  const tokens = await postForm(t, '/token', 'sales', {
    grant_type: 'authorization_code', code: result.code!, code_verifier: result.verifier, redirect_uri: SALES_CALLBACK,
  });
  expect(tokens.status).toBe(200);
  expect(tokens.body.refresh_token).toBeTruthy();
  return tokens.body;
}

function refresh(refreshToken: string) {
  return postForm(t, '/token', 'sales', { grant_type: 'refresh_token', refresh_token: refreshToken });
}

async function expectLoginRefused(email: string, password: string) {
  const result = await signIn(email, password);
  expect(result.code).toBeNull();
  expect(result.body).toContain(INVALID_CREDENTIALS);
}

describe('nexus users', () => {
  it('create: --json without the password hash, --password-stdin, --admin, no password', async () => {
    const created = await run(t, ['users', 'create', '--email', ' Ada@Example.com', '--password', ADA_PASSWORD, '--name', 'Ada Lovelace', '--json']);
    expectSuccess(created);
    const ada = JSON.parse(created.stdout);
    expect(ada).toMatchObject({
      id: expect.stringMatching(UUID), email: 'ada@example.com', fullName: 'Ada Lovelace', hasPassword: true, admin: false,
      emailVerified: true, disabledAt: null,
    });
    expect(Object.keys(ada)).not.toContain('passwordHash');
    expect(created.stdout).not.toMatch(/passwordHash|\$2[aby]\$/);
    expect(created.stdout).not.toContain(ADA_PASSWORD);

    const root = await run(t, ['users', 'create', '--email', 'root@example.com', '--admin', '--password-stdin'], { stdin: `${ROOT_PASSWORD}\n` });
    expectSuccess(root);
    expect(root.stdout).toMatch(/^Created user root@example\.com \([0-9a-f-]{36}\) with the hub admin role\.\n$/);
    // The admin role is a grant in the project with the hub audience (the Nexus Console).
    const console_ = await nexusJson(t, 'access', 'list', '--project', 'nexus-console');
    expect(console_).toEqual([expect.objectContaining({ email: 'root@example.com', project: 'nexus-console', role: 'admin', source: 'admin' })]);

    const grace = await nexus(t, 'users', 'create', '--email', 'grace@example.com', '--name', 'Grace Hopper');
    expectSuccess(grace);
    expect(grace.stdout).toContain('It has no password yet: run `nexus users set-password`.');

    // The password read from standard input (without its newline) signs in at the hub.
    await tokensFor('root@example.com', ROOT_PASSWORD);
  });

  it('create refuses a weak password, a taken email, a missing --email and an empty --password-stdin', async () => {
    expectFailure(await nexus(t, 'users', 'create', '--email', 'weak@example.com', '--password', 'short'), 1, 'Password must be at least 10 characters.');
    expectFailure(await nexus(t, 'users', 'create', '--email', 'ADA@example.com', '--password', 'another long password'), 1, 'An account with this email already exists.');
    expectFailure(await nexus(t, 'users', 'create', '--password', 'long enough password'), 2, /^missing --email; usage: nexus users create --email E/);
    expectFailure(await run(t, ['users', 'create', '--email', 'empty@example.com', '--password-stdin'], { stdin: '\n' }), 2, /^--password-stdin read an empty password;/);
    expect(await t.hub.db.prisma.user.count({ where: { email: { in: ['weak@example.com', 'empty@example.com'] } } })).toBe(0);
  });

  it('list (with --search) and show, never with password hashes', async () => {
    const all = await nexusJson<Array<Record<string, unknown>>>(t, 'users', 'list');
    expect(all.map((u) => [u.email, u.hasPassword])).toEqual([['ada@example.com', true], ['root@example.com', true], ['grace@example.com', false]]);
    expect(JSON.stringify(all)).not.toContain('passwordHash');

    const found = await nexus(t, 'users', 'list', '--search', 'LOVELACE');
    expectSuccess(found);
    const [header, ...rows] = found.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^EMAIL\s+NAME\s+ID\s+STATUS\s+CREATED$/);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatch(/^ada@example\.com\s+Ada Lovelace\s+[0-9a-f-]{36}\s+active\s+\d{4}-\d\d-\d\dT/);

    const shown = await nexus(t, 'users', 'show', 'ROOT@example.com');
    expectSuccess(shown);
    expect(shown.stdout).toMatch(/^email: +root@example\.com$/m);
    expect(shown.stdout).toMatch(/^status: +active$/m);
    expect(shown.stdout).toMatch(/^access: +nexus-console=admin$/m);
    expect(shown.stdout).toMatch(/^API keys: 0 active$/m);

    expectFailure(await nexus(t, 'users', 'show', 'nobody@example.com'), 1, 'no user with email nobody@example.com');
  });

  it('disable revokes refresh tokens and refuses sign-in; enable lets the user sign in again', async () => {
    const tokens = await tokensFor('ada@example.com', ADA_PASSWORD);

    const disabled = await nexusJson(t, 'users', 'disable', 'ada@example.com');
    expect(disabled).toMatchObject({ email: 'ada@example.com', disabledAt: expect.any(String), hasPassword: true });
    expect(disabled).not.toHaveProperty('passwordHash');

    const refused = await refresh(tokens.refresh_token);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
    await expectLoginRefused('ada@example.com', ADA_PASSWORD);

    const enabled = await nexus(t, 'users', 'enable', 'ada@example.com');
    expectSuccess(enabled);
    expect(enabled.stdout).toBe('Enabled ada@example.com.\n');
    await tokensFor('ada@example.com', ADA_PASSWORD);
  });

  it('set-password (--password or --password-stdin) replaces the password and signs the user out', async () => {
    const tokens = await tokensFor('ada@example.com', ADA_PASSWORD);
    const newPassword = 'a brand new password';
    const set = await nexus(t, 'users', 'set-password', 'ada@example.com', '--password', newPassword);
    expectSuccess(set);
    expect(set.stdout).toBe('Password set for ada@example.com; their sessions were ended.\n');
    expect((await refresh(tokens.refresh_token)).body.error).toBe('invalid_grant');
    await expectLoginRefused('ada@example.com', ADA_PASSWORD);
    await tokensFor('ada@example.com', newPassword);

    // grace was created without a password; one from standard input lets her sign in.
    const stdin = await run(t, ['users', 'set-password', 'grace@example.com', '--password-stdin'], { stdin: 'grace hopper password\r\n' });
    expectSuccess(stdin);
    await tokensFor('grace@example.com', 'grace hopper password');

    expectFailure(await nexus(t, 'users', 'set-password', 'ada@example.com', '--password', 'short'), 1, 'Password must be at least 10 characters.');
    expectFailure(await nexus(t, 'users', 'set-password', 'ada@example.com'), 2, /^give the password with --password P or --password-stdin;/);
  });
});

describe('nexus access', () => {
  it('grant puts the role in tokens, list shows it, revoke takes it back at the next refresh', async () => {
    const granted = await nexusJson(t, 'access', 'grant', '--email', 'grace@example.com', '--project', 'sales', '--role', 'read_only');
    expect(granted).toMatchObject({ email: 'grace@example.com', project: 'sales', role: 'read_only', source: 'admin', grantedAt: expect.any(String) });

    const tokens = await tokensFor('grace@example.com', 'grace hopper password');
    const before = await jwtVerify(tokens.access_token, jwks, { issuer: t.url, audience: 'urn:nexus:sales' });
    expect(before.payload).toMatchObject({ email: 'grace@example.com', role: 'read_only' });

    const listed = await nexus(t, 'access', 'list', '--email', 'grace@example.com');
    expectSuccess(listed);
    const [header, ...rows] = listed.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^EMAIL\s+PROJECT\s+ROLE\s+SOURCE\s+GRANTEDAT$/);
    expect(rows).toEqual([expect.stringMatching(/^grace@example\.com\s+sales\s+read_only\s+admin\s+\d{4}-/)]);

    const revoked = await nexus(t, 'access', 'revoke', '--email', 'grace@example.com', '--project', 'sales');
    expectSuccess(revoked);
    expect(revoked.stdout).toBe("Revoked grace@example.com's access to sales.\n");
    // sales is open: without a grant grace has its default role again.
    const refreshed = await refresh(tokens.refresh_token);
    expect(refreshed.status).toBe(200);
    expect((await jwtVerify(refreshed.body.access_token, jwks, { issuer: t.url })).payload.role).toBe('user');
  });

  it('grant, revoke and list refuse a missing grant, an invalid role, an unknown project, missing or conflicting flags', async () => {
    expectFailure(await nexus(t, 'access', 'revoke', '--email', 'grace@example.com', '--project', 'liminal'), 1, 'grace@example.com has no grant for liminal');
    expectFailure(await nexus(t, 'access', 'grant', '--email', 'grace@example.com', '--project', 'sales', '--role', 'owner'), 1, 'role must be one of admin, user, read_only');
    expectFailure(await nexus(t, 'access', 'grant', '--email', 'grace@example.com', '--project', 'nope', '--role', 'user'), 1, 'no client with id "nope"');
    expectFailure(await nexus(t, 'access', 'grant', '--email', 'grace@example.com', '--project', 'sales'), 2, /^missing --role; usage: nexus access grant/);
    expectFailure(await nexus(t, 'access', 'list', '--email', 'grace@example.com', '--project', 'sales'), 2, /^use either --email or --project;/);
  });
});

describe('nexus users delete', () => {
  it('refuses without --yes, then deletes the user with their grants', async () => {
    expectFailure(await nexus(t, 'users', 'delete', 'root@example.com'), 1, 'refusing without confirmation: add --yes');
    expect(await t.hub.users.findByEmail('root@example.com')).not.toBeNull();
    expect(await t.hub.db.prisma.projectAccess.count({ where: { user: { email: 'root@example.com' } } })).toBe(1);

    const deleted = await nexusJson(t, 'users', 'delete', 'root@example.com', '--yes');
    expect(deleted).toEqual({ email: 'root@example.com', id: expect.stringMatching(UUID), deleted: true });
    expect(await t.hub.db.prisma.projectAccess.count({ where: { userId: deleted.id } })).toBe(0);
    await expectLoginRefused('root@example.com', ROOT_PASSWORD);

    expect(await t.hub.users.findByEmail('root@example.com')).toBeNull();
    expectFailure(await nexus(t, 'users', 'delete', 'nobody@example.com', '--yes'), 1, 'no user with email nobody@example.com');
  });
});

describe('nexus plans', () => {
  it('set changes a user\'s plan (and its project grants), show reports it; unknown plan, user or missing flag fail', async () => {
    const set = await nexusJson(t, 'plans', 'set', '--email', 'ada@example.com', '--plan', 'pro');
    expect(set).toMatchObject({ email: 'ada@example.com', plan: 'pro', status: 'active' });
    const ada = (await t.hub.users.findByEmail('ada@example.com'))!;
    // liminal comes with pro and above (plans.json): the plan gives a grant.
    const grants = await t.hub.db.prisma.projectAccess.findMany({ where: { userId: ada.id, source: 'plan' } });
    expect(grants.map((g) => g.project)).toContain('liminal');

    const shown = await nexus(t, 'plans', 'show', 'ada@example.com');
    expectSuccess(shown);
    expect(shown.stdout).toBe('ada@example.com: pro (active)\n');

    expectFailure(await nexus(t, 'plans', 'set', '--email', 'ada@example.com', '--plan', 'platinum'), 1, 'unknown plan "platinum"');
    expectFailure(await nexus(t, 'plans', 'show', 'nobody@example.com'), 1, 'no user with email nobody@example.com');
    expectFailure(await nexus(t, 'plans', 'set', '--email', 'ada@example.com'), 2, /^missing --plan;/);
  });

  it('reads plans.json only for plan commands; a missing one is bad configuration there', async () => {
    const env = { env: { PLANS_FILE: '/nonexistent/plans.json' } };
    expectSuccess(await run(t, ['users', 'list'], env));
    const started = Date.now();
    const result = await run(t, ['plans', 'set', '--email', 'ada@example.com', '--plan', 'pro'], env);
    expectFailure(result, 78, /plans/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

// `nexus keys ...` and `nexus apikeys ...` through a real process against the test hub's
// PostgreSQL database; key changes checked at the running hub's JWKS (reloaded via LISTEN/NOTIFY),
// API keys at its token endpoint (RFC 8693 exchange).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { startTestHub, type TestHub } from '../support/hub.js';
import { postForm } from '../support/oauth.js';
import { expectFailure, expectSuccess, nexus, nexusJson, waitFor } from './support.js';

let t: TestHub;
let adaId: string;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

beforeAll(async () => {
  t = await startTestHub();
  adaId = (await t.hub.users.create({ email: 'ada@example.com', password: 'correct horse battery', fullName: 'Ada Lovelace' })).id;
});
afterAll(() => t?.stop());

async function jwks(): Promise<JSONWebKeySet> {
  return (await fetch(`${t.url}/jwks`)).json() as Promise<JSONWebKeySet>;
}

async function clientToken() {
  const response = await postForm(t, '/token', 'sales', { grant_type: 'client_credentials' });
  expect(response.status).toBe(200);
  return response.body.access_token;
}

describe('nexus keys', () => {
  it('rotate publishes a new signing key at the running hub; retire withdraws an old one', async () => {
    const initial = await nexusJson<Array<Record<string, unknown>>>(t, 'keys', 'list');
    expect(initial.map((k) => [k.use, k.current, k.retiredAt])).toEqual(expect.arrayContaining([['sig', true, null], ['cookie', true, null]]));
    expect(initial).toHaveLength(2);
    expect(JSON.stringify(initial)).not.toMatch(/private|"d"|"p"|"q"/);
    const oldKid = initial.find((k) => k.use === 'sig')!.kid as string;

    const before = await clientToken();
    expect(decodeProtectedHeader(before).kid).toBe(oldKid);

    const rotated = await nexusJson(t, 'keys', 'rotate');
    expect(rotated).toMatchObject({ kid: expect.any(String), use: 'sig', alg: 'RS256', current: true, retiredAt: null });
    expect(rotated.kid).not.toBe(oldKid);
    await waitFor(async () => (await jwks()).keys.some((k) => k.kid === rotated.kid), 'the new kid in /jwks');

    const published = await jwks();
    expect(published.keys.map((k) => k.kid)).toEqual([rotated.kid, oldKid]);
    const after = await clientToken();
    expect(decodeProtectedHeader(after).kid).toBe(rotated.kid);
    await jwtVerify(before, createLocalJWKSet(published), { issuer: t.url });
    await jwtVerify(after, createLocalJWKSet(published), { issuer: t.url });

    expectFailure(await nexus(t, 'keys', 'retire', rotated.kid), 1, `key ${rotated.kid} signs current tokens; run \`nexus keys rotate\` first`);

    const retired = await nexus(t, 'keys', 'retire', oldKid);
    expectSuccess(retired);
    expect(retired.stdout).toMatch(new RegExp(`^Retired key ${oldKid}\\. Running hubs pick the change up at once`));
    await waitFor(async () => !(await jwks()).keys.some((k) => k.kid === oldKid), 'the old kid gone from /jwks');
    const remaining = await jwks();
    expect(remaining.keys.map((k) => k.kid)).toEqual([rotated.kid]);
    await expect(jwtVerify(before, createLocalJWKSet(remaining), { issuer: t.url })).rejects.toThrow();
    await jwtVerify(await clientToken(), createLocalJWKSet(remaining), { issuer: t.url });

    const list = await nexus(t, 'keys', 'list');
    expectSuccess(list);
    const [header, ...rows] = list.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^KID\s+USE\s+ALG\s+STATUS\s+CREATEDAT\s+RETIREDAT$/);
    expect(rows).toHaveLength(4); // two signing keys and two cookie keys (rotate renews both)
    expect(rows.find((row) => row.startsWith(`${rotated.kid} `))).toMatch(/\ssig\s+RS256\s+current\s/);
    expect(rows.find((row) => row.startsWith(`${oldKid} `))).toMatch(/\ssig\s+RS256\s+retired\s+\S+\s+\d{4}-/);
    expect(rows.filter((row) => /\scookie\s/.test(row)).map((row) => row.split(/\s+/)[3]).sort()).toEqual(['current', 'published']);

    expectFailure(await nexus(t, 'keys', 'retire', oldKid), 1, `key ${oldKid} is already retired`);
    expectFailure(await nexus(t, 'keys', 'retire', 'no-such-kid'), 1, 'no key with kid no-such-kid');
  });
});

describe('nexus apikeys', () => {
  const exchange = (key: string) => postForm(t, '/token', 'sales', {
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: key,
    subject_token_type: 'urn:nexus:params:oauth:token-type:api-key',
  });

  it('create prints a key that the hub exchanges; list shows prefix and status, never the key; revoke stops it', async () => {
    const created = await nexus(t, 'apikeys', 'create', '--email', 'ada@example.com', '--name', 'ci', '--env', 'live', '--rate-limit', '10', '--expires', '30d');
    expectSuccess(created);
    const lines = created.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    const id = lines[0].match(/^API key (\S+) for ada@example\.com \(shown once, store it now\):$/)?.[1];
    expect(id).toMatch(UUID);
    const live = lines[1];
    expect(live).toMatch(/^nxk_live_[A-Za-z0-9_-]{43}$/);
    const expires = new Date(lines[2].match(/^Expires (\S+)\.$/)![1]).getTime();
    expect(Math.abs(expires - (Date.now() + 30 * 86_400_000))).toBeLessThan(5 * 60_000);

    const second = await nexusJson(t, 'apikeys', 'create', '--email', 'ada@example.com', '--name', 'notebook', '--env', 'test');
    expect(second).toMatchObject({
      id: expect.stringMatching(UUID), email: 'ada@example.com', name: 'notebook', env: 'test', rateLimit: null, expiresAt: null, revokedAt: null,
      key: expect.stringMatching(/^nxk_test_[A-Za-z0-9_-]{43}$/),
    });
    expect(second.prefix).toBe(second.key.slice(0, second.prefix.length));
    expect(second).not.toHaveProperty('keyHash');

    // The printed key really works: the hub exchanges it for a token for the user.
    const exchanged = await exchange(live);
    expect(exchanged.status, exchanged.text).toBe(200);
    const { payload } = await jwtVerify(exchanged.body.access_token, createRemoteJWKSet(new URL(`${t.url}/jwks`)), { issuer: t.url, audience: 'urn:nexus:sales' });
    expect(payload).toMatchObject({ sub: adaId, email: 'ada@example.com' });

    const listed = await nexusJson<Array<Record<string, unknown>>>(t, 'apikeys', 'list', '--email', 'ada@example.com');
    expect(listed.map((k) => [k.id, k.name, k.env, k.rateLimit, k.revokedAt])).toEqual([[id, 'ci', 'live', 10, null], [second.id, 'notebook', 'test', null, null]]);
    expect(listed[0].prefix).toBe(live.slice(0, (listed[0].prefix as string).length));
    expect(listed.map((k) => k.lastUsedAt === null)).toEqual([false, true]);
    for (const entry of listed) expect(Object.keys(entry)).not.toEqual(expect.arrayContaining(['key']));
    expect(JSON.stringify(listed)).not.toContain(live);
    expect(JSON.stringify(listed)).not.toContain(second.key);
    expect(JSON.stringify(listed)).not.toMatch(/keyHash/);

    const revoked = await nexus(t, 'apikeys', 'revoke', id!);
    expectSuccess(revoked);
    expect(revoked.stdout).toBe(`Revoked API key ${id} (ci, ada@example.com).\n`);

    const after = await nexus(t, 'apikeys', 'list');
    expectSuccess(after);
    expect(after.stdout).not.toContain(live);
    expect(after.stdout).not.toContain(second.key);
    const [header, ...rows] = after.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^ID\s+EMAIL\s+NAME\s+ENV\s+PREFIX\s+STATUS\s+RATELIMIT\s+LASTUSEDAT\s+EXPIRESAT$/);
    expect(rows.find((row) => row.startsWith(id!))).toMatch(new RegExp(`^${id}\\s+ada@example\\.com\\s+ci\\s+live\\s+${listed[0].prefix}\\s+revoked\\s+10\\s`));
    expect(rows.find((row) => row.startsWith(second.id))).toMatch(new RegExp(`\\s+notebook\\s+test\\s+${second.prefix}\\s+active\\s+-\\s+-\\s+-$`));

    const refused = await exchange(live);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: 'invalid_grant' });
  });

  it('create, list and revoke refuse bad input', async () => {
    const base = ['apikeys', 'create', '--email', 'ada@example.com', '--name', 'bad'];
    expectFailure(await nexus(t, ...base, '--env', 'staging'), 1, 'env must be live or test');
    expectFailure(await nexus(t, ...base, '--env', 'live', '--expires', '2x'), 1, '"2x" is not a duration: use a number followed by s, m, h or d (e.g. 30d)');
    expectFailure(await nexus(t, ...base, '--env', 'live', '--rate-limit', 'lots'), 2, /^--rate-limit takes a whole number of exchanges per minute;/);
    expectFailure(await nexus(t, 'apikeys', 'create', '--email', 'ada@example.com', '--env', 'live'), 2, /^missing --name;/);
    expectFailure(await nexus(t, 'apikeys', 'create', '--email', 'nobody@example.com', '--name', 'x', '--env', 'live'), 1, 'no user with email nobody@example.com');
    expectFailure(await nexus(t, 'apikeys', 'revoke', '00000000-0000-4000-8000-000000000000'), 1, 'no API key with id 00000000-0000-4000-8000-000000000000');
    // None of the refused commands created a key.
    expect(await t.hub.db.prisma.apiKey.count({ where: { name: { in: ['bad', 'x'] } } })).toBe(0);
  });
});

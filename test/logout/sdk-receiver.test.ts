// The receiving side of back-channel logout in @nexus/auth, against a real hub's discovery and
// JWKS: BackchannelLogout behind backchannelLogoutKoa and backchannelLogoutExpress. Tokens are
// signed here with the hub's own current key (valid ones) or with a stranger's key under the
// hub's kid (forged); every refusal is a 400 with the spec's JSON error and Cache-Control:
// no-store, replays within a token's lifetime are refused (also 8 in parallel: exactly one
// wins), and hostile requests (methods, types, NUL bytes, huge and repeated fields) never 5xx.
import type { AddressInfo } from 'node:net';
import type http from 'node:http';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Koa from 'koa';
import express from 'express';
import { importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import { BackchannelLogout, backchannelLogoutExpress, backchannelLogoutKoa, MemoryLogoutStore } from '@nexus/auth';
import { startTestHub, type TestHub } from '../support/hub.js';
import { closeServer } from '../support/process.js';
import { makeKey } from '../sdk/helpers.js';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const PATH = '/auth/backchannel-logout';

let t: TestHub;
let hubKey: JWK;
let store: MemoryLogoutStore;
const servers: http.Server[] = [];
let koaUrl: string;
let expressUrl: string;

async function listen(handler: http.RequestListener) {
  const { default: httpModule } = await import('node:http');
  const server = httpModule.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  t = await startTestHub();
  hubKey = (await t.hub.keys.load()).jwks.keys[0];
  store = new MemoryLogoutStore();
  const receiver = new BackchannelLogout({ issuer: t.url, clientId: 'sales', store, allowHttpIssuer: true });
  const koa = new Koa();
  koa.use(backchannelLogoutKoa(receiver));
  koa.use((ctx) => { ctx.body = 'the rest of the app'; });
  koaUrl = await listen(koa.callback());
  const app = express();
  app.use(backchannelLogoutExpress(receiver));
  app.use((_req, res) => { res.send('the rest of the app'); });
  expressUrl = await listen(app);
});

afterAll(async () => {
  for (const server of servers) await closeServer(server);
  await t?.stop();
});

const now = () => Math.floor(Date.now() / 1000);

/** A logout token as the hub signs it; `claims` with undefined values removes them. */
async function logoutToken(claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}, key?: CryptoKey) {
  const payload: Record<string, unknown> = {
    iss: t.url, aud: 'sales', iat: now(), exp: now() + 120, jti: randomUUID(), sub: randomUUID(), sid: randomUUID(), events: { [EVENT]: {} }, ...claims,
  };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: hubKey.kid, typ: 'logout+jwt', ...header }).sign(key ?? await importJWK(hubKey, 'RS256'));
}

function post(base: string, body: string, contentType = 'application/x-www-form-urlencoded') {
  return fetch(`${base}${PATH}`, { method: 'POST', headers: { 'content-type': contentType }, body });
}

async function expectRefused(response: Response, message?: RegExp) {
  expect(response.status).toBe(400);
  expect(response.headers.get('cache-control')).toBe('no-store');
  const body = await response.json() as { error: string; error_description: string };
  expect(body.error).toBe('invalid_request');
  if (message) expect(body.error_description).toMatch(message);
}

describe.each([['Koa', () => koaUrl], ['Express', () => expressUrl]])('backchannelLogout for %s', (_name, base) => {
  it('accepts a valid logout token: 200, no-store, and the session of its sid is ended', async () => {
    const sid = randomUUID();
    const sub = randomUUID();
    const response = await post(base(), new URLSearchParams({ logout_token: await logoutToken({ sid, sub }) }).toString());
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await store.isEnded({ sub, sid, signedInAt: now() })).toBe(true);
    // Another session of the same user (another sid) goes on.
    expect(await store.isEnded({ sub, sid: randomUUID(), signedInAt: now() - 10 })).toBe(false);
  });

  it('a token with sub and no sid ends every session of the user signed in until then', async () => {
    const sub = randomUUID();
    const response = await post(base(), new URLSearchParams({ logout_token: await logoutToken({ sub, sid: undefined }) }).toString());
    expect(response.status).toBe(200);
    expect(await store.isEnded({ sub, sid: 'a', signedInAt: now() - 60 })).toBe(true);
    expect(await store.isEnded({ sub, signedInAt: now() + 5 })).toBe(false);
  });

  it('refuses a replayed token within its lifetime', async () => {
    const body = new URLSearchParams({ logout_token: await logoutToken() }).toString();
    expect((await post(base(), body)).status).toBe(200);
    await expectRefused(await post(base(), body), /used already/);
  });

  it('8 parallel posts of one token: exactly one is accepted', async () => {
    const body = new URLSearchParams({ logout_token: await logoutToken() }).toString();
    let release!: () => void;
    const barrier = new Promise<void>((resolve) => { release = resolve; });
    const posts = Array.from({ length: 8 }, async () => { await barrier; return post(base(), body); });
    release();
    const statuses = (await Promise.all(posts)).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 400, 400, 400, 400, 400, 400, 400]);
  });

  it.each([
    ['forged (a stranger key under the hub kid)', async () => logoutToken({}, {}, (await makeKey()).privateKey), /not valid/],
    ['expired', () => logoutToken({ iat: now() - 600, exp: now() - 300 }), /not valid/],
    ['issued in the future', () => logoutToken({ iat: now() + 600, exp: now() + 720 }), /future/],
    ['carrying a nonce', () => logoutToken({ nonce: 'n-1' }), /nonce/],
    ['for another project', () => logoutToken({ aud: 'dream-people' }), /not valid/],
    ['from another issuer', () => logoutToken({ iss: 'https://evil.example' }), /not valid/],
    ['without the events claim', () => logoutToken({ events: undefined }), /events/],
    ['with the event as a string', () => logoutToken({ events: { [EVENT]: 'yes' } }), /events/],
    ['with neither sub nor sid', () => logoutToken({ sub: undefined, sid: undefined }), /neither sub nor sid/],
    ['without a jti', () => logoutToken({ jti: undefined }), /not valid/],
    ['typed as an access token', () => logoutToken({}, { typ: 'at+jwt' }), /not a logout token/],
    ['unsigned (alg none)', async () => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: t.url, aud: 'sales', sub: 'x', events: { [EVENT]: {} } })).toString('base64url')}.`, /not valid/],
  ])('refuses a token %s', async (_what, make, message) => {
    await expectRefused(await post(base(), new URLSearchParams({ logout_token: await make() }).toString()), message);
  });

  it('hostile requests: other methods 405, other types, no token, NUL bytes, repeats and huge bodies are 400, never 5xx', async () => {
    const url = `${base()}${PATH}`;
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const response = await fetch(url, { method });
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('POST');
    }
    const token = await logoutToken();
    await expectRefused(await post(base(), JSON.stringify({ logout_token: token }), 'application/json'), /x-www-form-urlencoded/);
    await expectRefused(await post(base(), ''), /logout_token is required/);
    await expectRefused(await post(base(), 'logout_token=%00%00'), /not valid/);
    await expectRefused(await post(base(), `logout_token=${token}\u0000`), /not valid/);
    await expectRefused(await post(base(), `logout_token=${token}&logout_token=${token}`), /logout_token is required/);
    await expectRefused(await post(base(), `logout_token=${'a'.repeat(70_000)}`), /too large|required/);
    await expectRefused(await post(base(), `${'x=1&'.repeat(5_000)}logout_token=abc`), /not valid/);
    await expectRefused(await post(base(), 'logout_token=a.b.c'), /not valid/);
    // The rest of the app is untouched.
    expect(await (await fetch(`${base()}/elsewhere`)).text()).toBe('the rest of the app');
  });
});

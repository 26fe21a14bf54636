// Back-channel logout from a real hub to examples/sales (the SDK's receiving side) and to a
// recording receiver: RP-initiated logout, "sign out everywhere else" in the account center, a
// password set by an operator and an admin disabling the user (admin API) each send every project the
// ended session signed in to a logout token, through the bus's durable queue (a receiver down at
// first gets it on retry). The token is checked with jose against the JWKS, claim by claim.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, decodeProtectedHeader, importJWK, jwtVerify, SignJWT } from 'jose';
import { Browser, parseForm } from '../support/browser.js';
import { signInToAccount } from '../billing/support.js';
import { CookieJar } from '../sdk/helpers.js';
import { adminApi, adminToken } from '../support/admin-token.js';
import { authorizeDreamPeople, endedEvents, EVENT, eventually, PASSWORD, salesUser, signInToSales, startLogoutHub, type LogoutHub } from './support.js';

let h: LogoutHub;
let jwks: ReturnType<typeof createRemoteJWKSet>;

beforeAll(async () => {
  h = await startLogoutHub();
  const discovery = await (await fetch(`${h.t.url}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
  jwks = createRemoteJWKSet(new URL(discovery.jwks_uri as string));
});
afterAll(() => h?.close());

const newUser = async (email: string) => (await h.t.hub.users.create({ email, password: PASSWORD, emailVerified: true })).id;

/** The logout tokens dream-people received for a user, verified. */
async function tokensFor(sub: string) {
  const tokens = [];
  for (const { form } of h.received) {
    const { payload } = await jwtVerify(form.get('logout_token')!, jwks, { issuer: h.t.url, audience: 'dream-people', typ: 'logout+jwt' });
    if (payload.sub === sub) tokens.push(payload);
  }
  return tokens;
}

describe('back-channel logout', () => {
  it('discovery advertises back-channel logout with sessions', async () => {
    const discovery = await (await fetch(`${h.t.url}/.well-known/openid-configuration`)).json();
    expect(discovery).toMatchObject({ backchannel_logout_supported: true, backchannel_logout_session_supported: true });
  });

  it("the example's back-channel route refuses what is no logout token (and a token without the sid it requires), never 5xx", async () => {
    const url = `${h.sales}/auth/backchannel-logout`;
    expect((await fetch(url)).status).toBe(405);
    for (const body of ['', 'logout_token=', 'logout_token=%00', `logout_token=${'x'.repeat(100_000)}`, 'logout_token=a&logout_token=b']) {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
      expect(response.status).toBe(400);
      expect(response.headers.get('cache-control')).toBe('no-store');
    }
    const key = (await h.t.hub.keys.load()).jwks.keys[0];
    const noSid = await new SignJWT({ sub: 'someone', events: { [EVENT]: {} } }).setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'logout+jwt' })
      .setIssuer(h.t.url).setAudience('sales').setIssuedAt().setExpirationTime('2m').setJti('no-sid').sign(await importJWK(key, 'RS256'));
    const refused = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `logout_token=${noSid}` });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({ error: 'invalid_request', error_description: 'the logout token has no sid' });
  });

  it('RP-initiated logout of every project ends the example\'s session and sends dream-people a token exactly per spec', async () => {
    const userId = await newUser('rp-logout@example.com');
    const jar = new CookieJar();
    await signInToSales(h, jar, 'rp-logout@example.com');
    await authorizeDreamPeople(h, jar);

    const confirm = await jar.follow(await jar.get(`${h.t.url}/session/end`), `${h.t.url}/session/end`);
    const { action, fields } = parseForm(confirm.body, '/session/end');
    const done = await jar.post(new URL(action, confirm.url), { ...fields, logout: 'yes' });
    expect(done.status).toBe(303);

    // The example's own cookie is still there; its next request finds the session ended.
    await eventually(async () => !(await salesUser(h, jar)));
    await eventually(async () => (await tokensFor(userId)).length === 1);

    const { form, contentType } = h.received.find((r) => r.form.get('logout_token') && JSON.parse(Buffer.from(r.form.get('logout_token')!.split('.')[1], 'base64url').toString()).sub === userId)!;
    expect(contentType).toBe('application/x-www-form-urlencoded');
    expect([...form.keys()]).toEqual(['logout_token']);
    const token = form.get('logout_token')!;
    const header = decodeProtectedHeader(token);
    expect(header).toMatchObject({ alg: 'RS256', typ: 'logout+jwt' });
    const currentKid = (await h.t.hub.keys.load()).jwks.keys[0].kid;
    expect(header.kid).toBe(currentKid);
    const { payload } = await jwtVerify(token, jwks, { issuer: h.t.url, audience: 'dream-people', typ: 'logout+jwt' });
    expect(Object.keys(payload).sort()).toEqual(['aud', 'events', 'exp', 'iat', 'iss', 'jti', 'sid', 'sub']);
    expect(payload).toMatchObject({ iss: h.t.url, aud: 'dream-people', sub: userId, events: { [EVENT]: {} } });
    expect(payload.exp! - payload.iat!).toBe(120);
    expect(Math.abs(payload.iat! - Date.now() / 1000)).toBeLessThan(30);
    expect(typeof payload.sid).toBe('string');
    expect(payload).not.toHaveProperty('nonce');

    // Queued as session.ended (one per project), each delivered: what `nexus events show` lists.
    const events = await endedEvents(h.t, userId);
    expect(events.map((e) => (e.data as { project: string }).project).sort()).toEqual(['dream-people', 'sales']);
    expect(events.every((e) => (e.data as { reason: string }).reason === 'logout')).toBe(true);
    expect((events.find((e) => (e.data as { project: string }).project === 'dream-people')!.data as { sid: string }).sid).toBe(payload.sid);
    for (const event of events) {
      await eventually(async () => (await h.t.hub.bus.deliveries.list({ eventId: event.id })).every((d) => d.status === 'delivered'));
      const deliveries = await h.t.hub.bus.deliveries.list({ eventId: event.id });
      expect(deliveries).toHaveLength(1);
      expect(deliveries[0]).toMatchObject({ rule: 'nexus:backchannel-logout', status: 'delivered', attempts: 1, lastStatus: 200 });
    }
  });

  it("'sign out everywhere else' in the account center sends a token to every project the other browser's session used", async () => {
    const email = 'elsewhere@example.com';
    const userId = await newUser(email);
    const jar = new CookieJar();
    await signInToSales(h, jar, email);
    await authorizeDreamPeople(h, jar);
    const center = new Browser(h.t.url);
    const shown = await signInToAccount(center, email, '/account/security');
    const { fields } = parseForm(shown.body, '/account/sessions/revoke-others');
    expect((await center.post('/account/sessions/revoke-others', fields)).status).toBe(303);

    await eventually(async () => !(await salesUser(h, jar)));
    await eventually(async () => (await tokensFor(userId)).length === 1);
    const events = await endedEvents(h.t, userId);
    expect(events.map((e) => [(e.data as { project: string }).project, (e.data as { reason: string }).reason]).sort()).toEqual([['dream-people', 'revoked'], ['sales', 'revoked']]);
    // The account center's own browser stays signed in; it used no project with a back-channel URI.
    expect((await center.get('/account/security')).status).toBe(200);
  });

  it("'Sign out' of one other browser in the account center sends that session's projects their tokens", async () => {
    const email = 'one-browser@example.com';
    const userId = await newUser(email);
    const jar = new CookieJar();
    await signInToSales(h, jar, email);
    const center = new Browser(h.t.url);
    const shown = await signInToAccount(center, email, '/account/security');
    const other = [...shown.body.matchAll(/<li class="browser-item([^"]*)" data-session="([^"]+)">/g)].find(([, classes]) => !classes.includes('browser-current'))![2];
    const { fields } = parseForm(shown.body, '/account/sessions/revoke-others');
    expect((await center.post(`/account/sessions/${encodeURIComponent(other)}/revoke`, { csrf: fields.csrf })).status).toBe(303);
    await eventually(async () => !(await salesUser(h, jar)));
    const events = await endedEvents(h.t, userId);
    expect(events.map((e) => e.data)).toEqual([expect.objectContaining({ uid: other, project: 'sales', reason: 'revoked' })]);
  });

  it('8 parallel sign-outs of one session queue one logout per project', async () => {
    const email = 'parallel@example.com';
    const userId = await newUser(email);
    const jar = new CookieJar();
    await signInToSales(h, jar, email);
    const center = new Browser(h.t.url);
    const shown = await signInToAccount(center, email, '/account/security');
    const { fields } = parseForm(shown.body, '/account/sessions/revoke-others');
    expect(await h.t.hub.db.prisma.oidcPayload.count({ where: { model: 'Session', accountId: userId } })).toBe(2);
    let release!: () => void;
    const barrier = new Promise<void>((resolve) => { release = resolve; });
    const attempts = Array.from({ length: 8 }, async () => { await barrier; return (await center.post('/account/sessions/revoke-others', fields)).status; });
    release();
    expect(await Promise.all(attempts)).toEqual(Array(8).fill(303));
    const events = await endedEvents(h.t, userId);
    expect(events.map((e) => (e.data as { project: string }).project)).toEqual(['sales']);
    await eventually(async () => !(await salesUser(h, jar)));
  });

  it('a password set by an operator ends every session: each project gets its token', async () => {
    const email = 'set-password@example.com';
    const userId = await newUser(email);
    const jar = new CookieJar();
    await signInToSales(h, jar, email);
    await authorizeDreamPeople(h, jar);
    await h.t.hub.users.setPassword(email, 'a brand new passphrase 2026');
    await eventually(async () => !(await salesUser(h, jar)));
    await eventually(async () => (await tokensFor(userId)).length === 1);
    expect((await endedEvents(h.t, userId)).map((e) => (e.data as { reason: string }).reason)).toEqual(['password_changed', 'password_changed']);
  });

  it('an admin disabling the user (admin API): a receiver down at first gets the token on retry', async () => {
    const email = 'disabled@example.com';
    const userId = await newUser(email);
    const jar = new CookieJar();
    await signInToSales(h, jar, email);
    await authorizeDreamPeople(h, jar);
    h.failNext(503);
    const disabled = await adminApi(h.t, await adminToken(h.t), 'POST', `/users/${encodeURIComponent(email)}/disable`);
    expect(disabled.status).toBe(200);
    await eventually(async () => !(await salesUser(h, jar)));
    await eventually(async () => h.received.filter((r) => r.answered === 200 && tokenSub(r) === userId).length === 1);
    const refused = h.received.filter((r) => r.answered === 503 && tokenSub(r) === userId);
    expect(refused).toHaveLength(1);
    // Two tokens: each attempt signs its own (a fresh jti and iat), both verify.
    const tokens = await tokensFor(userId);
    expect(tokens).toHaveLength(2);
    expect(new Set(tokens.map((p) => p.jti)).size).toBe(2);
    const event = (await endedEvents(h.t, userId)).find((e) => (e.data as { project: string }).project === 'dream-people')!;
    expect((event.data as { reason: string }).reason).toBe('disabled');
    await eventually(async () => (await h.t.hub.bus.deliveries.list({ eventId: event.id }))[0]?.status === 'delivered');
    const [delivery] = await h.t.hub.bus.deliveries.list({ eventId: event.id });
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 2, lastStatus: 200 });
    const log = (await h.t.hub.bus.deliveries.get(delivery.id))!.attemptLog;
    expect(log.map((a) => a.status)).toEqual([503, 200]);
  });
});

function tokenSub(received: { form: URLSearchParams }): string | undefined {
  const token = received.form.get('logout_token');
  return token ? JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).sub : undefined;
}

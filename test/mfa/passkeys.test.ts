// Passkeys through the hub's HTTP routes, with a software authenticator (passkeys-authenticator.ts)
// that signs what it is told to: registration on /account/passkeys and its events, passwordless
// sign-in to sales with `amr` in the ID token, and every refusal — replayed, foreign and expired
// challenges, another origin or RP ID, unknown and someone else's credentials, a cloned
// authenticator's counter, the second factor without a password — plus 8 parallel uses of one
// assertion and 8 parallel removals (one wins), and hostile input that never answers 5xx.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { startTestHub, type TestHub } from '../support/hub.js';
import { Browser, parseForm, pkcePair } from '../support/browser.js';
import { postForm } from '../support/oauth.js';
import { createUser, eventRows, page, signInToAccount, textOf } from '../billing/support.js';
import { together } from '../gateway/support.js';
import { assert, createCredential, type Credential } from './passkeys-authenticator.js';

const CALLBACK = 'http://localhost:3001/auth/callback';
let t: TestHub;
let rp: { origin: string; rpId: string };

beforeAll(async () => {
  t = await startTestHub();
  rp = { origin: t.url, rpId: new URL(t.url).hostname };
});
afterAll(async () => { await t?.stop(); });

function postJson(browser: Browser, path: string, body: unknown) {
  return browser.request(path, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) });
}

/** A signed-in account-center browser of a new user, with the passkeys page's CSRF token. */
async function accountOf(email: string) {
  const user = await createUser(t, email, 'Passkey Person');
  const browser = new Browser(t.url);
  await signInToAccount(browser, email, '/account/passkeys');
  const { fields } = parseForm((await page(browser, '/account/passkeys')).body, '/account/passkeys');
  return { user, browser, csrf: fields.csrf };
}

async function register(account: Awaited<ReturnType<typeof accountOf>>, name = 'Test key', opts: Partial<typeof rp> & { synced?: boolean } = {}) {
  const options = await (await postJson(account.browser, '/account/passkeys/options', { csrf: account.csrf })).json() as { challenge: string; user: { id: string } };
  const { credential, json } = createCredential(options, { ...rp, ...opts });
  const answer = await postJson(account.browser, '/account/passkeys', { csrf: account.csrf, name, credential: json });
  return { credential, json, answer, options };
}

/** A new sign-in interaction of the sales project: its uid, CSRF token and the browser holding its cookie. */
async function signInPage(browser = new Browser(t.url)) {
  const { verifier, challenge } = pkcePair();
  const params = new URLSearchParams({
    client_id: 'sales', redirect_uri: CALLBACK, response_type: 'code', scope: 'openid email', code_challenge: challenge,
    code_challenge_method: 'S256', state: 'state-1', nonce: randomBytes(8).toString('hex'),
  });
  const login = await browser.follow(await browser.get(`/auth?${params}`));
  const { action, fields } = parseForm(login.body, '/login');
  return { browser, uid: action.split('/')[2], csrf: fields.csrf, verifier, body: login.body, csp: login.response.headers.get('content-security-policy') };
}

async function passkeyOptions(signIn: Awaited<ReturnType<typeof signInPage>>) {
  const answer = await postJson(signIn.browser, `/interaction/${signIn.uid}/passkey/options`, { csrf: signIn.csrf });
  expect(answer.status).toBe(200);
  return answer.json() as Promise<{ challenge: string; allowCredentials: unknown[]; rpId: string; userVerification: string }>;
}

const login = (signIn: Awaited<ReturnType<typeof signInPage>>, credential: unknown) =>
  postJson(signIn.browser, `/interaction/${signIn.uid}/passkey/login`, { csrf: signIn.csrf, credential });

async function errorOf(answer: Response) {
  return { status: answer.status, error: ((await answer.json()) as { error?: string }).error ?? '' };
}

describe('registration on /account/passkeys', () => {
  it('adds a named passkey, lists it and publishes passkey.added; the page carries only the static script', async () => {
    const account = await accountOf('reg@example.com');
    const shown = await page(account.browser, '/account/passkeys');
    expect(shown.response.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(shown.body).toContain('You have no passkeys yet.');
    expect(shown.body.match(/<script[^>]*>/g)).toEqual(['<script src="/assets/passkeys.js" defer>']);
    // Every other page keeps the script-free policy.
    const keys = await page(account.browser, '/account/keys');
    expect(keys.response.headers.get('content-security-policy')).not.toContain('script-src');
    const script = await fetch(`${t.url}/assets/passkeys.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.headers.get('cache-control')).toBe('public, max-age=3600');

    const { answer, options } = await register(account, 'MacBook Touch ID');
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ added: { name: 'MacBook Touch ID' }, redirect: '/account/passkeys?done=added' });
    // The RP is the ISSUER; resident keys required so the passkey can name its user.
    expect(options).toMatchObject({ rp: { id: rp.rpId, name: 'Nexus' }, authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' } });
    const listed = await page(account.browser, '/account/passkeys?done=added');
    expect(listed.body).toContain('MacBook Touch ID');
    expect(listed.body).toContain('This device only');
    const events = await eventRows(t, { type: 'passkey.added', userId: account.user.id });
    expect(events).toHaveLength(1);
    expect(Object.keys(events[0].data as object).sort()).toEqual(['backedUp', 'id', 'name', 'synced']);
  });

  it('refuses a replayed challenge, another origin or RP ID, a foreign challenge, and a plain form post', async () => {
    const account = await accountOf('reg-refusals@example.com');
    const first = await register(account);
    expect(first.answer.status).toBe(200);
    // The same answer again: its challenge was spent.
    const replay = await postJson(account.browser, '/account/passkeys', { csrf: account.csrf, name: 'again', credential: first.json });
    expect(await errorOf(replay)).toMatchObject({ status: 400, error: expect.stringMatching(/expired or was already used/) });
    // Spent before verification: a wrong origin burns the challenge and is refused.
    expect((await register(account, 'phished', { origin: 'https://nexus.example.evil' })).answer.status).toBe(400);
    expect((await register(account, 'other rp', { rpId: 'evil.example' })).answer.status).toBe(400);
    // Another user's challenge.
    const other = await accountOf('reg-other@example.com');
    const theirs = await (await postJson(other.browser, '/account/passkeys/options', { csrf: other.csrf })).json() as { challenge: string; user: { id: string } };
    const stolen = createCredential(theirs, rp);
    expect((await postJson(account.browser, '/account/passkeys', { csrf: account.csrf, name: 'stolen', credential: stolen.json })).status).toBe(400);
    // No script: the form posts urlencoded and the page says why nothing happened.
    const plain = await account.browser.post('/account/passkeys', { csrf: account.csrf, name: 'no script' });
    expect(plain.status).toBe(400);
    expect(await plain.text()).toContain('needs JavaScript');
    expect(await t.hub.db.prisma.passkey.count({ where: { userId: account.user.id } })).toBe(1);
  });

  it('needs the session and its CSRF token', async () => {
    const account = await accountOf('reg-csrf@example.com');
    expect((await postJson(account.browser, '/account/passkeys/options', { csrf: 'wrong' })).status).toBe(403);
    expect((await postJson(new Browser(t.url), '/account/passkeys/options', { csrf: account.csrf })).status).toBe(401);
  });

  it('renames and removes (someone else\'s passkey is 404); 8 parallel removals publish passkey.removed once', async () => {
    const account = await accountOf('remove@example.com');
    const { credential } = await register(account);
    const other = await accountOf('remove-other@example.com');
    const path = `/account/passkeys/${encodeURIComponent(credential.id)}`;
    expect((await other.browser.post(`${path}/rename`, { csrf: other.csrf, name: 'mine now' })).status).toBe(404);
    expect((await other.browser.post(`${path}/remove`, { csrf: other.csrf })).status).toBe(404);
    expect((await account.browser.post(`${path}/rename`, { csrf: account.csrf, name: 'bad\u0000name' })).status).toBe(400);
    const renamed = await account.browser.post(`${path}/rename`, { csrf: account.csrf, name: 'Work laptop' });
    expect(renamed.status).toBe(303);
    expect((await t.hub.db.prisma.passkey.findUniqueOrThrow({ where: { id: credential.id } })).name).toBe('Work laptop');

    const answers = await together(8, () => account.browser.post(`${path}/remove`, { csrf: account.csrf }));
    expect(answers.map((answer) => answer.status).sort()).toEqual([303, 404, 404, 404, 404, 404, 404, 404]);
    expect(await eventRows(t, { type: 'passkey.removed', userId: account.user.id })).toHaveLength(1);
  });
});

describe('sign-in with a passkey', () => {
  let account: Awaited<ReturnType<typeof accountOf>>;
  let credential: Credential;

  beforeAll(async () => {
    account = await accountOf('signin@example.com');
    ({ credential } = await register(account));
  });

  it('signs in passwordless: the access token of the project says hwk and mfa; the login page allows only the static script', async () => {
    const signIn = await signInPage();
    expect(signIn.csp).toContain("script-src 'self'");
    expect(signIn.csp).not.toMatch(/unsafe-inline/);
    expect(signIn.body).toContain('autocomplete="username webauthn"');
    const options = await passkeyOptions(signIn);
    expect(options).toMatchObject({ rpId: rp.rpId, allowCredentials: [], userVerification: 'preferred' });
    const answer = await login(signIn, assert(credential, options.challenge, rp));
    expect(answer.status).toBe(200);
    const { redirect } = await answer.json() as { redirect: string };
    const back = await signIn.browser.follow(await signIn.browser.get(redirect));
    const code = new URL(back.url).searchParams.get('code');
    expect(code, back.body.slice(0, 500)).toBeTruthy();
    const tokens = await postForm(t, '/token', 'sales', { grant_type: 'authorization_code', code: code!, redirect_uri: CALLBACK, code_verifier: signIn.verifier });
    expect(tokens.status).toBe(200);
    expect(decodeJwt(tokens.body.access_token)).toMatchObject({ sub: account.user.id, amr: ['hwk', 'mfa'], acr: 'urn:nexus:acr:mfa' });
    expect(decodeJwt(tokens.body.id_token)).toMatchObject({ sub: account.user.id, amr: ['hwk', 'mfa'], acr: 'urn:nexus:acr:mfa' });
  });

  it('a synced passkey says swk; one without user verification is a single factor (acr password)', async () => {
    const synced = await accountOf('synced@example.com');
    const { credential: key } = await register(synced, 'Phone (iCloud Keychain)', { synced: true });
    expect(textOf((await page(synced.browser, '/account/passkeys')).body)).toContain('Synced');
    const tokenAmr = async (opts: { synced?: boolean; userVerified?: boolean }) => {
      const signIn = await signInPage();
      const answer = await login(signIn, assert(key, (await passkeyOptions(signIn)).challenge, { ...rp, ...opts }));
      const back = await signIn.browser.follow(await signIn.browser.get(((await answer.json()) as { redirect: string }).redirect));
      const tokens = await postForm(t, '/token', 'sales', { grant_type: 'authorization_code', code: new URL(back.url).searchParams.get('code')!, redirect_uri: CALLBACK, code_verifier: signIn.verifier });
      const claims = decodeJwt(tokens.body.id_token);
      return { amr: claims.amr, acr: claims.acr };
    };
    expect(await tokenAmr({ synced: true })).toEqual({ amr: ['swk', 'mfa'], acr: 'urn:nexus:acr:mfa' });
    expect(await tokenAmr({ synced: true, userVerified: false })).toEqual({ amr: ['swk'], acr: 'urn:nexus:acr:password' });
  });

  it('refuses a replayed assertion, another origin or RP ID, an unknown credential and a cloned counter', async () => {
    const signIn = await signInPage();
    const first = assert(credential, (await passkeyOptions(signIn)).challenge, rp);
    expect((await login(signIn, first)).status).toBe(200);

    const again = await signInPage();
    expect(await errorOf(await login(again, first))).toMatchObject({ status: 400, error: expect.stringMatching(/expired or was already used/) });
    expect((await login(again, assert(credential, (await passkeyOptions(again)).challenge, { ...rp, origin: 'http://localhost:1' }))).status).toBe(400);
    expect((await login(again, assert(credential, (await passkeyOptions(again)).challenge, { ...rp, rpId: 'evil.example' }))).status).toBe(400);
    const stranger = { ...credential, id: randomBytes(16).toString('base64url') };
    expect(await errorOf(await login(again, assert(stranger, (await passkeyOptions(again)).challenge, rp)))).toMatchObject({ status: 400, error: expect.stringMatching(/not registered/) });
    // A copy of the key that has not seen the later sign-ins answers with an older counter.
    const clone = assert(credential, (await passkeyOptions(again)).challenge, { ...rp, counter: 1 });
    expect(await errorOf(await login(again, clone))).toMatchObject({ status: 400, error: expect.stringMatching(/counter/) });
    // A challenge that does not exist at all.
    expect((await login(again, assert(credential, randomBytes(32).toString('base64url'), rp))).status).toBe(400);
  });

  it('8 parallel posts of one assertion: exactly one signs in', async () => {
    const browsers = await Promise.all(Array.from({ length: 8 }, () => signInPage()));
    const options = await passkeyOptions(browsers[0]);
    const assertion = assert(credential, options.challenge, rp);
    const answers = await together(8, (i) => login(browsers[i], assertion));
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 400, 400, 400, 400, 400, 400, 400]);
  });

  it('the second-factor route needs a verified password first, and only that account\'s passkeys count', async () => {
    const signIn = await signInPage();
    const options = await passkeyOptions(signIn);
    const answer = await postJson(signIn.browser, `/interaction/${signIn.uid}/passkey/second-factor`, { csrf: signIn.csrf, credential: assert(credential, options.challenge, rp) });
    expect(await errorOf(answer)).toEqual({ status: 400, error: 'Sign in with your password first.' });

    // After another user's password, this passkey is someone else's: refused like an unknown one.
    const other = await accountOf('second-other@example.com');
    await register(other);
    const afterPassword = await signInPage();
    const step = await afterPassword.browser.follow(await afterPassword.browser.post(`/interaction/${afterPassword.uid}/login`, { csrf: afterPassword.csrf, email: 'second-other@example.com', password: 'correct horse battery staple' }));
    expect(step.body).toContain('Use a passkey');
    const bound = await passkeyOptions(afterPassword);
    expect(bound.allowCredentials).toHaveLength(1);
    const foreign = await postJson(afterPassword.browser, `/interaction/${afterPassword.uid}/passkey/second-factor`, { csrf: afterPassword.csrf, credential: assert(credential, bound.challenge, rp) });
    expect(foreign.status).toBe(400);
  });

  it('CSRF and hostile input on the JSON routes: never 5xx', async () => {
    const signIn = await signInPage();
    const base = `/interaction/${signIn.uid}/passkey`;
    expect((await postJson(signIn.browser, `${base}/options`, { csrf: 'nope' })).status).toBe(403);
    const hostile: unknown[] = [
      null, 'x', 42, [], { id: '\u0000' }, { id: 'A'.repeat(100_000) }, { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: [] },
      { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: { clientDataJSON: Buffer.from('{"type":"webauthn.get","challenge":["x"]}').toString('base64url'), authenticatorData: 'AA', signature: 'AA' } },
      { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: { clientDataJSON: 'not base64!', authenticatorData: 'AA', signature: 'AA' } },
      { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: { clientDataJSON: Buffer.from('{"type":"webauthn.get","challenge":"\u0000"}').toString('base64url'), authenticatorData: 'AA', signature: 'AA', userHandle: 7 } },
    ];
    const statuses: number[] = [];
    for (const credential of hostile) {
      for (const route of ['login', 'second-factor']) statuses.push((await postJson(signIn.browser, `${base}/${route}`, { csrf: signIn.csrf, credential })).status);
      statuses.push((await postJson(account.browser, '/account/passkeys', { csrf: account.csrf, name: 'x', credential })).status);
    }
    const raw = async (path: string, init: RequestInit) => (await signIn.browser.request(path, init)).status;
    statuses.push(await raw(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"csrf": "' }));
    statuses.push(await raw(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ csrf: signIn.csrf, credential: 'A'.repeat(40_000) }) }));
    statuses.push(await raw(`${base}/login`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' }));
    statuses.push(await raw(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([signIn.csrf]) }));
    statuses.push(await raw(`${base}/login`, { method: 'GET' }), await raw(`${base}/options`, { method: 'PUT' }), await raw('/account/passkeys/options', { method: 'GET' }));
    statuses.push(await raw(`/interaction/${'x'.repeat(5000)}/passkey/options`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }));
    statuses.push((await account.browser.post(`/account/passkeys/${encodeURIComponent('\u0000'.repeat(3))}/remove`, { csrf: account.csrf })).status);
    statuses.push((await account.browser.post(`/account/passkeys/${'A'.repeat(5000)}/rename`, { csrf: account.csrf, name: 'n'.repeat(10_000) })).status);
    expect(statuses.filter((status) => status >= 500)).toEqual([]);
    expect(statuses.filter((status) => status < 400)).toEqual([]);
  });
});

// TOTP through a real hub: enrolment on /account/mfa (QR code as inline SVG, no script, codes
// computed here with otpauth), the recovery codes shown once, sign-in to sales with password and
// code (amr/acr in the ID token and in the access token, verified against the JWKS), replayed
// and wrong codes, the wrong-code limit under 8 parallel guesses (the password is never locked),
// recovery codes once each, and turning it off with a code only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startTestHub, type TestHub } from '../support/hub.js';
import { Browser, parseForm } from '../support/browser.js';
import { createUser, eventRows, page, PASSWORD, refresh, verifyAccessToken } from '../billing/support.js';
import { codeFor, enrol, errorOf, exchange, recoveryCodesOf, secondFactorForm, startSignIn, submitSecondFactor, wrongCode } from './totp-support.js';

let t: TestHub;
let jwks: ReturnType<typeof createRemoteJWKSet>;

beforeAll(async () => {
  // The parallel sign-ins below post the right password 8 times at once: the password limit
  // counts each before bcrypt, so it must have room for them.
  t = await startTestHub({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '20' });
  jwks = createRemoteJWKSet(new URL(`${t.url}/jwks`));
});
afterAll(() => t?.stop());

const barrier = () => {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => { open = resolve; });
  return { gate, open };
};

describe('enrolment on /account/mfa', () => {
  it('shows a QR code (inline SVG), the grouped secret and the otpauth URI, in a page without script', async () => {
    await createUser(t, 'qr@example.com');
    const browser = new Browser(t.url);
    const { body } = await (async () => {
      const { signInToAccount } = await import('../billing/support.js');
      return signInToAccount(browser, 'qr@example.com', '/account/mfa');
    })();
    expect(body).toMatch(/<div class="mfa-qr"><svg[^>]*viewBox/);
    expect(body).not.toMatch(/<script/i);
    expect(body).toMatch(/<p class="mfa-secret"><code>([A-Z2-7]{4} ){7}[A-Z2-7]{4}<\/code>/);
    expect(body).toContain('otpauth://totp/Nexus:qr%40example.com?issuer=Nexus&amp;secret=');
    expect(body).toContain('name="csrf"');
    // Reloading keeps the same secret (an already scanned code stays good until confirmed).
    const again = await page(browser, '/account/mfa');
    expect(again.body.match(/mfa-secret"><code>([^<]+)/)![1]).toBe(body.match(/mfa-secret"><code>([^<]+)/)![1]);
  });

  it('is confirmed by one valid code, then shows 10 recovery codes once (no-store), stored as SHA-256 only; mfa.enabled carries no secret', async () => {
    const user = await createUser(t, 'enrol@example.com');
    const { browser, codes, secret } = await enrol(t, 'enrol@example.com');
    expect(new Set(codes).size).toBe(10);
    const stored = await t.hub.db.prisma.recoveryCode.findMany({ where: { userId: user.id } });
    expect(stored).toHaveLength(10);
    for (const row of stored) expect(row.codeHash).toMatch(/^[0-9a-f]{64}$/);
    for (const code of codes) expect(JSON.stringify(stored)).not.toContain(code);
    const factor = await t.hub.db.prisma.totpFactor.findUniqueOrThrow({ where: { userId: user.id } });
    expect(factor.secretSealed).not.toContain(secret);
    expect(factor.confirmedAt).not.toBeNull();
    // Shown once: the page now says it is on, with no codes and no secret.
    const after = await page(browser, '/account/mfa');
    expect(after.response.headers.get('cache-control')).toBe('no-store');
    expect(recoveryCodesOf(after.body)).toHaveLength(0);
    expect(after.body).toContain('10 of 10 recovery codes left');
    expect(after.body).not.toContain('mfa-secret');
    const [event] = await eventRows(t, { type: 'mfa.enabled', userId: user.id });
    expect(event.data).toEqual({ method: 'totp' });
    expect(JSON.stringify(event.data)).not.toContain(secret);
  });

  it('8 parallel first visits show one secret; 8 parallel confirmations turn it on once, with one set of recovery codes', async () => {
    const user = await createUser(t, 'parallel-enrol@example.com');
    const browser = new Browser(t.url);
    const { signInToAccount } = await import('../billing/support.js');
    await signInToAccount(browser, 'parallel-enrol@example.com', '/account');
    const { gate, open } = barrier();
    const visits = Array.from({ length: 8 }, async () => { await gate; return page(browser, '/account/mfa'); });
    open();
    const pages = await Promise.all(visits);
    const secrets = new Set(pages.map((p) => p.body.match(/mfa-secret"><code>([^<]+)/)![1]));
    expect(secrets.size).toBe(1);
    const secret = [...secrets][0].replace(/\s/g, '');
    const { action, fields } = parseForm(pages[0].body, '/account/mfa/confirm');
    const code = codeFor(secret);
    const second = barrier();
    const confirms = Array.from({ length: 8 }, async () => { await second.gate; return (await browser.post(action, { ...fields, code })).status; });
    second.open();
    const statuses = await Promise.all(confirms);
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(await t.hub.db.prisma.recoveryCode.count({ where: { userId: user.id } })).toBe(10);
    expect(await eventRows(t, { type: 'mfa.enabled', userId: user.id })).toHaveLength(1);
  });

  it('refuses a wrong code and changes nothing', async () => {
    const user = await createUser(t, 'wrong-enrol@example.com');
    const browser = new Browser(t.url);
    const { signInToAccount } = await import('../billing/support.js');
    const enrolPage = await signInToAccount(browser, 'wrong-enrol@example.com', '/account/mfa');
    const secret = enrolPage.body.match(/mfa-secret"><code>([^<]+)/)![1].replace(/\s/g, '');
    const { action, fields } = parseForm(enrolPage.body, '/account/mfa/confirm');
    const answer = await browser.post(action, { ...fields, code: wrongCode(secret) });
    expect(answer.status).toBe(400);
    expect((await t.hub.db.prisma.totpFactor.findUniqueOrThrow({ where: { userId: user.id } })).confirmedAt).toBeNull();
    expect(await t.hub.db.prisma.recoveryCode.count({ where: { userId: user.id } })).toBe(0);
  });
});

describe('sign-in with a second factor', () => {
  it('password then TOTP: amr/acr in the ID token and the access token (verified with the JWKS); the code cannot be replayed', async () => {
    await createUser(t, 'totp@example.com');
    const { secret } = await enrol(t, 'totp@example.com');
    const { browser, verifier, page: codePage } = await startSignIn(t, 'sales', 'totp@example.com');
    // The password alone did not sign in: the code page, no code for the project yet.
    expect(codePage.url).toMatch(/\/interaction\/[^/]+$/);
    expect(codePage.body).toContain('Code from your authenticator app');
    expect(codePage.body).toContain('Use a recovery code');
    const code = codeFor(secret, 1); // the enrolment spent this step: the next one
    const done = await submitSecondFactor(browser, codePage.body, 'totp', code);
    expect(done.url).toMatch(/^http:\/\/localhost:3001\/auth\/callback\?code=/);
    const tokens = await exchange(t, 'sales', done.url, verifier);
    const { payload: idToken } = await jwtVerify(tokens.id_token, jwks, { issuer: t.url, audience: 'sales' });
    expect(idToken, JSON.stringify(idToken)).toMatchObject({ amr: ["pwd", "otp", "mfa"] });
    expect(idToken.acr).toBe('urn:nexus:acr:mfa');
    const access = await verifyAccessToken({ t, jwks }, 'sales', tokens.access_token);
    expect(access.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(access.acr).toBe('urn:nexus:acr:mfa');

    // The same code again, in a new sign-in: refused (its time step was used).
    const second = await startSignIn(t, 'sales', 'totp@example.com');
    const replay = await submitSecondFactor(second.browser, second.page.body, 'totp', code);
    expect(replay.status).toBe(401);
    expect(errorOf(replay.body)).toContain('already used');
  });

  it('a refreshed access token still says how the user signed in (from the refresh token, no statement)', async () => {
    await createUser(t, 'refresh@example.com');
    const { secret } = await enrol(t, 'refresh@example.com');
    const { browser, verifier, page: codePage } = await startSignIn(t, 'sales', 'refresh@example.com', { extra: { scope: 'openid email offline_access', prompt: 'consent' } });
    const done = await submitSecondFactor(browser, codePage.body, 'totp', codeFor(secret, 1));
    const tokens = await exchange(t, 'sales', done.url, verifier);
    expect(tokens.refresh_token).toBeTruthy();
    const refreshed = await refresh(t, 'sales', tokens.refresh_token);
    expect(refreshed.status, refreshed.text).toBe(200);
    const access = await verifyAccessToken({ t, jwks }, 'sales', String(refreshed.body.access_token));
    expect(access.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(access.acr).toBe('urn:nexus:acr:mfa');
  });

  it('a user without a second factor signs in with the password alone: amr pwd, acr password', async () => {
    await createUser(t, 'plain@example.com');
    const { browser, verifier, page: landed } = await startSignIn(t, 'sales', 'plain@example.com');
    let url = landed.url;
    if (landed.body.includes('/consent"')) {
      const { action, fields } = parseForm(landed.body, '/consent');
      url = (await browser.follow(await browser.post(action, fields))).url;
    }
    const tokens = await exchange(t, 'sales', url, verifier);
    const { payload } = await jwtVerify(tokens.id_token, jwks, { issuer: t.url, audience: 'sales' });
    expect(payload.amr).toEqual(['pwd']);
    expect(payload.acr).toBe('urn:nexus:acr:password');
    expect((await verifyAccessToken({ t, jwks }, 'sales', tokens.access_token)).acr).toBe('urn:nexus:acr:password');
  });

  it('the wrong password never reaches the code page', async () => {
    await createUser(t, 'badpw@example.com');
    await enrol(t, 'badpw@example.com');
    const { page: answer } = await startSignIn(t, 'sales', 'badpw@example.com', { password: 'not the password' });
    expect(answer.body).toContain('Incorrect email or password.');
    expect(answer.body).not.toContain('second-factor');
  });

  it('8 parallel wrong codes behind a barrier: exactly 5 are checked (401), the rest 429; then even the right code waits, and the password still works', async () => {
    await createUser(t, 'storm@example.com');
    const { secret } = await enrol(t, 'storm@example.com');
    const signIns = await Promise.all(Array.from({ length: 8 }, () => startSignIn(t, 'sales', 'storm@example.com')));
    const wrong = wrongCode(secret);
    const { gate, open } = barrier();
    const answers = signIns.map(async ({ browser, page: codePage }) => {
      const { action, fields } = secondFactorForm(codePage.body, 'totp');
      await gate;
      return (await browser.post(action, { ...fields, code: wrong })).status;
    });
    open();
    const statuses = (await Promise.all(answers)).sort();
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    const later = await startSignIn(t, 'sales', 'storm@example.com');
    // The password is not locked (its own limit): the code page comes, and says to wait.
    expect(later.page.body).toContain('Code from your authenticator app');
    const refused = await submitSecondFactor(later.browser, later.page.body, 'totp', codeFor(secret, 1));
    expect(refused.status).toBe(429);
    expect(errorOf(refused.body)).toContain('Too many wrong codes');
  });

  it('recovery codes work once each; of 8 parallel uses of one code exactly one signs in', async () => {
    const user = await createUser(t, 'recovery@example.com');
    const { codes } = await enrol(t, 'recovery@example.com');
    const first = await startSignIn(t, 'sales', 'recovery@example.com');
    const done = await submitSecondFactor(first.browser, first.page.body, 'recovery', codes[0].toUpperCase().replace('-', ' '));
    expect(done.url).toMatch(/^http:\/\/localhost:3001\/auth\/callback\?code=/);
    const tokens = await exchange(t, 'sales', done.url, first.verifier);
    expect((await verifyAccessToken({ t, jwks }, 'sales', tokens.access_token)).amr).toEqual(['pwd', 'otp', 'mfa']);

    const again = await startSignIn(t, 'sales', 'recovery@example.com');
    expect((await submitSecondFactor(again.browser, again.page.body, 'recovery', codes[0])).status).toBe(401);

    const signIns = await Promise.all(Array.from({ length: 8 }, () => startSignIn(t, 'sales', 'recovery@example.com')));
    const { gate, open } = barrier();
    const answers = signIns.map(async ({ browser, page: codePage }) => {
      const { action, fields } = secondFactorForm(codePage.body, 'recovery');
      await gate;
      return (await browser.post(action, { ...fields, code: codes[1] })).status;
    });
    open();
    const statuses = await Promise.all(answers);
    expect(statuses.filter((s) => s === 303)).toHaveLength(1);
    expect(await t.hub.db.prisma.recoveryCode.count({ where: { userId: user.id, usedAt: { not: null } } })).toBe(2);
    const used = await eventRows(t, { type: 'mfa.recovery_code_used', userId: user.id });
    expect(used.map((e) => e.data)).toEqual([{ remaining: 9 }, { remaining: 8 }]);
  });

  it('no mfa.* event carries a code', async () => {
    const all = await t.hub.db.prisma.event.findMany({ where: { type: { startsWith: 'mfa.' } } });
    for (const event of all) expect(JSON.stringify(event.data)).not.toMatch(/\b\d{6}\b|[a-z2-9]{5}-[a-z2-9]{5}/);
  });
});

describe('new recovery codes and turning it off', () => {
  it('new recovery codes need a current code; the old ones stop working', async () => {
    const user = await createUser(t, 'regen@example.com');
    const { browser, secret, codes } = await enrol(t, 'regen@example.com');
    const settings = await page(browser, '/account/mfa');
    const { action, fields } = parseForm(settings.body, '/account/mfa/recovery-codes');
    expect((await browser.post(action, { ...fields, code: wrongCode(secret) })).status).toBe(401);
    expect((await browser.post(action, { ...fields, code: '' })).status).toBe(400);
    const answer = await browser.post(action, { ...fields, code: codeFor(secret, 1) });
    expect(answer.status).toBe(200);
    const fresh = recoveryCodesOf(await answer.text());
    expect(fresh).toHaveLength(10);
    expect(fresh).not.toContain(codes[0]);
    const signIn = await startSignIn(t, 'sales', 'regen@example.com');
    expect((await submitSecondFactor(signIn.browser, signIn.page.body, 'recovery', codes[0])).status).toBe(401);
    expect(await eventRows(t, { type: 'mfa.recovery_codes_regenerated', userId: user.id })).toHaveLength(1);
  });

  it('turning it off asks for a code (the session or the password alone does not do), then sign-in is the password alone', async () => {
    const user = await createUser(t, 'off@example.com');
    const { browser, codes, secret } = await enrol(t, 'off@example.com');
    const settings = await page(browser, '/account/mfa');
    const { action, fields } = parseForm(settings.body, '/account/mfa/disable');
    expect((await browser.post(action, { ...fields, code: '' })).status).toBe(400);
    expect((await browser.post(action, { ...fields, code: PASSWORD })).status).toBe(401);
    expect((await browser.post(action, { ...fields, code: wrongCode(secret) })).status).toBe(401);
    expect(await t.hub.db.prisma.totpFactor.count({ where: { userId: user.id } })).toBe(1);
    const off = await browser.post(action, { ...fields, code: codes[3] });
    expect(off.status).toBe(303);
    expect(off.headers.get('location')).toBe('/account/mfa?done=disabled');
    expect(await t.hub.db.prisma.totpFactor.count({ where: { userId: user.id } })).toBe(0);
    expect(await t.hub.db.prisma.recoveryCode.count({ where: { userId: user.id } })).toBe(0);
    expect(await eventRows(t, { type: 'mfa.disabled', userId: user.id })).toHaveLength(1);
    const { page: landed } = await startSignIn(t, 'sales', 'off@example.com');
    expect(landed.body).not.toContain('Code from your authenticator app');
  });

  it('a form without the CSRF token is refused', async () => {
    await createUser(t, 'csrf@example.com');
    const { browser } = await enrol(t, 'csrf@example.com');
    expect((await browser.post('/account/mfa/disable', { code: '123456' })).status).toBe(403);
  });
});

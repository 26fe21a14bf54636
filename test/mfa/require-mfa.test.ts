// Projects that require a second factor (`requireMfa`, set here with the real CLI), through a real
// hub: a user without one is led to enrol and comes back to the sign-in; an older password-only
// session is asked for the code before the project gets one; prompt=none answers
// interaction_required. Then `nexus users reset-mfa` (a real CLI process; the mail read from the
// SMTP test server) and the @nexus/auth guard.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startTestHub, type TestHub } from '../support/hub.js';
import { startSmtp, type TestSmtp } from '../support/smtp.js';
import { Browser, parseForm } from '../support/browser.js';
import { nexus, nexusJson } from '../cli/support.js';
import { createUser, eventRows, page, PROJECTS } from '../billing/support.js';
import { codeFor, enrol, exchange, recoveryCodesOf, secretOf, startSignIn, submitSecondFactor } from './totp-support.js';
import { NexusAuthError, requireMfa, toPrincipal } from '../../packages/auth/src/index.js';

let t: TestHub;
let smtp: TestSmtp;
let jwks: ReturnType<typeof createRemoteJWKSet>;

beforeAll(async () => {
  smtp = await startSmtp();
  t = await startTestHub(smtp.env);
  jwks = createRemoteJWKSet(new URL(`${t.url}/jwks`));
  const updated = await nexus(t, 'clients', 'update', 'resonance', '--require-mfa');
  expect(updated.code, updated.stderr).toBe(0);
  // The CLI's change notice reaches this hub's registry at once; drop its cache to be sure.
  t.hub.clients.invalidate();
});
afterAll(async () => {
  await t?.stop();
  await smtp?.stop();
});

const idTokenOf = async (tokens: Record<string, string>) => (await jwtVerify(tokens.id_token, jwks, { issuer: t.url, audience: 'resonance' })).payload;

describe('a project with requireMfa', () => {
  it('shows in nexus clients show, and --no-require-mfa turns it off', async () => {
    const shown = await nexus(t, 'clients', 'show', 'resonance');
    expect(shown.stdout).toContain('second factor: required before a code (requireMfa)');
    expect((await nexusJson<{ requireMfa: boolean }>(t, 'clients', 'show', 'resonance')).requireMfa).toBe(true);
    const off = await nexus(t, 'clients', 'update', 'sales', '--no-require-mfa');
    expect(off.code, off.stderr).toBe(0);
    expect((await nexus(t, 'clients', 'show', 'sales')).stdout).toContain('second factor: not required');
  });

  it('a user without a second factor is led to enrol, then comes back and finishes with the code', async () => {
    await createUser(t, 'newcomer@example.com');
    const { browser, verifier, page: asked } = await startSignIn(t, 'resonance', 'newcomer@example.com');
    expect(asked.body).toContain('Set up two-step sign-in');
    const enrolLink = asked.body.match(/href="(\/account\/mfa\?returnTo=[^"]+)"/)![1].replaceAll('&amp;', '&');
    const uid = decodeURIComponent(enrolLink.split('returnTo=')[1]);
    expect(uid).toMatch(/^\/interaction\/[A-Za-z0-9_-]+$/);
    // The password made a hub session: the account center opens without another sign-in.
    const enrolPage = await page(browser, enrolLink);
    const secret = secretOf(enrolPage.body);
    const { action, fields } = parseForm(enrolPage.body, '/account/mfa/confirm');
    expect(fields.returnTo).toBe(uid);
    const confirmed = await browser.post(action, { ...fields, code: codeFor(secret) });
    const codesPage = await confirmed.text();
    expect(recoveryCodesOf(codesPage)).toHaveLength(10);
    expect(codesPage).toContain(`href="${uid}"`);
    // Back to the sign-in: now the code step, and the project gets its code.
    const back = await page(browser, uid);
    expect(back.body).toContain('Code from your authenticator app');
    const done = await submitSecondFactor(browser, back.body, 'totp', codeFor(secret, 1));
    expect(done.url.startsWith(PROJECTS.resonance.callback), `${done.url}\n${done.body.slice(900, 2500)}`).toBe(true);
    const claims = await idTokenOf(await exchange(t, 'resonance', done.url, verifier));
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(claims.acr).toBe('urn:nexus:acr:mfa');
  });

  it('an older password-only session is asked for the code before the project gets one; prompt=none answers interaction_required', async () => {
    await createUser(t, 'older@example.com');
    // Signed in to sales with the password alone, before turning TOTP on.
    const browser = new Browser(t.url);
    const first = await startSignIn(t, 'sales', 'older@example.com', { browser });
    expect(first.page.url.startsWith(PROJECTS.sales.callback) || first.page.body.includes('/consent"')).toBe(true);
    const { secret } = await enrol(t, 'older@example.com', browser);

    const silent = await startSignIn(t, 'resonance', 'older@example.com', { browser, extra: { prompt: 'none' } });
    const refused = new URL(silent.page.url);
    expect(refused.origin + refused.pathname).toBe(PROJECTS.resonance.callback);
    expect(refused.searchParams.get('error')).toBe('interaction_required');

    const { verifier, page: asked } = await startSignIn(t, 'resonance', 'older@example.com', { browser });
    // No password asked again: the second factor of the session's account.
    expect(asked.body).not.toContain('name="password"');
    expect(asked.body).toContain('Code from your authenticator app');
    const done = await submitSecondFactor(browser, asked.body, 'totp', codeFor(secret, 1));
    const claims = await idTokenOf(await exchange(t, 'resonance', done.url, verifier));
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);

    // Now the session is a two-factor one: prompt=none goes through.
    const again = await startSignIn(t, 'resonance', 'older@example.com', { browser, extra: { prompt: 'none' } });
    expect(new URL(again.page.url).searchParams.get('code')).toBeTruthy();
  });
});

describe('nexus users reset-mfa', () => {
  it('removes TOTP and recovery codes, emits mfa.reset, mails the user; the password alone signs in again', async () => {
    const user = await createUser(t, 'lostphone@example.com');
    await enrol(t, 'lostphone@example.com');
    expect((await nexus(t, 'users', 'show', 'lostphone@example.com')).stdout).toContain('2-step:   authenticator app');
    const result = await nexus(t, 'users', 'reset-mfa', 'lostphone@example.com');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Second factors of lostphone@example.com reset (authenticator app, 10 recovery code(s))');
    expect(await t.hub.db.prisma.totpFactor.count({ where: { userId: user.id } })).toBe(0);
    expect(await t.hub.db.prisma.recoveryCode.count({ where: { userId: user.id } })).toBe(0);
    const [event] = await eventRows(t, { type: 'mfa.reset', userId: user.id });
    expect(event.data).toEqual({ totp: true, recoveryCodes: 10, passkeys: 0 });
    expect(event.actor).toEqual({ type: 'admin', id: 'cli' });
    const mail = await smtp.waitFor('lostphone@example.com', (m) => m.subject.includes('two-step sign-in was reset'));
    expect(mail.text).toContain('/account/mfa');
    const { page: landed } = await startSignIn(t, 'sales', 'lostphone@example.com');
    expect(landed.body).not.toContain('Code from your authenticator app');
    expect((await nexus(t, 'users', 'show', 'lostphone@example.com')).stdout).toContain('2-step:   off (password only)');
  });

  it('an unknown address fails cleanly', async () => {
    const result = await nexus(t, 'users', 'reset-mfa', 'nobody@example.com');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('no user with email nobody@example.com');
  });
});

describe('@nexus/auth requireMfa', () => {
  it('passes a token whose amr says mfa, refuses others with 403 insufficient_authentication', () => {
    const strong = toPrincipal({ sub: 'u1', client_id: 'sales', amr: ['pwd', 'otp', 'mfa'], acr: 'urn:nexus:acr:mfa' });
    expect(strong.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(strong.acr).toBe('urn:nexus:acr:mfa');
    expect(() => requireMfa(strong)).not.toThrow();
    for (const claims of [{ sub: 'u1', client_id: 'sales', amr: ['pwd'] }, { sub: 'u1', client_id: 'sales' }, { sub: 'u1', client_id: 'sales', amr: 'mfa' }]) {
      const weak = toPrincipal(claims);
      let error: unknown;
      try { requireMfa(weak); } catch (caught) { error = caught; }
      expect(error).toBeInstanceOf(NexusAuthError);
      expect((error as NexusAuthError).status).toBe(403);
      expect((error as NexusAuthError).toJSON().error).toBe('insufficient_authentication');
    }
  });
});

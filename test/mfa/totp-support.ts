// Driving two-step sign-in through the real pages: enrolment on /account/mfa with codes computed
// here with the same library, and the second-factor step of a sign-in to a project.
import { expect } from 'vitest';
import { Secret, TOTP } from 'otpauth';
import type { TestHub } from '../support/hub.js';
import { Browser, parseForm, pkcePair } from '../support/browser.js';
import { postForm } from '../support/oauth.js';
import { page, PASSWORD, PROJECTS, signInToAccount, type ProjectName } from '../billing/support.js';

/** The code of `secret` for the time step `steps` away from now (drift of one is accepted). */
export function codeFor(secret: string, steps = 0): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30, timestamp: Date.now() + steps * 30_000 });
}

/** A code that is surely wrong for `secret` now (none of the three accepted steps). */
export function wrongCode(secret: string): string {
  const taken = new Set([-1, 0, 1].map((step) => codeFor(secret, step)));
  for (let n = 0; ; n++) {
    const code = String(100000 + n * 7919).slice(0, 6);
    if (!taken.has(code)) return code;
  }
}

export const recoveryCodesOf = (html: string) => [...(html.match(/<ol class="recovery-codes">([\s\S]*?)<\/ol>/)?.[1] ?? '').matchAll(/<code>([^<]+)<\/code>/g)].map((m) => m[1]);
export const secretOf = (html: string) => html.match(/<p class="mfa-secret"><code>([^<]+)<\/code>/)![1].replace(/\s/g, '');
export const errorOf = (html: string) => html.match(/<div class="alert alert-error"[\s\S]*?<p>([\s\S]*?)<\/p>/)?.[1] ?? '';

/** Turns TOTP on for a user through /account/mfa; the secret and the 10 recovery codes. */
export async function enrol(t: TestHub, email: string, browser = new Browser(t.url)) {
  const enrolPage = await signInToAccount(browser, email, '/account/mfa');
  const secret = secretOf(enrolPage.body);
  const { action, fields } = parseForm(enrolPage.body, '/account/mfa/confirm');
  const answer = await browser.post(action, { ...fields, code: codeFor(secret) });
  const body = await answer.text();
  expect(answer.status, body.slice(0, 1500)).toBe(200);
  const codes = recoveryCodesOf(body);
  expect(codes).toHaveLength(10);
  return { browser, secret, codes, body };
}

/** The form of the second-factor page for one method (the TOTP and the recovery-code forms share an action). */
export function secondFactorForm(html: string, method: 'totp' | 'recovery') {
  const forms = [...html.matchAll(/<form\b[^>]*action="([^"]*second-factor)"[^>]*>([\s\S]*?)<\/form>/g)];
  const form = forms.find((match) => match[2].includes(`name="method" value="${method}"`));
  if (!form) throw new Error(`no ${method} form on the page:\n${html.slice(0, 1500)}`);
  return parseForm(form[0], 'second-factor');
}

/** Starts a sign-in to a project and posts the password: the page the hub answers with. */
export async function startSignIn(t: TestHub, project: ProjectName, email: string, options: { browser?: Browser; extra?: Record<string, string>; password?: string } = {}) {
  const browser = options.browser ?? new Browser(t.url);
  const { verifier, challenge } = pkcePair();
  const params = new URLSearchParams({
    client_id: PROJECTS[project].id, redirect_uri: PROJECTS[project].callback, response_type: 'code', scope: 'openid email', state: 'state-mfa', nonce: 'nonce-mfa',
    code_challenge: challenge, code_challenge_method: 'S256', ...options.extra,
  });
  let current = await browser.follow(await browser.get(`/auth?${params}`));
  if (current.body.includes('/login"')) {
    const { action, fields } = parseForm(current.body, '/login');
    current = await browser.follow(await browser.post(action, { ...fields, email, password: options.password ?? PASSWORD }));
  }
  return { browser, verifier, page: current };
}

/** After the page leaves the hub: the code exchanged at /token as the project. */
export async function exchange(t: TestHub, project: ProjectName, url: string, verifier: string) {
  const code = new URL(url).searchParams.get('code');
  expect(code, `no code in ${url}`).toBeTruthy();
  const tokens = await postForm(t, '/token', PROJECTS[project].id, { grant_type: 'authorization_code', code: code!, code_verifier: verifier, redirect_uri: PROJECTS[project].callback });
  expect(tokens.status, tokens.text).toBe(200);
  return tokens.body as Record<string, string>;
}

/** Posts a second factor and follows (approving consent if asked). */
export async function submitSecondFactor(browser: Browser, html: string, method: 'totp' | 'recovery', code: string) {
  const { action, fields } = secondFactorForm(html, method);
  const answer = await browser.post(action, { ...fields, code });
  if (answer.status !== 303) return { status: answer.status, url: '', body: await answer.text() };
  let next = await browser.follow(answer);
  if (next.body.includes('/consent"')) {
    const { action: consent, fields: consentFields } = parseForm(next.body, '/consent');
    next = await browser.follow(await browser.post(consent, consentFields));
  }
  return { status: 303, url: next.url, body: next.body };
}

export { page };

// The device page under attack: wrong user codes are limited per IP (also when guessed in
// parallel), a right code costs nothing, and requests without a session, with a wrong method or
// with NUL bytes get a 4xx page, never a 500. Anonymous sessions are short-lived.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { Browser, parseForm } from '../support/browser.js';
import { postForm } from '../support/oauth.js';
import { together } from './login-support.js';
import { ANONYMOUS_TTL } from '../../src/oidc/provider.js';

const LIMIT = 5;
let t: TestHub;

beforeAll(async () => {
  t = await startTestHub({ DEVICE_CODE_FAILURES_PER_IP: String(LIMIT) });
});
afterAll(() => t?.stop());

/** A browser on the device page, ready to submit a code. */
async function openDevicePage() {
  const browser = new Browser(t.url);
  const page = await browser.follow(await browser.get('/device'));
  expect(page.response.status).toBe(200);
  const form = parseForm(page.body, '/device');
  return { browser, submit: (userCode: string) => browser.post(form.action, { ...form.fields, user_code: userCode }) };
}

async function startDeviceAuthorization() {
  const started = await postForm(t, '/device/auth', 'agi-safety', { scope: 'openid' });
  expect(started.status).toBe(200);
  return started.body.user_code;
}

const WRONG = 'That code is not valid';

describe('never a 500 on the device routes', () => {
  it('answers a wrong method at /device/auth and the token endpoints with 405', async () => {
    for (const path of ['/device/auth', '/token', '/token/revocation', '/token/introspection']) {
      const answer = await fetch(`${t.url}${path}`, { headers: { accept: 'application/json' } });
      expect(answer.status, path).toBe(405);
      expect(answer.headers.get('allow')).toContain('POST');
    }
    expect((await fetch(`${t.url}/device/auth`, { method: 'PUT' })).status).toBe(405);
  });

  it('answers a code posted without a session with a 400 page that starts over, and stores no session', async () => {
    const sessionsBefore = await sessionRows();
    const answer = await fetch(`${t.url}/device`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, body: 'user_code=BCDF-GHJK&xsrf=forged',
    });
    expect(answer.status).toBe(400);
    const page = await answer.text();
    expect(page).toContain('This page has expired');
    expect(parseForm(page, '/device').action).toBe(`${t.url}/device`);
    expect(await sessionRows()).toBe(sessionsBefore);
  });

  it('treats a NUL byte in a resume uid as not found', async () => {
    const resume = await fetch(`${t.url}/device/a%00b`, { headers: { accept: 'text/html' } });
    expect(resume.status).toBeGreaterThanOrEqual(400);
    expect(resume.status).toBeLessThan(500);
  });
});

async function sessionRows() {
  const { rows } = await t.hub.db.pool.query(`SELECT count(*)::int AS n FROM oidc_payloads WHERE model = 'Session'`);
  return rows[0].n as number;
}

describe('an anonymous session (the device page before sign-in)', () => {
  it(`is kept ${ANONYMOUS_TTL} seconds, not the signed-in session lifetime`, async () => {
    const { browser } = await openDevicePage();
    const { rows } = await t.hub.db.pool.query(
      `SELECT extract(epoch FROM expires_at - now())::int AS ttl FROM oidc_payloads WHERE model = 'Session' ORDER BY expires_at DESC LIMIT 1`,
    );
    expect(browser.cookieHeader()).toContain('_session=');
    expect(rows[0].ttl).toBeGreaterThan(ANONYMOUS_TTL - 30);
    expect(rows[0].ttl).toBeLessThanOrEqual(ANONYMOUS_TTL);
  });
});

// Last: it locks this address out of the device page for the window.
describe('wrong user codes', () => {
  it('are limited per IP, a burst of parallel guesses included; right codes do not count', async () => {
    const userCode = await startDeviceAuthorization();
    const owner = await openDevicePage();
    // More right submissions than the limit: each shows the confirmation page and costs nothing.
    for (let i = 0; i <= LIMIT; i++) {
      const answer = await owner.submit(userCode);
      expect(answer.status).toBe(200);
      expect(await answer.text()).toContain(userCode);
    }

    // An attacker with many sessions guesses at once.
    const guessers = await Promise.all(Array.from({ length: 12 }, openDevicePage));
    const answers = await together(guessers.map((guesser, i) => () => guesser.submit(`BCDF-GH${'JKLMNPQRSTVW'[i]}${'JKLMNPQRSTVW'[i]}`)));
    const bodies = await Promise.all(answers.map((answer) => answer.text()));
    expect(answers.filter((answer, i) => answer.status === 200 && bodies[i].includes(WRONG))).toHaveLength(LIMIT);
    const limited = answers.filter((answer) => answer.status === 429);
    expect(limited).toHaveLength(12 - LIMIT);
    expect(Number(limited[0].headers.get('retry-after'))).toBeGreaterThan(0);
    expect(bodies[answers.indexOf(limited[0])]).toContain('Too many wrong codes');

    // Locked out for the window: even the right code is not looked up from this address now.
    expect((await owner.submit(userCode)).status).toBe(429);
  });
});

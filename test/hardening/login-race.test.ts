// Login limits under parallel guesses. A limit checked before the password and counted after
// it lets every guess of a burst through (they are all checked before any is counted), and a
// right password among them used to wipe the count. Each attempt now takes its point first, in
// one atomic step of the store: Redis, and PostgreSQL (the default without REDIS_URL).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { countStatuses, MANY_AUTHORIZATIONS, openLogin, together } from './login-support.js';

const PASSWORD = 'correct horse battery';
const PER_ACCOUNT = 5;
const PER_IP = 6;
const BURST = 20;

describe.each<{ store: string; env: Record<string, string> }>([
  { store: 'Redis', env: {} },
  { store: 'PostgreSQL', env: { REDIS_URL: '' } },
])('login limits in $store', ({ env }) => {
  let t: TestHub;
  beforeAll(async () => {
    // TRUST_PROXY: each request names its own client IP, so one test's budget is its own.
    t = await startTestHub({
      ...env, ...MANY_AUTHORIZATIONS, TRUST_PROXY: 'true', LOGIN_MAX_FAILURES_PER_ACCOUNT: String(PER_ACCOUNT), LOGIN_MAX_FAILURES_PER_IP: String(PER_IP),
    });
    for (const name of ['burst', 'mixed', 'steady']) await t.hub.users.create({ email: `${name}@example.com`, password: PASSWORD });
  });
  afterAll(() => t?.stop());

  /** One login form per attempt, opened beforehand: the burst itself is only the POSTs. */
  const forms = (count: number) => Promise.all(Array.from({ length: count }, () => openLogin(t)));

  it(`checks at most ${PER_ACCOUNT} of ${BURST} parallel wrong guesses for one account; the rest get 429`, async () => {
    const attempts = await forms(BURST);
    const answers = await together(attempts.map((form, i) => () =>
      form.submit({ email: 'burst@example.com', password: `wrong guess ${i}` }, { 'x-forwarded-for': `198.51.100.${i + 1}` })));
    expect(countStatuses(answers)).toEqual({ 401: PER_ACCOUNT, 429: BURST - PER_ACCOUNT });
    for (const answer of answers.filter((a) => a.status === 429)) expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('lets a right password in a burst neither reset the count nor let more guesses through', async () => {
    const attempts = await forms(BURST);
    const answers = await together(attempts.map((form, i) => () => form.submit(
      { email: 'mixed@example.com', password: i === BURST / 2 ? PASSWORD : `wrong guess ${i}` },
      { 'x-forwarded-for': `198.51.100.${i + 101}` },
    )));
    const counts = countStatuses(answers);
    // Checked: the wrong guesses (401) and, if it was admitted, the right one (303).
    expect((counts[401] ?? 0) + (counts[303] ?? 0)).toBe(PER_ACCOUNT);
    expect(counts[429]).toBe(BURST - PER_ACCOUNT);
    // The account stays locked for the window, even for its owner's password.
    const after = await openLogin(t);
    expect((await after.submit({ email: 'mixed@example.com', password: PASSWORD }, { 'x-forwarded-for': '198.51.100.250' })).status).toBe(429);
    expect((await after.submit({ email: 'mixed@example.com', password: 'one more guess' }, { 'x-forwarded-for': '198.51.100.251' })).status).toBe(429);
  });

  it(`checks at most ${PER_IP} of ${BURST} parallel guesses from one IP across accounts`, async () => {
    const attempts = await forms(BURST);
    const answers = await together(attempts.map((form, i) => () =>
      form.submit({ email: `sprayed${i}@example.com`, password: 'a guessed password' }, { 'x-forwarded-for': '203.0.113.77' })));
    expect(countStatuses(answers)).toEqual({ 401: PER_IP, 429: BURST - PER_IP });
  });

  it('does not count successful logins against the limits', async () => {
    for (let i = 0; i < PER_ACCOUNT + 1; i++) {
      const form = await openLogin(t);
      const answer = await form.submit({ email: 'steady@example.com', password: PASSWORD }, { 'x-forwarded-for': '203.0.113.88' });
      expect(answer.status, `login ${i + 1}`).toBe(303);
    }
  });
});

// Without REDIS_URL (the zero-configuration default) failed-login counters live in PostgreSQL:
// the same limits hold, shared by every instance on the database.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestHub, type TestHub } from './support/hub.js';
import { Browser, parseForm, pkcePair } from './support/browser.js';

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub({ REDIS_URL: '', LOGIN_MAX_FAILURES_PER_ACCOUNT: '2' });
  await t.hub.users.create({ email: 'dora@example.com', password: 'correct horse battery' });
});
afterAll(() => t?.stop());

it('locks an account after repeated failures, counting in PostgreSQL', async () => {
  const browser = new Browser(t.url);
  const page = await browser.follow(await browser.get(`/auth?${new URLSearchParams({
    client_id: 'sales', redirect_uri: 'http://localhost:3001/auth/callback', response_type: 'code', scope: 'openid',
    code_challenge: pkcePair().challenge, code_challenge_method: 'S256',
  })}`));
  const { action, fields } = parseForm(page.body, '/login');
  for (let i = 0; i < 2; i++) {
    expect((await browser.post(action, { ...fields, email: 'dora@example.com', password: `wrong ${i} guess` })).status).toBe(401);
  }
  const locked = await browser.post(action, { ...fields, email: 'dora@example.com', password: 'correct horse battery' });
  expect(locked.status).toBe(429);
  const { rows } = await t.hub.db.pool.query<{ key: string; points: number }>('SELECT key, points FROM rate_limits');
  expect(rows.some((row) => row.key.startsWith('login_account') && row.points >= 2)).toBe(true);
  // Emails are not stored in the clear.
  expect(rows.some((row) => row.key.includes('dora'))).toBe(false);
});

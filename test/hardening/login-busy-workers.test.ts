// A login the server could not check (every password worker busy: 503) is not a failed guess.
// The point it took before the check is given back, so a login storm does not lock out the
// people whose attempts were turned away. One worker and no queue make the storm small.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { countStatuses, MANY_AUTHORIZATIONS, openLogin, together } from './login-support.js';

const PASSWORD = 'correct horse battery';
const USERS = ['ann', 'ben', 'cat', 'dan'].map((name) => `${name}@example.com`);

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub({ ...MANY_AUTHORIZATIONS, PASSWORD_WORKERS: '1', PASSWORD_QUEUE_MAX: '0', LOGIN_MAX_FAILURES_PER_ACCOUNT: '1' });
  for (const email of [...USERS, 'warm@example.com']) await t.hub.users.create({ email, password: PASSWORD });
  // The first check of the process also makes the dummy hash for unknown emails, which holds
  // the only worker for a while: wait until a login gets through.
  for (let tries = 0; ; tries++) {
    const status = (await (await openLogin(t)).submit({ email: 'warm@example.com', password: PASSWORD })).status;
    if (status === 303) break;
    if (status !== 503 || tries > 50) throw new Error(`warm-up login answered ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
});
afterAll(() => t?.stop());

it('gives the point back to logins answered 503, so they are not locked out afterwards', async () => {
  const forms = await Promise.all(USERS.map(() => openLogin(t)));
  const answers = await together(forms.map((form, i) => () => form.submit({ email: USERS[i], password: PASSWORD })));
  const counts = countStatuses(answers);
  expect(counts[503], JSON.stringify(counts)).toBeGreaterThan(0);
  expect((counts[303] ?? 0) + counts[503]).toBe(USERS.length);
  for (const [i, answer] of answers.entries()) {
    if (answer.status !== 503) continue;
    expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
    // With a limit of one attempt, a point kept by the turned-away attempt would make this 429.
    expect((await (await openLogin(t)).submit({ email: USERS[i], password: PASSWORD })).status, USERS[i]).toBe(303);
  }
});

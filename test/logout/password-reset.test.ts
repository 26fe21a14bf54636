// A password set through the mailed reset link (real pages, real SMTP) ends every session of the
// user: each project those sessions signed in to gets its logout token (the example's session
// ends, dream-people's receiver gets a token saying why: session.ended reason password_reset).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Browser, parseForm } from '../support/browser.js';
import { startSmtp, type TestSmtp } from '../support/smtp.js';
import { linkIn, pressLink } from '../account-flows/support.js';
import { CookieJar } from '../sdk/helpers.js';
import { authorizeDreamPeople, endedEvents, eventually, PASSWORD, salesUser, signInToSales, startLogoutHub, type LogoutHub } from './support.js';

let smtp: TestSmtp;
let h: LogoutHub;

beforeAll(async () => {
  smtp = await startSmtp();
  h = await startLogoutHub({ ...smtp.env, MAIL_RETRY_SCHEDULE: '1s,1s,1s' });
});
afterAll(async () => {
  await h?.close();
  await smtp?.stop();
});

it('a password reset through the mailed link sends every project of every session its logout token', async () => {
  const email = 'reset@example.com';
  const userId = (await h.t.hub.users.create({ email, password: PASSWORD, emailVerified: true })).id;
  const jar = new CookieJar();
  await signInToSales(h, jar, email);
  await authorizeDreamPeople(h, jar);

  const browser = new Browser(h.t.url);
  const forgot = parseForm((await browser.follow(await browser.get('/account/forgot'))).body, '/account/forgot');
  expect((await browser.post(forgot.action, { ...forgot.fields, email })).status).toBe(200);
  const link = linkIn(await smtp.waitFor(email, (m) => m.subject.includes('new password')), '/account/reset');
  const done = await pressLink(browser, link, { password: 'a brand new passphrase 2026' });
  expect(done.status, done.body.slice(0, 500)).toBeLessThan(400);

  await eventually(async () => !(await salesUser(h, jar)));
  await eventually(() => h.received.some((r) => r.answered === 200));
  const events = await endedEvents(h.t, userId);
  expect(events.map((e) => [(e.data as { project: string }).project, (e.data as { reason: string }).reason]).sort())
    .toEqual([['dream-people', 'password_reset'], ['sales', 'password_reset']]);
  for (const event of events) {
    await eventually(async () => (await h.t.hub.bus.deliveries.list({ eventId: event.id }))[0]?.status === 'delivered');
  }
});

// What the account pages never log: the real hub process at trace level while a person signs in,
// creates an API key on the page (shown once), revokes it, downloads their data and deletes the
// account (a wrong password first); its whole output is then searched for the secrets.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startProcessHub, type ProcessHub } from '../support/process-hub.js';
import { Browser, parseForm } from '../support/browser.js';
import { expectSuccess, run } from '../cli/support.js';
import { page, PASSWORD, signInToAccount } from '../billing/support.js';
import { sha256Hex } from '../../src/secrets/tokens.js';

const EMAIL = 'quiet@example.com';
let hub: ProcessHub;
beforeAll(async () => { hub = await startProcessHub({ LOG_LEVEL: 'trace' }); }, 90_000);
afterAll(() => hub?.stop());

it('never logs the new key, its hash, the password, the CSRF token or the session cookie', async () => {
  expectSuccess(await run(undefined, ['users', 'create', '--email', EMAIL, '--password-stdin'], { env: hub.env, stdin: PASSWORD }));
  const browser = new Browser(hub.url);
  await signInToAccount(browser, EMAIL, '/account/keys');
  const created = parseForm((await page(browser, '/account/keys')).body, '/account/keys');
  const answer = await browser.post(created.action, { ...created.fields, name: 'quiet notebook', env: 'live', expires: '7d' });
  expect(answer.status).toBe(200);
  const key = /value="(nxk_live_[A-Za-z0-9_-]{43})"/.exec(await answer.text())?.[1];
  expect(key).toBeTruthy();
  const revoke = parseForm((await page(browser, '/account/keys')).body, '/revoke');
  expect((await browser.post(revoke.action, revoke.fields)).status).toBe(303);
  expect((await browser.get('/account/data/export')).status).toBe(200);
  const remove = parseForm((await page(browser, '/account/data')).body, '/account/delete');
  const wrongPassword = 'a wrong password, logged nowhere';
  expect((await browser.post(remove.action, { ...remove.fields, confirm: EMAIL, password: wrongPassword })).status).toBe(400);
  const cookie = browser.cookieHeader();
  expect((await browser.post(remove.action, { ...remove.fields, confirm: EMAIL, password: PASSWORD })).status).toBe(200);

  // Stopped first: its last lines are read once the process has closed its output.
  expect(await hub.server.stop()).toBe(0);
  const output = hub.server.output();
  const paths = hub.logs().map((entry) => entry.path);
  expect(paths).toEqual(expect.arrayContaining(['/account/keys', revoke.action, '/account/data/export', '/account/delete']));
  const sessionCookie = /_session=([^;]+)/.exec(cookie)![1];
  for (const secret of [key!, sha256Hex(key!), key!.slice(13), PASSWORD, wrongPassword, created.fields.csrf, sessionCookie]) {
    expect(output).not.toContain(secret);
    expect(output).not.toContain(encodeURIComponent(secret));
  }
}, 120_000);

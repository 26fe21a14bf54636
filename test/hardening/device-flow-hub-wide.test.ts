// Wrong device user codes spread over many addresses still meet a hub-wide ceiling: the odds of
// hitting someone's pending code depend on the guesses made in total, not on how many IPs the
// guesser has. Requests come through a trusted proxy, each from its own client address.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { Browser, parseForm } from '../support/browser.js';
import { together } from './login-support.js';

const TOTAL = 6;
let t: TestHub;

beforeAll(async () => {
  t = await startTestHub({ TRUST_PROXY: 'true', DEVICE_CODE_FAILURES_PER_IP: '100', DEVICE_CODE_FAILURES_TOTAL: String(TOTAL) });
});
afterAll(() => t?.stop());

async function guesser(ip: string) {
  const browser = new Browser(t.url);
  const forwarded = { 'x-forwarded-for': ip, accept: 'text/html' };
  const page = await browser.follow(await browser.request('/device', { headers: forwarded }));
  const { action, fields } = parseForm(page.body, '/device');
  return (userCode: string) => browser.request(action, {
    method: 'POST', headers: { ...forwarded, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...fields, user_code: userCode }).toString(),
  });
}

it('refuses guesses beyond the hub-wide budget whatever address they come from', async () => {
  const guessers = await Promise.all(Array.from({ length: 10 }, (_, i) => guesser(`198.51.100.${i + 1}`)));
  const answers = await together(guessers.map((submit, i) => () => submit(`BCDF-GH${'JKLMNPQRST'[i]}${'JKLMNPQRST'[i]}`)));
  const bodies = await Promise.all(answers.map((answer) => answer.text()));
  expect(answers.filter((answer, i) => answer.status === 200 && bodies[i].includes('That code is not valid'))).toHaveLength(TOTAL);
  const limited = answers.filter((answer) => answer.status === 429);
  expect(limited).toHaveLength(10 - TOTAL);
  expect(Number(limited[0].headers.get('retry-after'))).toBeGreaterThan(0);
  expect(bodies[answers.indexOf(limited[0])]).toContain('Too many wrong codes were entered on this service');

  // A new address is refused too while the budget is spent.
  expect((await (await guesser('203.0.113.9'))('BCDF-GHJK')).status).toBe(429);
});

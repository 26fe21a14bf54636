// Hostile input to the mailed-link routes, past their CSRF checks (a live link's page, the forgot
// form's cookie, a signed-in session): NUL, invalid UTF-8, lone surrogates, control characters,
// 100 KB values, repeated and bracketed names, JSON and multipart bodies, wrong methods. Every
// answer is 4xx or a page: never 5xx, and nothing changes.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IpBrowser, linkIn, openLink, PASSWORD, signInToAccount, startFlowHub, type FlowHub } from './support.js';
import { parseForm } from '../support/browser.js';

let f: FlowHub;
beforeAll(async () => {
  f = await startFlowHub();
  await f.t.hub.users.create({ email: 'ada@example.com', password: PASSWORD });
  await f.t.hub.users.create({ email: 'alan@example.com', password: PASSWORD });
});
afterAll(() => f?.stop());

/** Raw values (already escaped for a query or form body) that no route may answer with a 5xx. */
const HOSTILE = [
  '', '%00', 'a%00b', '%ff%fe', '%ed%a0%80', '%c0%af', '%0d%0aSet-Cookie:%20x=1', '%e2%80%ae', `${'A'.repeat(42)}%00`, 'x'.repeat(10_000),
  '%F0%9F%92%A9'.repeat(50), '..%2F..%2Fetc%2Fpasswd', '<script>alert(1)</script>', '-1', '1e309', 'null', '[]', '{}',
];

interface Answer { status: number; body: string }

function send(method: string, path: string, options: { body?: string; type?: string; cookie?: string; ip?: string } = {}): Promise<Answer> {
  const url = new URL(f.t.url);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { host: url.host, accept: 'text/html', 'x-forwarded-for': options.ip ?? '203.0.113.9' };
    if (options.cookie) headers.cookie = options.cookie;
    if (options.body !== undefined) {
      headers['content-type'] = options.type ?? 'application/x-www-form-urlencoded';
      headers['content-length'] = Buffer.byteLength(options.body);
    }
    const req = http.request({ host: '127.0.0.1', port: f.t.port, method, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => { body += chunk; }).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** Bodies that replace one field of `base` (a form, its values already escaped) by each hostile value, repeat it, bracket it. */
function variants(base: Record<string, string>, field: string): string[] {
  const encoded = (values: Record<string, string>) => Object.entries(values).map(([k, v]) => `${encodeURIComponent(k)}=${v}`).join('&');
  const escaped = Object.fromEntries(Object.entries(base).map(([k, v]) => [k, encodeURIComponent(v)]));
  const rest = encoded(Object.fromEntries(Object.entries(escaped).filter(([k]) => k !== field)));
  return [
    ...HOSTILE.map((value) => encoded({ ...escaped, [field]: value })),
    `${encoded(escaped)}&${field}=${escaped[field]}`, // repeated
    `${rest}&${field}[]=${escaped[field]}`,
    `${rest}&${field}[a]=${escaped[field]}`,
    `${rest}&${field}=${'y'.repeat(100_000)}`, // past the form limit
  ];
}

function expectNoServerFault(answers: Answer[], label: string) {
  const faults = answers.map((answer, i) => ({ ...answer, i })).filter((answer) => answer.status >= 500 || answer.status === 0);
  expect(faults.map((fault) => `${label} #${fault.i}: ${fault.status} ${fault.body.slice(0, 200)}`)).toEqual([]);
}

describe('hostile input to the mailed-link routes', () => {
  it('GET pages of links: any token value, repeated or bracketed, answers the invalid-link page', async () => {
    for (const path of ['/account/verify', '/account/reset', '/account/email/confirm']) {
      const answers = await Promise.all([
        ...HOSTILE.map((value) => send('GET', `${path}?token=${value}`)),
        send('GET', `${path}?token=a&token=b`), send('GET', `${path}?token[]=a`), send('GET', `${path}?token[a]=b`), send('GET', path),
      ]);
      expectNoServerFault(answers, path);
      for (const answer of answers) expect(answer.status).toBe(400);
    }
  });

  it('POSTs of a live link with its CSRF token: hostile tokens, passwords and bodies; the link is spent at most once', async () => {
    const browser = new IpBrowser(f.t.url);
    const page = parseForm((await browser.follow(await browser.get('/account/forgot'))).body, '/account/forgot');
    await browser.post(page.action, { ...page.fields, email: 'ada@example.com' });
    const link = linkIn(await f.smtp.waitFor('ada@example.com', (m) => m.subject.includes('new password')), '/account/reset');
    const { form } = await openLink(browser, link);
    const base = { ...form!.fields, password: 'a long enough password' };
    const answers: Answer[] = [];
    for (const field of ['token', 'csrf', 'password']) {
      for (const body of variants(base, field)) {
        answers.push(await send('POST', '/account/reset', { body }));
      }
    }
    answers.push(await send('POST', '/account/reset', { body: JSON.stringify({ ...base, password: ['x'] }), type: 'application/json' }));
    answers.push(await send('POST', '/account/reset', { body: '--b\r\nContent-Disposition: form-data; name="token"\r\n\r\nx\r\n--b--', type: 'multipart/form-data; boundary=b' }));
    answers.push(await send('POST', '/account/reset', { body: 'token=%', type: 'application/x-www-form-urlencoded; charset=utf-16' }));
    expectNoServerFault(answers, 'POST /account/reset');
    for (const path of ['/account/verify', '/account/email/confirm']) {
      const more = await Promise.all(variants({ csrf: 'x', token: 'A'.repeat(43) }, 'token').map((body) => send('POST', path, { body })));
      expectNoServerFault(more, `POST ${path}`);
    }
    // Some variants are valid passwords ('../../etc/passwd'): the first of them spent the link, once.
    const user = await f.t.hub.users.get('ada@example.com');
    expect(await f.t.hub.db.prisma.event.count({ where: { type: 'user.password_reset', userId: user.id } })).toBe(1);
    expect((await openLink(browser, link)).status).toBe(400);
  });

  it('the forgot form with its cookie: hostile addresses and returnTo values', async () => {
    const browser = new IpBrowser(f.t.url, '203.0.113.50');
    const page = parseForm((await browser.follow(await browser.get('/account/forgot'))).body, '/account/forgot');
    const cookie = browser.cookieHeader();
    const base = { ...page.fields, email: 'ada@example.com', returnTo: '/interaction/abc' };
    const answers: Answer[] = [];
    let ip = 0;
    for (const field of ['email', 'returnTo', 'csrf']) {
      // A client address per request: the per-IP limit would otherwise answer in place of the code under test.
      for (const body of variants(base, field)) answers.push(await send('POST', '/account/forgot', { body, cookie, ip: `203.0.113.${100 + (ip++ % 100)}` }));
    }
    for (const value of HOSTILE) answers.push(await send('GET', `/account/forgot?returnTo=${value}`));
    expectNoServerFault(answers, '/account/forgot');
    expect(answers.some((answer) => answer.status === 200)).toBe(true);
    expect(answers.map((answer) => answer.body).join('')).not.toContain('<script>alert');
  });

  it('signed-in forms: hostile new addresses and passwords for the change of email, and the resend', async () => {
    const browser = new IpBrowser(f.t.url);
    const account = await signInToAccount(browser, 'alan@example.com');
    const { fields } = parseForm(account.body, '/account/email');
    const cookie = browser.cookieHeader();
    const answers: Answer[] = [];
    for (const field of ['email', 'password']) {
      for (const body of variants({ ...fields, email: 'new@example.com', password: 'not the password at all' }, field)) {
        answers.push(await send('POST', '/account/email', { body, cookie }));
      }
    }
    for (const body of variants({ csrf: fields.csrf }, 'csrf')) answers.push(await send('POST', '/account/verification/resend', { body, cookie }));
    expectNoServerFault(answers, 'signed-in forms');
    expect((await f.t.hub.users.findByEmail('alan@example.com'))?.emailVerified).toBe(false);
  });

  it('wrong methods on every path', async () => {
    const paths = ['/account/verify', '/account/verification/resend', '/account/forgot', '/account/reset', '/account/email', '/account/email/confirm'];
    const answers = await Promise.all(paths.flatMap((path) => ['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE'].map((method) => send(method, path))));
    expectNoServerFault(answers, 'wrong methods');
    // GET where only POST exists: not found or refused, never a page that changes something.
    for (const path of ['/account/verification/resend', '/account/email']) expect((await send('GET', path)).status).toBeGreaterThanOrEqual(400);
  });
});

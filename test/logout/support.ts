// A hub whose sales project is examples/sales on a port of its own (with its back-channel URI),
// and whose dream-people project posts its logouts to a recorder that can be told to fail.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { closeServer, freePort } from '../support/process.js';
import { parseForm, pkcePair } from '../support/browser.js';
import { CookieJar } from '../sdk/helpers.js';
import { createSalesApp } from '../../examples/sales/server.js';

export const PASSWORD = 'correct horse battery staple';
export const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** What the dream-people receiver got: each POST's content type and form. */
export interface Received {
  contentType: string | undefined;
  form: URLSearchParams;
  answered: number;
}

export interface LogoutHub {
  t: TestHub;
  /** The example's origin. */
  sales: string;
  received: Received[];
  /** The receiver's next answers (a status each), then 200. */
  failNext(...statuses: number[]): void;
  close(): Promise<void>;
}

export async function startLogoutHub(extraEnv: Record<string, string> = {}): Promise<LogoutHub> {
  // Retries a second apart: a receiver down at first gets the token within seconds.
  const t = await startTestHub({ WEBHOOKS_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_RETRY_SCHEDULE: '1s,1s,1s,1s,1s', ...extraEnv });
  const port = await freePort();
  const sales = `http://localhost:${port}`;
  await t.hub.clients.update('sales', {
    redirectUris: [`${sales}/auth/callback`], postLogoutRedirectUris: [`${sales}/`], backchannelLogoutUri: `${sales}/auth/backchannel-logout`,
  });
  const app = createSalesApp({ issuer: t.url, port, clientSecret: t.secrets.sales, cookieSecret: 'sales-cookie-secret-0123456789abcdefghij' });
  const salesServer = http.createServer(app.callback());
  await new Promise<void>((resolve) => salesServer.listen(port, resolve));

  const received: Received[] = [];
  const failures: number[] = [];
  const recorder = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const answered = failures.shift() ?? 200;
      received.push({ contentType: req.headers['content-type'], form: new URLSearchParams(Buffer.concat(chunks).toString()), answered });
      res.writeHead(answered, { 'cache-control': 'no-store' }).end();
    });
  });
  await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
  const { port: recorderPort } = recorder.address() as { port: number };
  await t.hub.clients.update('dream-people', { backchannelLogoutUri: `http://127.0.0.1:${recorderPort}/logout` });
  return {
    t, sales, received,
    failNext: (...statuses) => failures.push(...statuses),
    close: async () => {
      await closeServer(salesServer);
      await closeServer(recorder);
      await t.stop();
    },
  };
}

/** Signs `email` in to the example through the hub's pages, in `jar` (a browser). */
export async function signInToSales(h: LogoutHub, jar: CookieJar, email: string) {
  const isCallback = (url: URL) => url.origin === h.sales && url.pathname === '/auth/callback';
  let page = await jar.follow(await jar.get(`${h.sales}/login`), `${h.sales}/login`, isCallback);
  for (let step = 0; step < 3 && !isCallback(page.url); step++) {
    const form = page.body.includes('/login"') ? '/login' : '/consent';
    const { action, fields } = parseForm(page.body, form);
    const extra: Record<string, string> = form === '/login' ? { email, password: PASSWORD } : {};
    page = await jar.follow(await jar.post(new URL(action, page.url), { ...fields, ...extra }), new URL(action, page.url).href, isCallback);
  }
  expect(isCallback(page.url), page.body.slice(0, 500)).toBe(true);
  await jar.get(page.url);
  expect(await salesUser(h, jar)).toBe(true);
}

/** The browser (already signed in at the hub) signs in to dream-people too: its Session now holds both. */
export async function authorizeDreamPeople(h: LogoutHub, jar: CookieJar) {
  const { challenge } = pkcePair();
  const redirect = 'http://localhost:3002/auth/callback';
  const url = `${h.t.url}/auth?${new URLSearchParams({
    client_id: 'dream-people', redirect_uri: redirect, response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256',
    state: randomBytes(8).toString('hex'), nonce: randomBytes(8).toString('hex'),
  })}`;
  const page = await jar.follow(await jar.get(url), url, (next) => next.origin === 'http://localhost:3002');
  expect(page.url.searchParams.get('code'), page.body.slice(0, 500)).toBeTruthy();
}

/** Whether the example shows a signed-in user to this browser. */
export async function salesUser(h: LogoutHub, jar: CookieJar): Promise<boolean> {
  const body = await (await jar.get(`${h.sales}/`)).text();
  return body.includes('id="user-name"');
}

/** Polls until `check` holds (deliveries take a moment; retries a second or more). */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 15_000) {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The hub's session.ended events of a user. */
export function endedEvents(t: TestHub, userId: string) {
  return t.hub.db.prisma.event.findMany({ where: { type: 'session.ended', userId }, orderBy: { createdAt: 'asc' } });
}

// The user's dashboard (/dashboard) through a real hub and real upstreams on loopback: each card
// comes from the project's GET <upstream>/summary through the gateway as the signed-in user.
// One project up (values formatted on the server), one slow (> 2 s: "unavailable", the page
// still answers in about 2 s), one down (connection refused), several answering what is not a
// summary (malformed JSON, a wrong type, an unknown field, 5 MB) and one with a javascript: link
// (dropped); examples/sales' own summary, whose server sees the user's X-Nexus-User-Id. A project
// the user has no access to gets no card; a project without an upstream gets a link only.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { Browser } from '../support/browser.js';
import { freePort } from '../support/process.js';
import { createUser, page, signInToAccount, textOf } from '../billing/support.js';
import { putBehindGateway } from '../gateway/support.js';
import { createSalesApp } from '../../examples/sales/server.js';

const EMAIL = 'ada@example.com';
const SLOW_MS = 3_500;

/** What each custom project's upstream answers to GET /<project>/summary. */
const ANSWERS: Record<string, (res: http.ServerResponse) => void> = {
  up: (res) => json(res, {
    title: 'Portfolio value',
    metrics: [
      { label: 'Holdings', value: 12345.678, format: 'number' },
      { label: 'Value', value: 1234567.5, format: 'currency' },
      { label: 'Return', value: 12.5, format: 'percent' },
    ],
    link: 'http://localhost:4101/portfolio?tab=1',
  }),
  slow: (res) => { setTimeout(() => json(res, { title: 'Too late', metrics: [] }), SLOW_MS).unref(); },
  malformed: (res) => { res.setHeader('content-type', 'application/json'); res.end('{"title": "Broken", "metrics": ['); },
  'wrong-type': (res) => json(res, { title: 'Wrong', metrics: [{ label: 'Leads', value: '12', format: 'number' }] }),
  unknown: (res) => json(res, { title: 'Extra', metrics: [], script: '<script>alert(1)</script>' }),
  'bad-format': (res) => json(res, { title: 'Format', metrics: [{ label: 'Leads', value: 1, format: 'html' }] }),
  'js-link': (res) => json(res, { title: 'Sneaky <b>card</b>', metrics: [{ label: 'Tickets', value: 3, format: 'number' }], link: 'javascript:alert(document.cookie)' }),
  'foreign-link': (res) => json(res, { title: 'Elsewhere', metrics: [], link: 'https://evil.example/phish' }),
  huge: (res) => json(res, { title: 'Huge', metrics: [], padding: 'x'.repeat(5 * 1024 * 1024) }),
  error: (res) => { res.statusCode = 503; res.end('{"title":"Down","metrics":[]}'); },
};
const BROKEN = ['malformed', 'wrong-type', 'unknown', 'bad-format', 'huge', 'error'];

function json(res: http.ServerResponse, body: unknown) {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}

let t: TestHub;
let upstream: http.Server;
let sales: http.Server;
let salesSeen: http.IncomingHttpHeaders[] = [];
let seen: Array<{ url: string; headers: http.IncomingHttpHeaders }> = [];
let adaId: string;
let browser: Browser;

const listen = async (server: http.Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};
const close = (server?: http.Server) => new Promise((resolve) => { server?.closeAllConnections(); server?.close(resolve); });

async function addProject(id: string, upstreamUrl: string | undefined, access: 'open' | 'granted' = 'open', port = 4100) {
  await t.hub.clients.add({
    id, name: `Project ${id}`, redirectUris: [`http://localhost:${port}/auth/callback`], grantTypes: ['authorization_code'],
    firstParty: true, audience: `urn:test:${id}`, scopes: [], access, ...(upstreamUrl ? { upstream: upstreamUrl } : {}),
  });
}

beforeAll(async () => {
  t = await startTestHub();
  upstream = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    const [, project, rest] = /^\/([^/]+)(\/.*)$/.exec(req.url ?? '') ?? [];
    const answer = rest === '/summary' ? ANSWERS[project] : undefined;
    if (answer) answer(res);
    else { res.statusCode = 404; res.end(); }
  });
  const base = await listen(upstream);
  await addProject('up', `${base}/up`, 'open', 4101);
  for (const id of Object.keys(ANSWERS).filter((id) => id !== 'up')) await addProject(id, `${base}/${id}`);
  await addProject('down', `http://127.0.0.1:${await freePort()}/api`);
  await addProject('secret', `${base}/up`, 'granted');
  const salesApp = createSalesApp({ issuer: t.url, port: 3001, clientSecret: t.secrets.sales, cookieSecret: 'x'.repeat(40) });
  const salesHandler = salesApp.callback();
  sales = http.createServer((req, res) => {
    salesSeen.push(req.headers);
    void salesHandler(req, res);
  });
  await putBehindGateway(t, 'sales', `${await listen(sales)}/api`);
  t.hub.clients.invalidate();
  adaId = (await createUser(t, EMAIL, 'Ada')).id;
  browser = new Browser(t.url);
  await signInToAccount(browser, EMAIL, '/dashboard');
}, 60_000);
afterAll(async () => {
  await close(upstream);
  await close(sales);
  await t?.stop();
});

interface ShownCard { project: string; state: string; html: string; text: string; href?: string }
function cardsOf(body: string): Map<string, ShownCard> {
  const cards = new Map<string, ShownCard>();
  for (const [, project, state, html] of body.matchAll(/<li class="panel dashboard-card" data-project="([^"]+)" data-state="([^"]+)">([\s\S]*?)<\/li>/g)) {
    cards.set(project, { project, state, html, text: textOf(html), href: /<a href="([^"]*)"/.exec(html)?.[1] });
  }
  return cards;
}

async function dashboard() {
  seen = [];
  salesSeen = [];
  const started = performance.now();
  const shown = await browser.follow(await browser.get('/dashboard'));
  return { ...shown, ms: performance.now() - started, cards: cardsOf(shown.body) };
}

describe('the dashboard of a signed-in user', () => {
  let shown: Awaited<ReturnType<typeof dashboard>>;
  beforeAll(async () => { shown = await dashboard(); }, 20_000);

  it('answers in about the 2 s a slow project is given, not later, uncached and script-free', () => {
    expect(shown.response.status, shown.body.slice(0, 500)).toBe(200);
    expect(shown.ms).toBeGreaterThan(1_900);
    expect(shown.ms).toBeLessThan(3_000);
    expect(shown.response.headers.get('cache-control')).toBe('no-store');
    expect(shown.response.headers.get('content-security-policy')).not.toContain('script-src');
    expect(shown.body).not.toMatch(/<script/i);
  });

  it('shows an answering project\'s figures, formatted on the server, with its own link', () => {
    const card = shown.cards.get('up')!;
    expect(card.state).toBe('shown');
    expect(card.text).toContain('Portfolio value');
    expect(card.text).toContain('Holdings 12,345.68');
    expect(card.text).toContain('Value $1,234,567.50');
    expect(card.text).toContain('Return 12.5%');
    expect(card.href).toBe('http://localhost:4101/portfolio?tab=1');
  });

  it('says "unavailable" for a slow, a down and every malformed project, and never breaks the page', () => {
    for (const project of ['slow', 'down', ...BROKEN]) {
      const card = shown.cards.get(project);
      expect(card?.state, project).toBe('unavailable');
      expect(card?.text, project).toContain('unavailable');
      expect(card?.href, project).toBe('http://localhost:4100/');
    }
    expect(shown.body).not.toContain('padding');
    expect(shown.body).not.toContain('<script>alert');
  });

  it('drops a javascript: or foreign link (the card leads to the project\'s home) and escapes the title', () => {
    const sneaky = shown.cards.get('js-link')!;
    expect(sneaky.state).toBe('shown');
    expect(sneaky.text).toContain('Tickets 3');
    expect(sneaky.href).toBe('http://localhost:4100/');
    expect(sneaky.html).toContain('Sneaky &lt;b&gt;card&lt;/b&gt;');
    expect(shown.body).not.toContain('javascript:');
    expect(shown.cards.get('foreign-link')?.href).toBe('http://localhost:4100/');
    expect(shown.body).not.toContain('evil.example');
  });

  it('fills the sales card from examples/sales through the gateway as the user', () => {
    const card = shown.cards.get('sales')!;
    expect(card.state, card.html).toBe('shown');
    expect(card.text).toContain('Sales pipeline');
    expect(card.text).toContain('Active leads 2');
    expect(card.text).toContain('Open deals 2');
    expect(card.text).toContain('Pipeline value $17,300.00');
    expect(card.href).toBe('http://localhost:3001/');
    const call = salesSeen.find((headers) => headers['x-nexus-user-id'] === adaId);
    expect(call, JSON.stringify(salesSeen)).toBeDefined();
    expect(call!['x-nexus-email']).toBe(EMAIL);
    expect(call!['x-nexus-assertion']).toBeTruthy();
    expect(call!.authorization).toBeUndefined();
    expect(call!.cookie).toBeUndefined();
  });

  it('asks every project at once, as the user, with the identity headers and assertion', () => {
    const asked = seen.filter(({ url }) => url.endsWith('/summary'));
    expect(asked.map(({ url }) => url.split('/')[1]).sort()).toEqual(Object.keys(ANSWERS).sort());
    for (const { headers } of asked) {
      expect(headers['x-nexus-user-id']).toBe(adaId);
      expect(headers['x-nexus-assertion']).toBeTruthy();
    }
  });

  it('gives projects without an upstream a link only, and no card for a project the user may not use', () => {
    const dream = shown.cards.get('dream-people')!;
    expect(dream.state).toBe('none');
    expect(dream.href).toBe('http://localhost:3002/');
    expect(dream.text).not.toContain('unavailable');
    expect(shown.cards.has('secret')).toBe(false);
    expect(shown.cards.has('liminal')).toBe(false);
    expect(shown.cards.has('nexus-account')).toBe(false);
    expect(seen.some(({ headers }) => headers['x-nexus-project'] === 'secret')).toBe(false);
  });

  it('shows the plan on top with its upgrade link', () => {
    const top = shown.body.indexOf('dashboard-plan');
    expect(top).toBeGreaterThan(0);
    expect(top).toBeLessThan(shown.body.indexOf('dashboard-cards'));
    expect(textOf(shown.body.slice(top, shown.body.indexOf('dashboard-cards')))).toMatch(/Current plan Free/i);
    expect(shown.body).toContain('href="/pricing"');
  });

  it('gives a card to a project once the user is granted it', async () => {
    await t.hub.db.prisma.projectAccess.create({ data: { userId: adaId, project: 'secret', role: 'user', source: 'admin' } });
    try {
      const again = await dashboard();
      expect(again.cards.get('secret')?.state).toBe('shown');
    } finally {
      await t.hub.db.prisma.projectAccess.delete({ where: { userId_project: { userId: adaId, project: 'secret' } } });
    }
  }, 20_000);
});

it('sends an anonymous visitor to the sign-in, coming back to the dashboard', async () => {
  const response = await fetch(`${t.url}/dashboard`, { redirect: 'manual' });
  expect(response.status).toBe(302);
  expect(response.headers.get('location')).toBe('/account/login?returnTo=%2Fdashboard');
});

it('answers 8 parallel loads, each with every card, within the slow project\'s bound', async () => {
  const started = performance.now();
  const loads = await Promise.all(Array.from({ length: 8 }, async () => browser.follow(await browser.get('/dashboard'))));
  expect(performance.now() - started).toBeLessThan(4_000);
  for (const load of loads) {
    expect(load.response.status).toBe(200);
    const cards = cardsOf(load.body);
    expect(cards.get('up')?.state).toBe('shown');
    expect(cards.get('sales')?.state).toBe('shown');
    expect(cards.get('slow')?.state).toBe('unavailable');
  }
}, 20_000);

it('never answers hostile parameters, methods or paths with a 5xx', async () => {
  const cases: Array<[string, RequestInit?]> = [
    ['/dashboard?project=%00'], ['/dashboard?x=' + 'a'.repeat(7_000)], [`/dashboard?${'p=1&'.repeat(500)}`],
    ['/dashboard?project[]=1&project[a]=2'], ['/dashboard/%00'], ['/dashboard%00'], ['/dashboard?%ff=%fe'],
    ['/dashboard', { method: 'POST', body: 'csrf=x' }], ['/dashboard', { method: 'PUT' }], ['/dashboard', { method: 'DELETE' }],
  ];
  for (const [path, init] of cases) {
    for (const withSession of [false, true]) {
      const response = withSession ? await browser.request(path, init) : await fetch(`${t.url}${path}`, { ...init, redirect: 'manual' });
      expect(response.status, `${init?.method ?? 'GET'} ${path.slice(0, 60)}`).toBeLessThan(500);
      await response.arrayBuffer();
    }
  }
}, 60_000);

it('shows the dashboard in the account nav', async () => {
  const account = await page(browser, '/account');
  expect(account.body).toContain('href="/dashboard"');
});

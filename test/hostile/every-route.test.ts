// Hostile input to every route of the hub (issue 8, "Never a 500"): malformed, over-long,
// wrongly typed, invalid UTF-8 and NUL-laden parameters, path segments, methods, content types
// and bodies, with and without credentials. Any 5xx fails (a 503 with Retry-After, the
// documented overload answer, excepted). The routes come from the app itself, so a new route
// without a catalog entry fails the suite too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Router from '@koa/router';
import { ROUTES, UNLISTED_PROVIDER_PATHS } from './catalog.js';
import { ALL_METHODS } from './hostile-values.js';
import { HostileHub, type Answer, type HostileRequest } from './harness.js';
import { parseRoute, requestsFor } from './variants.js';

let hostile: HostileHub;
const statuses = new Map<number, number>();
const started = Date.now();

beforeAll(async () => {
  hostile = await HostileHub.start();
  await hostile.hub.t.hub.users.create({ email: 'ghost@example.com', password: 'a long enough password' });
}, 120_000);

afterAll(async () => {
  const total = [...statuses.values()].reduce((sum, count) => sum + count, 0);
  const byStatus = [...statuses].sort(([a], [b]) => a - b).map(([status, count]) => `${status}×${count}`).join(' ');
  console.log(`hostile suite: ${total} requests to ${ROUTES.length} routes in ${((Date.now() - started) / 1000).toFixed(1)} s — ${byStatus}`);
  await hostile?.stop();
});

/** A 5xx is a failure, except a 503 that says when to come back (overload, not a fault). */
function isServerFault(answer: Answer): boolean {
  if (answer.status === 0) return true; // no answer at all: the connection was dropped
  return answer.status >= 500 && !(answer.status === 503 && /temporarily_unavailable|Please try again/.test(answer.body));
}

/** Sends the requests and answers the faults, one line each. */
async function faults(requests: HostileRequest[]): Promise<string[]> {
  const answers = await hostile.sendAll(requests);
  const found: string[] = [];
  answers.forEach((answer, index) => {
    statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    if (!isServerFault(answer)) return;
    const request = requests[index];
    found.push(`${request.method} ${request.path.slice(0, 120)} [${request.label}] → ${answer.status} ${answer.body.replace(/\s+/g, ' ').slice(0, 160)}`);
  });
  return found;
}

const declared = new Set(ROUTES.map((spec) => spec.route));

describe('the catalog', () => {
  it('knows every route of the app\'s routers and every endpoint oidc-provider publishes', async () => {
    const known = new Set<string>();
    for (const middleware of hostile.hub.t.hub.app.middleware as Array<{ router?: Router }>) {
      for (const layer of middleware.router?.stack ?? []) {
        if (layer.methods.length === 0) continue; // router.use() middleware, not a route
        const methods = layer.methods.length > ALL_METHODS.length ? ['ALL'] : layer.methods.filter((method) => method !== 'HEAD');
        for (const method of methods) known.add(`${method} ${layer.path}`);
      }
    }
    const discovery = await (await fetch(`${hostile.url}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
    const published = Object.entries(discovery)
      .filter(([name, value]) => (name.endsWith('_endpoint') || name === 'jwks_uri') && typeof value === 'string')
      .map(([, value]) => new URL(value as string).pathname);
    const catalogPaths = new Set(ROUTES.map((spec) => parseRoute(spec.route).path));
    expect([...known].filter((route) => !declared.has(route)), 'routes without a catalog entry').toEqual([]);
    expect(published.filter((path) => !catalogPaths.has(path)), 'published endpoints without a catalog entry').toEqual([]);
    expect(UNLISTED_PROVIDER_PATHS.filter((path) => !catalogPaths.has(path))).toEqual([]);
  });
});

describe('no 5xx', () => {
  it.each(ROUTES.map((spec) => spec.route))('%s', async (route) => {
    const spec = ROUTES.find((candidate) => candidate.route === route)!;
    expect(await faults(await requestsFor(spec, hostile.credentials))).toEqual([]);
  });

  it('wrong methods on every path', async () => {
    const byPath = new Map<string, Set<string>>();
    for (const spec of ROUTES) {
      const { method, path } = parseRoute(spec.route);
      const methods = byPath.get(path) ?? new Set<string>();
      if (method === 'ALL') ALL_METHODS.forEach((m) => methods.add(m));
      else methods.add(method).add(method === 'GET' ? 'HEAD' : method);
      byPath.set(path, methods);
    }
    const requests: HostileRequest[] = [];
    for (const [path, methods] of byPath) {
      const concrete = path.replace(/:(\w+)|\{\*(\w+)\}/g, 'x');
      for (const method of [...ALL_METHODS, 'TRACE', 'PROPFIND'].filter((m) => !methods.has(m))) {
        requests.push({ method, path: concrete, label: 'wrong method', headers: { authorization: `Bearer ${hostile.credentials.adminToken}` } });
        requests.push({ method, path: concrete, label: 'wrong method, form body', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=%00' });
      }
    }
    expect(await faults(requests)).toEqual([]);
  });

  it('hostile headers on a few representative routes', async () => {
    const paths = ['/', '/auth', '/token', '/me', '/account', '/api/admin/users', '/api/billing/checkout', '/interaction/x', '/api/events', '/api/webhooks/endpoints'];
    const headerSets: Record<string, Record<string, string>> = {
      'garbage bearer': { authorization: 'Bearer ~~~.%00.%FF' },
      'long bearer': { authorization: `Bearer ${'a'.repeat(8000)}` },
      'basic with NUL': { authorization: `Basic ${Buffer.from('sales\u0000:\u0000').toString('base64')}` },
      'basic with invalid UTF-8': { authorization: `Basic ${Buffer.from([0x73, 0xff, 0x3a, 0xfe]).toString('base64')}` },
      'basic not base64': { authorization: 'Basic %%%' },
      'basic without colon': { authorization: `Basic ${Buffer.from('sales').toString('base64')}` },
      'forged cookies': { cookie: '_session=x; _session.sig=y; _interaction=%00; _interaction.sig=%FF' },
      'cookie with invalid percent-encoding': { cookie: '_session=%E0%A4%A; nexus_account_signin=%' },
      'odd accept': { accept: 'application/json;q=abc, */*;q=-1' },
      'x-forwarded garbage': { 'x-forwarded-for': 'not-an-ip, ::ffff:999.1.1.1', 'x-forwarded-proto': 'gopher', 'x-forwarded-host': 'evil.example' },
      'request id injection': { 'x-request-id': 'a'.repeat(4000) },
    };
    const requests: HostileRequest[] = [];
    for (const path of paths) {
      for (const [label, headers] of Object.entries(headerSets)) {
        for (const method of ['GET', 'POST']) requests.push({ method, path, headers, label, ...(method === 'POST' ? { body: '' } : {}) });
      }
    }
    expect(await faults(requests)).toEqual([]);
  });
});

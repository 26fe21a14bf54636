// packages/python/nexus_auth against a real hub: Python unittest modules (test_*.py here) run
// with Debian's /usr/bin/python3 and the package on PYTHONPATH. What Python cannot do itself —
// sign a token with the hub's own signing key, rotate keys, create an API key, approve a device
// code in the hub's pages like a person, sign a webhook with the `standardwebhooks` library, read
// a stored event — it asks this file through a small control server.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importJWK, SignJWT, type JWTHeaderParameters } from 'jose';
import { Webhook } from 'standardwebhooks';
import { startTestHub, type TestHub } from '../support/hub.js';
import { Browser, parseForm } from '../support/browser.js';
import { closeServer } from '../support/process.js';
import { ApiKeys } from '../../src/accounts/api-keys.js';
import { publishChange } from '../../src/db/changes.js';

// Debian's Python: the python3 first on PATH is another build without python3-jwt/requests.
const PYTHON = '/usr/bin/python3';
const HERE = fileURLToPath(new URL('.', import.meta.url));
const PACKAGE = fileURLToPath(new URL('../../packages/python', import.meta.url));
const EMAIL = 'barbara@example.com';
const PASSWORD = 'jumping genes in maize';

let t: TestHub;
let ownerId: string;
let apiKeys: ApiKeys;
let control: http.Server;
let controlUrl: string;
let emitterSecret: string;

/** Signs `claims` (null deletes a default) with the hub's current signing key; header fields likewise. */
async function sign(claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) {
  const [current] = (await t.hub.keys.load()).jwks.keys;
  const now = Math.floor(Date.now() / 1000);
  const payload = Object.fromEntries(Object.entries({
    iss: t.url, aud: 'urn:nexus:agi-safety', sub: 'agi-safety', client_id: 'agi-safety', scope: 'research:read',
    iat: now, exp: now + 300, jti: randomBytes(8).toString('hex'), ...claims,
  }).filter(([, value]) => value !== null));
  const protectedHeader = Object.fromEntries(Object.entries({ alg: 'RS256', typ: 'at+jwt', kid: current.kid, ...header })
    .filter(([, value]) => value !== null)) as JWTHeaderParameters;
  return new SignJWT(payload).setProtectedHeader(protectedHeader).sign(await importJWK(current, 'RS256'));
}

async function jwksKids() {
  const { keys } = (await (await fetch(`${t.url}/jwks`)).json()) as { keys: Array<{ kid: string }> };
  return keys.map((key) => key.kid);
}

/** Announces a key change (running hubs see it at once through LISTEN/NOTIFY) and waits until the JWKS shows it. */
async function publishKeys(done: (kids: string[]) => boolean) {
  await publishChange(t.hub.db.prisma, 'keys');
  for (let waited = 0; !done(await jwksKids()); waited += 100) {
    if (waited > 10_000) throw new Error('the JWKS did not change in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function rotate() {
  const { kid } = await t.hub.keys.rotate();
  await publishKeys((kids) => kids.includes(kid));
  return { kid };
}

async function retire(kid: string) {
  await t.hub.keys.retire(kid);
  await publishKeys((kids) => !kids.includes(kid));
  return { kid };
}

/** The person: opens the link, confirms the code (or cancels), signs in, consents if asked. */
async function approveDevice(verificationUriComplete: string, cancel = false) {
  const browser = new Browser(t.url);
  let page = await browser.follow(await browser.get(verificationUriComplete));
  // oidc-provider's self-submitting form with the code, then the hub's "confirm this device".
  for (let step = 0; step < 3 && !page.body.includes('/login"'); step++) {
    const form = parseForm(page.body, '/device');
    const confirming = page.body.includes('name="abort"');
    page = await browser.follow(await browser.post(form.action, { ...form.fields, ...(cancel && confirming ? { abort: 'yes' } : {}) }));
    if (cancel && confirming) return { title: page.body.match(/<title>([^<]*)<\/title>/)?.[1] ?? '' };
  }
  const login = parseForm(page.body, '/login');
  page = await browser.follow(await browser.post(login.action, { ...login.fields, email: EMAIL, password: PASSWORD }));
  if (page.body.includes('/consent"')) {
    const consent = parseForm(page.body, '/consent');
    page = await browser.follow(await browser.post(consent.action, consent.fields));
  }
  if (!page.body.includes('Device connected')) throw new Error(`device not approved:\n${page.body.slice(0, 1000)}`);
  return {};
}

const actions: Record<string, (body: Record<string, any>) => Promise<unknown>> = {
  '/sign': async (body) => ({ token: await sign(body.claims, body.header) }),
  '/keys/rotate': rotate,
  '/keys/retire': async (body) => retire(body.kid),
  '/apikeys': async (body) => apiKeys.create({ userId: ownerId, name: `python ${randomBytes(3).toString('hex')}`, env: 'live', rateLimit: body.rateLimit }),
  '/device/approve': async (body) => approveDevice(body.verification_uri_complete),
  '/device/cancel': async (body) => approveDevice(body.verification_uri_complete, true),
  // The independent implementation the Python verifier is checked against.
  '/webhooks/sign': async (body) => ({ signature: new Webhook(body.secret).sign(body.id, new Date(body.timestamp * 1000), body.payload) }),
  '/events/get': async (body) => {
    const [row] = await t.hub.db.prisma.$queryRawUnsafe<Array<Record<string, unknown>>>(
      'SELECT type, source, user_id::text AS subject, data, occurred_at, idempotency_key FROM events WHERE id = $1::uuid', body.id,
    );
    return row ?? null;
  },
};

function startControl() {
  const server = http.createServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const action = req.method === 'POST' ? actions[req.url ?? ''] : undefined;
    try {
      if (!action) throw new Error(`no action ${req.method} ${req.url}`);
      const answer = await action(text ? JSON.parse(text) : {});
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String((error as Error).stack ?? error));
    }
  });
  return new Promise<http.Server>((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Runs one unittest module with nexus_auth from `packagePath`; resolves with its exit code and whole report. */
function unittest(module: string, packagePath = PACKAGE) {
  const child = spawn(PYTHON, ['-m', 'unittest', '-v', module], {
    cwd: HERE,
    // Only what the tests need: no proxy settings leak into loopback requests.
    env: {
      PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', PYTHONPATH: packagePath, PYTHONDONTWRITEBYTECODE: '1',
      NEXUS_ISSUER: t.url, NEXUS_TEST_CONTROL: controlUrl, NEXUS_TEST_OWNER_ID: ownerId, NEXUS_TEST_EMAIL: EMAIL,
      NEXUS_AGI_SAFETY_SECRET: t.secrets['agi-safety'], NEXUS_SALES_SECRET: t.secrets.sales, NEXUS_EMITTER_SECRET: emitterSecret,
    },
  });
  let output = '';
  child.stdout.on('data', (chunk) => { output += chunk; });
  child.stderr.on('data', (chunk) => { output += chunk; });
  const timer = setTimeout(() => child.kill('SIGTERM'), 50_000);
  return new Promise<{ code: number; output: string }>((resolve) => child.on('close', (code) => {
    clearTimeout(timer);
    resolve({ code: code ?? -1, output });
  }));
}

async function expectPasses(module: string, minimumTests: number, packagePath = PACKAGE) {
  const { code, output } = await unittest(module, packagePath);
  expect(code, output).toBe(0);
  const ran = Number(output.match(/^Ran (\d+) tests? in /m)?.[1] ?? 0);
  expect(ran, output).toBeGreaterThanOrEqual(minimumTests);
  expect(output, output).toMatch(/^OK$/m); // no "skipped", no expected failures hiding problems
}

beforeAll(async () => {
  t = await startTestHub();
  apiKeys = new ApiKeys(t.hub.db.prisma);
  ownerId = (await t.hub.users.create({ email: EMAIL, password: PASSWORD, fullName: 'Barbara McClintock' })).id;
  ({ secret: emitterSecret } = await t.hub.clients.add({
    id: 'emitter', name: 'Emitter', grantTypes: ['client_credentials'], audience: 'urn:nexus:emitter', scopes: ['things:read'],
  }) as { secret: string });
  control = await startControl();
  controlUrl = `http://127.0.0.1:${(control.address() as { port: number }).port}`;
});

afterAll(async () => {
  if (control) await closeServer(control);
  await t?.stop();
});

describe('nexus_auth (Python) against a real hub', () => {
  it('Verifier: real tokens pass; wrong aud/iss, expired, alg none, HS256, no typ are refused; JWKS caching', { timeout: 60_000 }, async () => {
    await expectPasses('test_verifier', 14);
  });

  it('exchange_api_key: a real key for a token; invalid_grant, invalid_client, 429 slow_down with retry_after', { timeout: 60_000 }, async () => {
    await expectPasses('test_exchange', 5);
  });

  it('verify_webhook: what the standardwebhooks library signs verifies; tampering, old timestamps, garbage headers are refused', { timeout: 60_000 }, async () => {
    await expectPasses('test_webhooks', 14);
  });

  it('emit / emit_many: events stored by the hub, one shared token for parallel threads, renewed once after a 401', { timeout: 60_000 }, async () => {
    await expectPasses('test_emit', 7);
  });

  it('pip installs packages/python offline (setuptools backend) and the installed copy works', { timeout: 60_000 }, async () => {
    // A copy, so pip's build/ and *.egg-info never land in the working tree.
    const work = await fs.mkdtemp(path.join(os.tmpdir(), 'nexus-pip-'));
    try {
      const source = path.join(work, 'source');
      const target = path.join(work, 'site');
      await fs.cp(PACKAGE, source, { recursive: true, filter: (file) => !/(__pycache__|\.egg-info|[\\/]build)$/.test(file) });
      // No index: only the setuptools Debian ships; the dependencies are Debian's too (--no-deps).
      await promisify(execFile)(PYTHON, ['-m', 'pip', 'install', '--no-deps', '--no-build-isolation', '--no-index', '--disable-pip-version-check', '--target', target, source], {
        env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', PIP_ROOT_USER_ACTION: 'ignore', HOME: work }, timeout: 50_000,
      });
      const metadata = await fs.readFile(path.join(target, 'nexus_auth-0.1.0.dist-info', 'METADATA'), 'utf8');
      expect(metadata).toMatch(/^Name: nexus-auth$/m);
      expect(metadata.match(/^Requires-Dist: .*$/gm)?.sort()).toEqual(['Requires-Dist: PyJWT[crypto] (>=2.4)', 'Requires-Dist: requests (>=2.25)']);
      const { stdout } = await promisify(execFile)(PYTHON, ['-c', 'import nexus_auth; print(nexus_auth.__file__)'], { env: { PATH: '/usr/bin:/bin', PYTHONPATH: target } });
      expect(stdout.trim()).toBe(path.join(target, 'nexus_auth', '__init__.py'));
      await expectPasses('test_exchange', 5, target);
    } finally {
      await fs.rm(work, { recursive: true, force: true });
    }
  });

  it('device_login: the user approves (or cancels) on the hub\'s device page; confidential and public clients', { timeout: 60_000 }, async () => {
    await expectPasses('test_device', 5);
  });
});

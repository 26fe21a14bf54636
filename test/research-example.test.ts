// examples/research.py end to end: Debian's python3-authlib runs the device authorization grant
// against a real hub while this test plays the person approving the code in a browser, then
// client credentials, then calls a protected API built with the SDK (Koa + nexusKoa), and
// verifies the tokens against the hub's JWKS. The script reports JSON lines; this file judges them.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type http from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Koa from 'koa';
import { nexusKoa, requireScope, type Principal } from '@nexus/auth';
import { startTestHub, type TestHub } from './support/hub.js';
import { Browser, parseForm } from './support/browser.js';
import { listen, makeKey, signToken } from './sdk/helpers.js';

const SCRIPT = fileURLToPath(new URL('../examples/research.py', import.meta.url));
// Debian's Python: the python3 first on PATH is another build without python3-authlib.
const PYTHON = '/usr/bin/python3';
const EMAIL = 'rosalind@example.com';
const PASSWORD = 'photo 51 diffraction';

let t: TestHub;
let userId: string;
let api: http.Server;
let apiUrl: string;
const apiCalls: Array<{ authorization: string | undefined; status: number }> = [];

beforeAll(async () => {
  t = await startTestHub();
  userId = (await t.hub.users.create({ email: EMAIL, password: PASSWORD, fullName: 'Rosalind Franklin' })).id;

  // The research project's API, protected with the SDK.
  const app = new Koa();
  app.use(async (ctx, next) => {
    await next();
    apiCalls.push({ authorization: ctx.get('authorization') || undefined, status: ctx.status });
  });
  app.use(nexusKoa({ issuer: t.url, audience: 'urn:nexus:agi-safety' }));
  app.use((ctx) => {
    const principal = ctx.state.nexus as Principal;
    requireScope(principal, 'research:read');
    ctx.body = { papers: ['Concrete Problems in AI Safety'], sub: principal.sub, clientId: principal.clientId, isUser: principal.isUser, email: principal.email ?? null };
  });
  api = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => api.once('listening', resolve));
  apiUrl = `http://127.0.0.1:${(api.address() as { port: number }).port}/api/papers`;
});

afterAll(async () => {
  if (api) {
    api.closeAllConnections();
    await new Promise((resolve) => api.close(resolve));
  }
  await t?.stop();
});

interface Line { event: string; [key: string]: unknown }

/** Runs the script; `onLine` sees each JSON line as it arrives. Resolves with all lines, stderr and the exit code. */
function runScript(env: Record<string, string>, onLine: (line: Line) => Promise<void> | void = () => {}) {
  const child: ChildProcessWithoutNullStreams = spawn(PYTHON, [SCRIPT, '--json'], {
    // Only what the script needs: no proxy settings leak into loopback requests.
    env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', ...env },
  });
  const lines: Line[] = [];
  const handlers: Array<Promise<void>> = [];
  let failure: unknown;
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const reader = createInterface({ input: child.stdout });
  reader.on('line', (text) => {
    let line: Line;
    try {
      line = JSON.parse(text) as Line;
    } catch {
      line = { event: 'not-json', text };
    }
    lines.push({ ...line, receivedAt: Date.now() });
    // A failing handler (e.g. the approval) stops the script instead of letting it poll on.
    handlers.push(Promise.resolve().then(() => onLine(line)).catch((error) => { failure ??= error; child.kill('SIGTERM'); }));
  });
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  const timer = setTimeout(() => child.kill('SIGTERM'), 50_000);
  return exited.then(async (code) => {
    clearTimeout(timer);
    await Promise.all(handlers);
    if (failure) throw failure;
    return { code, lines: lines.map(({ receivedAt: _, ...line }) => line as Line), times: lines.map((l) => l.receivedAt as number), stderr };
  });
}

/** The person: opens the link, confirms the code, signs in, approves. */
async function approve(verificationUriComplete: string) {
  const browser = new Browser(t.url);
  let page = await browser.follow(await browser.get(verificationUriComplete));
  // oidc-provider first answers with a self-submitting form carrying the code ("Submitting
  // Callback"), then the hub asks to confirm the code (another form to /device); confirming
  // leads to the login page.
  const pages: string[] = [];
  for (let step = 0; step < 3 && !page.body.includes('/login"'); step++) {
    pages.push(page.body.match(/<title>([^<]*)<\/title>/)?.[1] ?? '');
    const form = parseForm(page.body, '/device');
    page = await browser.follow(await browser.post(form.action, form.fields));
  }
  expect(pages).toEqual(['Submitting Callback', 'Confirm this device · Nexus']);
  const login = parseForm(page.body, '/login');
  expect(Object.keys(login.fields)).toEqual(expect.arrayContaining(['csrf']));
  page = await browser.follow(await browser.post(login.action, { ...login.fields, email: EMAIL, password: PASSWORD }));
  // agi-safety is a third-party project: consent is asked, unless this user allowed it before
  // (remembered per user and project).
  if (page.body.includes('/consent"')) {
    const consent = parseForm(page.body, '/consent');
    page = await browser.follow(await browser.post(consent.action, consent.fields));
  }
  expect(page.body).toContain('Device connected');
}

const baseEnv = () => ({
  NEXUS_ISSUER: t.url,
  NEXUS_CLIENT_SECRET: t.secrets['agi-safety'],
  RESEARCH_API_URL: apiUrl,
});

describe('examples/research.py (python3-authlib)', () => {
  it('device flow + client credentials + API call + JWKS verification', { timeout: 60_000 }, async () => {
    let approvedAt = 0;
    const { code, lines, times, stderr } = await runScript(baseEnv(), async (line) => {
      if (line.event !== 'device_code') return;
      expect(line.user_code).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
      expect(line.verification_uri).toBe(`${t.url}/device`);
      expect(line.interval).toBe(5);
      await approve(line.verification_uri_complete as string);
      approvedAt = Date.now();
    });
    if (code !== 0) throw new Error(`research.py exited ${code}:\n${stderr}\n${JSON.stringify(lines)}`);

    expect(lines.map((l) => l.event)).toEqual(['device_code', 'result']);
    expect(approvedAt).toBeGreaterThan(0);
    expect(stderr).toContain('To sign in, open');
    const result = lines[1] as Line & {
      device: { scope: string; has_id_token: boolean; claims: Record<string, unknown> };
      client_credentials: { scope: string; claims: Record<string, unknown> };
      api: { user: { status: number; body: Record<string, unknown> }; client: { status: number; body: Record<string, unknown> } };
    };
    expect(result.issuer).toBe(t.url);

    // The device-flow token speaks for the user who approved the code.
    expect(result.device.claims).toMatchObject({
      sub: userId, client_id: 'agi-safety', email: EMAIL, iss: t.url, aud: 'urn:nexus:agi-safety', scope: 'research:read',
    });
    expect(result.device.has_id_token).toBe(true);
    // The client-credentials token speaks for the client.
    expect(result.client_credentials.claims).toMatchObject({ sub: 'agi-safety', client_id: 'agi-safety', aud: 'urn:nexus:agi-safety', scope: 'research:read' });
    expect(result.client_credentials.claims.email).toBeUndefined();

    // The SDK-protected API accepted both.
    expect(result.api.user).toEqual({ status: 200, body: { papers: ['Concrete Problems in AI Safety'], sub: userId, clientId: 'agi-safety', isUser: true, email: EMAIL } });
    expect(result.api.client).toEqual({ status: 200, body: { papers: ['Concrete Problems in AI Safety'], sub: 'agi-safety', clientId: 'agi-safety', isUser: false, email: null } });
    expect(apiCalls.filter((c) => c.authorization?.startsWith('Bearer ')).map((c) => c.status)).toEqual([200, 200]);

    // The script waited for the approval, polling no faster than the 5 s interval.
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(4500);
    expect(times[1]).toBeGreaterThan(approvedAt);
  });

  it('honours interval and slow_down while polling (a scripted token endpoint)', { timeout: 60_000 }, async () => {
    // A stand-in hub whose token endpoint answers pending, slow_down, then tokens.
    const key = await makeKey('scripted');
    const polls: number[] = [];
    const answers = ['authorization_pending', 'slow_down'];
    let issuer = '';
    const sign = (sub: string, scope: string) => signToken(key, { issuer, audience: 'urn:nexus:agi-safety', claims: { sub, client_id: 'agi-safety', scope } });
    const fake = await listen(async (req, res) => {
      const body = await new Promise<string>((resolve) => { let data = ''; req.on('data', (c) => { data += c; }); req.on('end', () => resolve(data)); });
      const form = new URLSearchParams(body);
      const json = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      if (req.url === '/.well-known/openid-configuration') {
        return json(200, { issuer, token_endpoint: `${issuer}/token`, device_authorization_endpoint: `${issuer}/device/auth`, jwks_uri: `${issuer}/jwks` });
      }
      if (req.url === '/jwks') return json(200, { keys: [key.publicJwk] });
      if (req.url === '/device/auth') {
        expect(req.headers.authorization).toBe(`Basic ${Buffer.from('agi-safety:s3cret').toString('base64')}`);
        return json(200, { device_code: 'dc', user_code: 'ABCD-EFGH', verification_uri: `${issuer}/device`, verification_uri_complete: `${issuer}/device?user_code=ABCD-EFGH`, expires_in: 60, interval: 1 });
      }
      if (req.url === '/token' && form.get('grant_type') === 'urn:ietf:params:oauth:grant-type:device_code') {
        polls.push(Date.now());
        const answer = answers.shift();
        if (answer) return json(400, { error: answer });
        return json(200, { access_token: await sign('user-9', 'research:read'), token_type: 'Bearer', expires_in: 300, scope: 'openid research:read' });
      }
      if (req.url === '/token' && form.get('grant_type') === 'client_credentials') {
        return json(200, { access_token: await sign('agi-safety', 'research:read'), token_type: 'Bearer', expires_in: 300, scope: 'research:read' });
      }
      return json(404, { error: 'not_found' });
    });
    issuer = `http://127.0.0.1:${fake.port}`;
    try {
      const { code, lines, stderr } = await runScript({ NEXUS_ISSUER: issuer, NEXUS_CLIENT_SECRET: 's3cret' });
      if (code !== 0) throw new Error(`research.py exited ${code}:\n${stderr}`);
      expect(lines.map((l) => l.event)).toEqual(['device_code', 'result']);
      expect(lines[1]).toMatchObject({ device: { claims: { sub: 'user-9' } }, client_credentials: { claims: { sub: 'agi-safety' } }, api: null });
      expect(polls).toHaveLength(3);
      const gaps = polls.slice(1).map((at, i) => at - polls[i]);
      expect(gaps[0]).toBeGreaterThanOrEqual(900); // interval 1 s
      expect(gaps[0]).toBeLessThan(5000);
      expect(gaps[1]).toBeGreaterThanOrEqual(5900); // after slow_down: 1 + 5 s
    } finally {
      await fake.close();
    }
  });

  it('fails clearly with a wrong client secret', async () => {
    const { code, lines, stderr } = await runScript({ ...baseEnv(), NEXUS_CLIENT_SECRET: 'not-the-secret' });
    expect(code).toBe(1);
    expect(lines).toEqual([{ event: 'error', message: expect.stringMatching(/device authorization answered HTTP 401/) }]);
    expect(stderr).toMatch(/^research\.py: error: device authorization answered HTTP 401/m);
  });

  it('fails clearly without configuration and when the hub is unreachable', async () => {
    const missing = await runScript({});
    expect(missing.code).toBe(1);
    expect(missing.lines).toEqual([{ event: 'error', message: 'set NEXUS_ISSUER and NEXUS_CLIENT_SECRET' }]);

    const unreachable = await runScript({ NEXUS_ISSUER: 'http://127.0.0.1:9', NEXUS_CLIENT_SECRET: 'x' });
    expect(unreachable.code).toBe(1);
    expect(unreachable.lines[0].message).toMatch(/^cannot reach http:\/\/127\.0\.0\.1:9\/\.well-known\/openid-configuration/);
  });
});

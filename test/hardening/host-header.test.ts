// Every URL the hub prints comes from ISSUER: a request addressed to another host (Host, or
// X-Forwarded-Host/Proto behind a trusted proxy) is refused, and untrusted forwarding headers
// change nothing. Health probes answer whatever the Host.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { basicAuth } from '../support/oauth.js';

let direct: TestHub;
let proxied: TestHub;

beforeAll(async () => {
  [direct, proxied] = await Promise.all([startTestHub(), startTestHub({ TRUST_PROXY: 'true' })]);
});
afterAll(() => Promise.all([direct?.stop(), proxied?.stop()]));

interface Answer { status: number; text: string; json: Record<string, unknown> }

/** fetch() cannot set Host; node:http can. */
function send(t: TestHub, path: string, headers: Record<string, string>, form?: Record<string, string>): Promise<Answer> {
  const body = form ? new URLSearchParams(form).toString() : undefined;
  return new Promise((resolve, reject) => {
    const request = http.request({
      host: '127.0.0.1', port: t.port, path, method: body ? 'POST' : 'GET',
      headers: { accept: 'application/json', ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...headers },
    }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => { text += chunk; });
      response.on('end', () => {
        let json: Record<string, unknown> = {};
        try { json = JSON.parse(text); } catch { /* a page */ }
        resolve({ status: response.statusCode!, text, json });
      });
    });
    request.on('error', reject);
    request.end(body);
  });
}

const issuerHost = (t: TestHub) => new URL(t.url).host;
const DISCOVERY = '/.well-known/openid-configuration';

/** Every URL-valued field of a discovery document. */
function urlsIn(document: Record<string, unknown>) {
  return Object.values(document).filter((value): value is string => typeof value === 'string' && /^\w+:\/\//.test(value));
}

describe('without TRUST_PROXY', () => {
  it('answers discovery with the issuer URLs only', async () => {
    const answer = await send(direct, DISCOVERY, { host: issuerHost(direct) });
    expect(answer.status).toBe(200);
    expect(urlsIn(answer.json).length).toBeGreaterThan(5);
    for (const url of urlsIn(answer.json)) expect(url.startsWith(`${direct.url}/`) || url === direct.url).toBe(true);
  });

  it.each([
    ['another host', 'evil.example'],
    ['the issuer host on another port', 'localhost:1'],
    ['a host with userinfo', 'localhost:1@evil.example'],
    ['a host with a path', 'evil.example/x'],
  ])('refuses %s with 400', async (_name, host) => {
    const answer = await send(direct, DISCOVERY, { host });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe('invalid_host');
    expect(answer.text).not.toContain('evil.example');
  });

  it('ignores X-Forwarded-Host and X-Forwarded-Proto', async () => {
    const answer = await send(direct, DISCOVERY, { host: issuerHost(direct), 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' });
    expect(answer.status).toBe(200);
    expect(answer.json.jwks_uri).toBe(`${direct.url}/jwks`);
    expect(answer.text).not.toContain('evil.example');
  });

  it('refuses a device authorization for another host, and puts verification_uri on the issuer', async () => {
    const auth = { authorization: basicAuth('agi-safety', direct.secrets['agi-safety']) };
    const forged = await send(direct, '/device/auth', { ...auth, host: 'evil.example' }, { scope: 'openid' });
    expect(forged.status).toBe(400);
    const real = await send(direct, '/device/auth', { ...auth, host: issuerHost(direct) }, { scope: 'openid' });
    expect(real.status).toBe(200);
    expect(real.json.verification_uri).toBe(`${direct.url}/device`);
    expect(String(real.json.verification_uri_complete).startsWith(`${direct.url}/device?`)).toBe(true);
  });

  it('keeps the health probes answering for any host', async () => {
    expect((await send(direct, '/healthz', { host: '10.0.0.7:3000' })).status).toBe(200);
    expect((await send(direct, '/readyz', { host: 'evil.example' })).status).toBe(200);
  });
});

describe('with TRUST_PROXY', () => {
  it('takes the public host from the proxy and refuses any but the issuer', async () => {
    const good = await send(proxied, DISCOVERY, { host: '10.0.0.7:3000', 'x-forwarded-host': issuerHost(proxied), 'x-forwarded-proto': 'http' });
    expect(good.status).toBe(200);
    expect(good.json.token_endpoint).toBe(`${proxied.url}/token`);

    const forged = await send(proxied, DISCOVERY, { host: issuerHost(proxied), 'x-forwarded-host': 'evil.example' });
    expect(forged.status).toBe(400);
    expect(forged.text).not.toContain('evil.example');
    // An https URL for an http issuer would be as wrong as another host.
    expect((await send(proxied, DISCOVERY, { host: issuerHost(proxied), 'x-forwarded-proto': 'https' })).status).toBe(400);
  });
});

// Independent client: Authlib (Debian's python3-authlib) signs in through the hub's real login
// page, redeems the code with PKCE, refreshes, runs client credentials and verifies every token
// with authlib.jose. The Python script reports what it saw as JSON; this file judges it.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('./authlib_client.py', import.meta.url));
// Debian's Python: the python3 first on PATH is another build without python3-authlib.
const PYTHON = '/usr/bin/python3';

const EMAIL = 'dorothy@example.com';
const PASSWORD = 'x-ray crystallography';
const FULL_NAME = 'Dorothy Hodgkin';

interface Verified {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
}
interface Report {
  discovery: Record<string, unknown>;
  authorization: { login_page_shown: boolean; consent_page_shown: boolean; state_matches: boolean; iss: string | null; has_code: boolean };
  token_response: { token_type: string; expires_in: number; has_refresh_token: boolean };
  id_token: Verified;
  access_token: Verified;
  refresh: { rotated: boolean; access_token: Verified };
  client_credentials: { token_type: string; has_refresh_token: boolean; has_id_token: boolean; access_token: Verified };
}

let t: TestHub;
let userId: string;

beforeAll(async () => {
  t = await startTestHub();
  const user = await t.hub.users.create({ email: EMAIL, password: PASSWORD, fullName: FULL_NAME });
  userId = user.id;
});
afterAll(() => t?.stop());

async function runAuthlib(overrides: Record<string, string> = {}) {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    NEXUS_ISSUER: t.url,
    NEXUS_CLIENT_ID: 'sales',
    NEXUS_CLIENT_SECRET: t.secrets.sales,
    NEXUS_EMAIL: EMAIL,
    NEXUS_PASSWORD: PASSWORD,
    NEXUS_REDIRECT_URI: 'http://localhost:3001/auth/callback',
    NEXUS_AUDIENCE: 'urn:nexus:sales',
    NEXUS_SCOPE: 'leads:read leads:write',
    NEXUS_CC_SCOPE: 'leads:read',
    ...overrides,
  };
  return run(PYTHON, [SCRIPT], { env, timeout: 45_000 });
}

describe('Authlib (python3-authlib) against the hub', () => {
  it('runs on Debian python with Authlib importable', async () => {
    const { stdout } = await run(PYTHON, ['-c', 'import authlib, requests; print(authlib.__version__)']);
    expect(stdout.trim()).toMatch(/^\d+\.\d+/);
  });

  it('signs in with code + PKCE, refreshes, runs client credentials and verifies every token', async () => {
    let stdout: string;
    try {
      ({ stdout } = await runAuthlib());
    } catch (error) {
      const { stderr, stdout: out } = error as { stderr?: string; stdout?: string };
      throw new Error(`authlib_client.py failed:\n${stderr ?? ''}${out ?? ''}`);
    }
    const report = JSON.parse(stdout) as Report;

    expect(report.discovery).toMatchObject({ issuer: t.url, token_endpoint: `${t.url}/token`, jwks_uri: `${t.url}/jwks` });

    // The person went through the real login page; a first-party project shows no consent page.
    expect(report.authorization).toMatchObject({ login_page_shown: true, consent_page_shown: false, state_matches: true, has_code: true });
    // RFC 9207: the authorization response names the issuer.
    expect(report.authorization.iss).toBe(t.url);
    expect(report.token_response.token_type.toLowerCase()).toBe('bearer');
    expect(report.token_response.expires_in).toBeGreaterThan(0);

    // ID token: verified by authlib.jose (RS256, iss, aud = client id, exp, nonce).
    expect(report.id_token.header.alg).toBe('RS256');
    expect(report.id_token.claims).toMatchObject({
      iss: t.url, aud: 'sales', sub: userId, email: EMAIL, email_verified: false, name: FULL_NAME,
    });

    // Access token: an RFC 9068 JWT for the project's API, verified by authlib.jose.
    expect(report.access_token.header).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    expect(report.access_token.claims).toMatchObject({
      iss: t.url, aud: 'urn:nexus:sales', sub: userId, client_id: 'sales', email: EMAIL, role: 'user',
    });
    expect(String(report.access_token.claims.scope).split(' ').sort()).toEqual(['leads:read', 'leads:write']);

    // Refresh via OAuth2Session.refresh_token: rotated, same user, same API scopes.
    expect(report.refresh.rotated).toBe(true);
    expect(report.refresh.access_token.header.typ).toBe('at+jwt');
    expect(report.refresh.access_token.claims).toMatchObject({ aud: 'urn:nexus:sales', sub: userId, client_id: 'sales', role: 'user' });
    expect(report.refresh.access_token.claims.jti).not.toBe(report.access_token.claims.jti);

    // Client credentials: a machine token (no user) with exactly the requested scope.
    expect(report.client_credentials).toMatchObject({ has_refresh_token: false, has_id_token: false });
    expect(report.client_credentials.access_token.header.typ).toBe('at+jwt');
    expect(report.client_credentials.access_token.claims).toMatchObject({
      iss: t.url, aud: 'urn:nexus:sales', client_id: 'sales', sub: 'sales', scope: 'leads:read',
    });
    expect(report.client_credentials.access_token.claims).not.toHaveProperty('email');
  });

  it('really verifies: a token checked against another API audience is rejected by authlib.jose', async () => {
    const failure = await runAuthlib({ NEXUS_AUDIENCE: 'urn:nexus:agi-safety' }).then(() => null, (error: unknown) => error);
    expect(failure).not.toBeNull();
    const { code, stderr } = failure as { code: number; stderr: string };
    expect(code).toBe(1);
    expect(stderr).toMatch(/authlib_client\.py: FAILED: InvalidClaimError: .*aud/);
  });

  it('fails loudly (non-zero exit, clear message) when the password is wrong', async () => {
    const failure = await runAuthlib({ NEXUS_PASSWORD: 'not the password' }).then(() => null, (error: unknown) => error);
    expect(failure).not.toBeNull();
    const { code, stderr } = failure as { code: number; stderr: string };
    expect(code).toBe(1);
    // The hub re-renders the login page (401) instead of redirecting back to the project.
    expect(stderr).toContain('authlib_client.py: FAILED');
    expect(stderr).toContain('Incorrect email or password');
  });
});

// First-party consent without a consent step: a first-party project's grant is completed while
// the authorization request is processed (src/oidc/first-party-grant.ts), so the browser goes
// from the login form straight back to the project. Third-party projects still ask, and a user
// without access to a first-party project is still stopped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { startTestHub, type TestHub } from '../support/hub.js';
import { Browser, parseForm, pkcePair } from '../support/browser.js';
import { postForm } from '../support/oauth.js';

const EMAIL = 'ada@example.com';
const PASSWORD = 'correct horse battery';
const SALES = { clientId: 'sales', redirectUri: 'http://localhost:3001/auth/callback' };
// First-party, access "granted" in clients.json: Ada has no grant.
const LIMINAL = { clientId: 'liminal', redirectUri: 'http://localhost:3003/auth/callback' };
// Third-party.
const AGI_SAFETY = { clientId: 'agi-safety', redirectUri: 'http://localhost:3005/auth/callback' };

let t: TestHub;
let adaId: string;
beforeAll(async () => {
  t = await startTestHub();
  adaId = (await t.hub.users.create({ email: EMAIL, password: PASSWORD, fullName: 'Ada' })).id;
});
afterAll(() => t?.stop());

interface Visit { method: string; path: string; status: number }

/**
 * One authorization request in `browser`, signing in on the login form if it is shown; stops at
 * the first page that is not the login form, or at the redirect back to the project. Records
 * every request the browser made.
 */
async function signIn(browser: Browser, project: { clientId: string; redirectUri: string }, scope: string, extra: Record<string, string> = {}) {
  const { verifier, challenge } = pkcePair();
  const visits: Visit[] = [];
  const visit = async (method: string, url: string, response: Promise<Response>) => {
    const r = await response;
    visits.push({ method, path: new URL(url, t.url).pathname, status: r.status });
    return r;
  };
  const authUrl = `/auth?${new URLSearchParams({
    client_id: project.clientId, redirect_uri: project.redirectUri, response_type: 'code', scope,
    code_challenge: challenge, code_challenge_method: 'S256', state: 'st4te', ...extra,
  })}`;
  let url = authUrl;
  let response = await visit('GET', url, browser.get(url));
  for (let hops = 0; hops < 12; hops++) {
    const location = response.headers.get('location');
    if (location && response.status >= 300 && response.status < 400) {
      url = new URL(location, t.url).toString();
      if (url.startsWith(project.redirectUri)) return { visits, returned: new URL(url), verifier, body: '', status: response.status };
      response = await visit('GET', url, browser.get(url));
      continue;
    }
    const body = await response.text();
    if (!body.includes('/login"')) return { visits, returned: undefined, verifier, body, status: response.status };
    const { action, fields } = parseForm(body, '/login');
    response = await visit('POST', action, browser.post(action, { ...fields, email: EMAIL, password: PASSWORD }));
  }
  throw new Error(`too many hops: ${JSON.stringify(visits)}`);
}

async function grantsOfAda(clientId: string): Promise<number> {
  const rows = await t.hub.db.prisma.$queryRawUnsafe<Array<{ n: bigint }>>(
    "SELECT count(*) AS n FROM oidc_payloads WHERE model = 'Grant' AND account_id = $1 AND payload->>'clientId' = $2", adaId, clientId,
  );
  return Number(rows[0].n);
}

describe('a first-party project', () => {
  // One browser: its second sign-in finds the session of the first.
  let browser: Browser;
  beforeAll(() => { browser = new Browser(t.url); });

  it('returns a code right after the login form, without a consent step, and the tokens carry the requested scopes', async () => {
    const result = await signIn(browser, SALES, 'openid email leads:read');
    expect(result.returned?.searchParams.get('code'), JSON.stringify(result.visits)).toBeTruthy();
    // /auth, the login page, the credentials, /auth/<uid>: no GET /interaction/<uid> after signing in.
    expect(result.visits.map((v) => `${v.method} ${v.path.replace(/\/(auth|interaction)\/[^/]+/, '/$1/<uid>')}`)).toEqual([
      'GET /auth', 'GET /interaction/<uid>', 'POST /interaction/<uid>/login', 'GET /auth/<uid>',
    ]);

    const tokens = await postForm(t, '/token', SALES.clientId, {
      grant_type: 'authorization_code', code: result.returned!.searchParams.get('code')!, code_verifier: result.verifier, redirect_uri: SALES.redirectUri,
    });
    expect(tokens.status, tokens.text).toBe(200);
    // The access token is for the project's API (its scopes); the OpenID scopes show in the ID token.
    expect(tokens.body.scope).toBe('leads:read');
    const access = decodeJwt(tokens.body.access_token);
    expect(access).toMatchObject({ aud: 'urn:nexus:sales', scope: 'leads:read' });
    const id = decodeJwt(tokens.body.id_token);
    expect(id).toMatchObject({ sub: adaId, email: EMAIL });
    expect(id.name).toBeUndefined();
    expect(await grantsOfAda(SALES.clientId)).toBe(1);
  });

  it('reuses the grant for a second sign-in in the same browser session', async () => {
    const result = await signIn(browser, SALES, 'openid email leads:read');
    expect(result.visits.map((v) => v.path)).toEqual(['/auth']);
    expect(result.returned?.searchParams.get('code')).toBeTruthy();
    expect(await grantsOfAda(SALES.clientId)).toBe(1);
  });

  it('adds newly requested scopes to the same grant, even for prompt=none', async () => {
    const result = await signIn(browser, SALES, 'openid email profile leads:read', { prompt: 'none' });
    const tokens = await postForm(t, '/token', SALES.clientId, {
      grant_type: 'authorization_code', code: result.returned!.searchParams.get('code')!, code_verifier: result.verifier, redirect_uri: SALES.redirectUri,
    });
    expect(tokens.status, tokens.text).toBe(200);
    expect(decodeJwt(tokens.body.id_token)).toMatchObject({ email: EMAIL, name: 'Ada' });
    expect(await grantsOfAda(SALES.clientId)).toBe(1);
  });

  it('still stops a user without access to the project: the no-access page, and access_denied for prompt=none', async () => {
    const browser = new Browser(t.url);
    const result = await signIn(browser, LIMINAL, 'openid');
    expect(result.status).toBe(403);
    expect(result.body).toContain('access to Liminal');
    expect(result.returned).toBeUndefined();

    const silent = await signIn(browser, LIMINAL, 'openid', { prompt: 'none' });
    expect(silent.returned?.searchParams.get('error')).toBe('access_denied');
    expect(silent.returned?.searchParams.get('code')).toBeNull();
    expect(await grantsOfAda(LIMINAL.clientId)).toBe(0);
  });
});

describe('a third-party project', () => {
  it('still shows the consent page', async () => {
    const result = await signIn(new Browser(t.url), AGI_SAFETY, 'openid research:read');
    expect(result.status).toBe(200);
    expect(result.body).toContain('/consent"');
    expect(result.returned).toBeUndefined();
    expect(await grantsOfAda(AGI_SAFETY.clientId)).toBe(0);
  });
});

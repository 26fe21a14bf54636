// What the benchmark does to a server: the operations the load loop repeats, each of which
// throws unless the server answered exactly as a correct client expects.
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { basicAuth, browse, CookieJar, parseForm, pkcePair, send, type Target } from './http.js';

export interface ClientCredentials {
  clientId: string;
  secret: string;
  redirectUri: string;
}

export interface Account {
  email: string;
  password: string;
}

const FORM = 'application/x-www-form-urlencoded';

/** POST /token grant_type=client_credentials; resolves with the access token. */
export async function clientCredentialsGrant(target: Target, client: ClientCredentials, scope: string): Promise<string> {
  const reply = await send(target, '/token', {
    method: 'POST',
    headers: { 'content-type': FORM, accept: 'application/json', authorization: basicAuth(client.clientId, client.secret) },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
  });
  if (reply.status !== 200) throw new Error(`token endpoint answered ${reply.status}: ${reply.body.slice(0, 200)}`);
  const token = (JSON.parse(reply.body) as { access_token?: string }).access_token;
  if (!token) throw new Error(`no access_token in ${reply.body.slice(0, 200)}`);
  return token;
}

/** GET of a public JSON document (JWKS, discovery). */
export async function getJson(target: Target, path: string): Promise<unknown> {
  const reply = await send(target, path, { headers: { accept: 'application/json' } });
  if (reply.status !== 200) throw new Error(`${path} answered ${reply.status}`);
  return JSON.parse(reply.body);
}

/** Cheap variant for the load loop: status and a non-empty body only. */
export async function getOk(target: Target, path: string): Promise<void> {
  const reply = await send(target, path, { headers: { accept: 'application/json' } });
  if (reply.status !== 200 || reply.body.length < 2) throw new Error(`${path} answered ${reply.status}`);
}

/** Where a redirect points, as a path on the target, or as an absolute URL when it leaves it. */
function resolveLocation(target: Target, location: string, redirectUri: string) {
  const url = new URL(location, target.issuer);
  if (url.href.startsWith(redirectUri)) return { leaves: true as const, url };
  if (url.origin !== new URL(target.issuer).origin) throw new Error(`redirect to an unexpected place: ${url.origin}${url.pathname}`);
  return { leaves: false as const, path: `${url.pathname}${url.search}` };
}

/**
 * One complete sign-in as a browser plus a confidential client would do it: authorization
 * request with PKCE, login page, credentials, redirects back with a code, code exchange. On a
 * first-party project that is 5 requests: GET /auth, GET login page, POST credentials,
 * GET /auth/<uid> (redirect with the code), POST /token. Resolves with the token response.
 */
export async function loginFlow(target: Target, client: ClientCredentials, account: Account) {
  const jar = new CookieJar();
  const { verifier, challenge } = pkcePair();
  const state = pkcePair().verifier.slice(0, 16);
  const query = new URLSearchParams({
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    response_type: 'code',
    scope: 'openid',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
  });

  let reply = await browse(target, jar, `/auth?${query}`);
  let callback: URL | undefined;
  let loggedIn = false;
  for (let hop = 0; hop < 12 && !callback; hop++) {
    if (reply.status >= 300 && reply.status < 400 && reply.headers.location) {
      const next = resolveLocation(target, reply.headers.location, client.redirectUri);
      if (next.leaves) callback = next.url;
      else reply = await browse(target, jar, next.path);
    } else if (reply.status === 200 && !loggedIn && reply.body.includes('/login"')) {
      const { action, fields } = parseForm(reply.body, '/login');
      loggedIn = true;
      reply = await browse(target, jar, action, {
        method: 'POST',
        headers: { 'content-type': FORM },
        body: new URLSearchParams({ ...fields, email: account.email, password: account.password }).toString(),
      });
    } else {
      throw new Error(`sign-in stopped at ${reply.status}: ${reply.body.replace(/\s+/g, ' ').slice(0, 200)}`);
    }
  }
  if (!callback) throw new Error('sign-in did not return to the client');
  if (!loggedIn) throw new Error('sign-in never showed the login page');
  const code = callback.searchParams.get('code');
  if (!code || callback.searchParams.get('state') !== state) throw new Error(`bad callback: ${callback.search.slice(0, 200)}`);

  const token = await send(target, '/token', {
    method: 'POST',
    headers: { 'content-type': FORM, accept: 'application/json', authorization: basicAuth(client.clientId, client.secret) },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: client.redirectUri }).toString(),
  });
  if (token.status !== 200) throw new Error(`code exchange answered ${token.status}: ${token.body.slice(0, 200)}`);
  const body = JSON.parse(token.body) as { id_token?: string; access_token?: string };
  if (!body.id_token || !body.access_token) throw new Error(`code exchange without tokens: ${token.body.slice(0, 200)}`);
  return body;
}

/** Verifies a JWT against the target's own JWKS; returns its header and payload. */
export async function verifyJwt(target: Target, jwt: string, audience: string | undefined) {
  const discovery = (await getJson(target, '/.well-known/openid-configuration')) as { jwks_uri: string; issuer: string };
  const jwks = (await getJson(target, new URL(discovery.jwks_uri).pathname)) as JSONWebKeySet;
  const { payload } = await jwtVerify(jwt, createLocalJWKSet(jwks), { issuer: discovery.issuer, ...(audience ? { audience } : {}) });
  return { header: decodeProtectedHeader(jwt), payload: payload as JWTPayload & Record<string, unknown> };
}

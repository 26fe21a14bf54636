// Independent client: openid-client v6 (an OpenID-certified relying party nobody on this team
// wrote) signs in through the hub's real pages and redeems every grant the hub offers. Every
// access token is then verified with jose against the published JWKS, as a resource server would.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { startTestHub, type TestHub } from '../support/hub.js';
import { Browser, parseForm } from '../support/browser.js';

const EMAIL = 'katherine@example.com';
const PASSWORD = 'orbital mechanics 1962';
const FULL_NAME = 'Katherine Johnson';

let t: TestHub;
let jwks: ReturnType<typeof createRemoteJWKSet>;
let userId: string;

beforeAll(async () => {
  t = await startTestHub();
  jwks = createRemoteJWKSet(new URL(`${t.url}/jwks`));
  const user = await t.hub.users.create({ email: EMAIL, password: PASSWORD, fullName: FULL_NAME });
  userId = user.id;
});
afterAll(() => t?.stop());

/** Discovers the hub as `clientId`; the hub is plain http on loopback, hence allowInsecureRequests. */
function discover(clientId: string, auth: client.ClientAuth) {
  return client.discovery(new URL(t.url), clientId, undefined, auth, { execute: [client.allowInsecureRequests] });
}

/** Verifies an access token the way a project's API would: RFC 9068 JWT, RS256, its own audience. */
async function verifyAccessToken(token: string, audience: string) {
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    algorithms: ['RS256'], issuer: t.url, audience, typ: 'at+jwt',
  });
  expect(protectedHeader.alg).toBe('RS256');
  expect(protectedHeader.typ?.toLowerCase()).toBe('at+jwt');
  expect(typeof protectedHeader.kid).toBe('string');
  // RFC 9068 section 2.2: these claims are required.
  for (const claim of ['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti']) expect(payload, `claim ${claim}`).toHaveProperty(claim);
  return payload;
}

const scopesOf = (payload: JWTPayload) => String(payload.scope ?? '').split(' ').filter(Boolean).sort();

interface SignIn {
  clientId: string;
  redirectUri: string;
  scope: string;
  /** Third-party projects show a consent page; first-party ones must not. */
  expectConsent: boolean;
}

/**
 * Builds the authorization request with openid-client, then acts as the user in a browser:
 * the real login page, the consent page when expected, and the redirect back to the project.
 */
async function signIn(config: client.Configuration, { clientId, redirectUri, scope, expectConsent }: SignIn) {
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(pkceCodeVerifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
    // OpenID Connect honours offline_access only together with prompt=consent.
    ...(scope.split(' ').includes('offline_access') ? { prompt: 'consent' } : {}),
  });
  expect(authorizationUrl.origin + authorizationUrl.pathname).toBe(config.serverMetadata().authorization_endpoint);
  expect(authorizationUrl.searchParams.get('client_id')).toBe(clientId);

  const browser = new Browser(t.url);
  let page = await browser.follow(await browser.get(authorizationUrl.toString()));
  expect(new URL(page.url).pathname).toMatch(/^\/interaction\/[^/]+$/);
  const login = parseForm(page.body, '/login');
  expect(login.fields.csrf).toBeTruthy();
  page = await browser.follow(await browser.post(login.action, { ...login.fields, email: EMAIL, password: PASSWORD }));

  let consentShown = false;
  if (page.body.includes('/consent"')) {
    consentShown = true;
    const consent = parseForm(page.body, '/consent');
    page = await browser.follow(await browser.post(consent.action, consent.fields));
  }
  expect(consentShown).toBe(expectConsent);

  const callbackUrl = new URL(page.url);
  expect(callbackUrl.origin + callbackUrl.pathname, `ended at ${page.url}: ${page.body.slice(0, 500)}`).toBe(redirectUri);
  return { callbackUrl, pkceCodeVerifier, state, nonce, browser };
}

describe('openid-client: discovery', () => {
  it('discovers the issuer and its endpoints from /.well-known/openid-configuration', async () => {
    const config = await discover('sales', client.ClientSecretBasic(t.secrets.sales));
    const metadata = config.serverMetadata();
    expect(metadata.issuer).toBe(t.url);
    expect(metadata.authorization_endpoint).toBe(`${t.url}/auth`);
    expect(metadata.token_endpoint).toBe(`${t.url}/token`);
    expect(metadata.jwks_uri).toBe(`${t.url}/jwks`);
    expect(metadata.device_authorization_endpoint).toBe(`${t.url}/device/auth`);
    expect(metadata.code_challenge_methods_supported).toContain('S256');
    expect(metadata.id_token_signing_alg_values_supported).toContain('RS256');
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['client_secret_basic', 'none']));
    // RFC 9207: openid-client checks `iss` on the authorization response when this is advertised.
    expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
    expect(config.serverMetadata().supportsPKCE()).toBe(true);
    expect(config.clientMetadata().client_id).toBe('sales');
  });
});

describe('openid-client: authorization code + PKCE', () => {
  it('signs in to a first-party project (client_secret_basic), validates the ID token and refreshes with rotation', async () => {
    const redirectUri = 'http://localhost:3001/auth/callback';
    const config = await discover('sales', client.ClientSecretBasic(t.secrets.sales));
    const { callbackUrl, pkceCodeVerifier, state, nonce } = await signIn(config, {
      clientId: 'sales', redirectUri, scope: 'openid email profile offline_access leads:read leads:write', expectConsent: false,
    });
    expect(callbackUrl.searchParams.get('iss')).toBe(t.url);

    // openid-client checks state, iss, PKCE, and the ID token's iss, aud, exp, iat, nonce and alg.
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
    });
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.expiresIn()).toBeGreaterThan(0);
    expect(tokens.refresh_token).toBeTruthy();

    const claims = tokens.claims()!;
    expect(claims).toMatchObject({
      iss: t.url, aud: 'sales', sub: userId, nonce,
      email: EMAIL, email_verified: false, name: FULL_NAME,
    });
    // openid-client trusts the TLS channel for the ID token's signature; check it anyway.
    const idToken = await jwtVerify(tokens.id_token!, jwks, { algorithms: ['RS256'], issuer: t.url, audience: 'sales' });
    expect(idToken.payload.sub).toBe(userId);
    expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('RS256');

    const access = await verifyAccessToken(tokens.access_token, 'urn:nexus:sales');
    expect(access).toMatchObject({ sub: userId, client_id: 'sales', email: EMAIL, role: 'user' });
    // The API token carries only the API's scopes, never openid/email/profile/offline_access.
    expect(scopesOf(access)).toEqual(['leads:read', 'leads:write']);

    // Refresh: a new access token for the same user and a rotated refresh token.
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    const refreshedAccess = await verifyAccessToken(refreshed.access_token, 'urn:nexus:sales');
    expect(refreshedAccess).toMatchObject({ sub: userId, client_id: 'sales', email: EMAIL, role: 'user' });
    expect(scopesOf(refreshedAccess)).toEqual(['leads:read', 'leads:write']);
    if (refreshed.id_token) expect(refreshed.claims()).toMatchObject({ sub: userId, aud: 'sales', iss: t.url });

    // Replaying the rotated-out refresh token is refused (OAuth 2.1 / RFC 9700 reuse detection).
    const replay = await client.refreshTokenGrant(config, tokens.refresh_token!).then(() => null, (error: unknown) => error);
    expect(replay).toBeInstanceOf(client.ResponseBodyError);
    expect((replay as client.ResponseBodyError).error).toBe('invalid_grant');
    // ...and the replay revokes the whole grant: the newest refresh token stops working too.
    const afterReplay = await client.refreshTokenGrant(config, refreshed.refresh_token!).then(() => null, (error: unknown) => error);
    expect(afterReplay).toBeInstanceOf(client.ResponseBodyError);
    expect((afterReplay as client.ResponseBodyError).error).toBe('invalid_grant');
  });

  it('asks for consent on a third-party project and issues tokens for its API only', async () => {
    const redirectUri = 'http://localhost:3005/auth/callback';
    const config = await discover('agi-safety', client.ClientSecretBasic(t.secrets['agi-safety']));
    const { callbackUrl, pkceCodeVerifier, state, nonce } = await signIn(config, {
      clientId: 'agi-safety', redirectUri, scope: 'openid email research:read', expectConsent: true,
    });
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
    });
    expect(tokens.claims()).toMatchObject({ iss: t.url, aud: 'agi-safety', sub: userId, nonce, email: EMAIL, email_verified: false });
    // No profile scope, so no profile claims; no offline_access, so no refresh token.
    expect(tokens.claims()).not.toHaveProperty('name');
    expect(tokens.refresh_token).toBeUndefined();

    const access = await verifyAccessToken(tokens.access_token, 'urn:nexus:agi-safety');
    expect(access).toMatchObject({ sub: userId, client_id: 'agi-safety', email: EMAIL, role: 'user' });
    expect(scopesOf(access)).toEqual(['research:read']);
  });

  it('signs in with a public client (no secret, auth method none) using PKCE alone', async () => {
    const redirectUri = 'http://localhost:3010/auth/callback';
    const config = await discover('testing', client.None());
    const { callbackUrl, pkceCodeVerifier, state, nonce } = await signIn(config, {
      clientId: 'testing', redirectUri, scope: 'openid email profile audits:read', expectConsent: false,
    });
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
    });
    expect(tokens.claims()).toMatchObject({ iss: t.url, aud: 'testing', sub: userId, nonce, email: EMAIL, name: FULL_NAME });
    const access = await verifyAccessToken(tokens.access_token, 'urn:nexus:testing');
    expect(access).toMatchObject({ sub: userId, client_id: 'testing', email: EMAIL, role: 'user' });
    expect(scopesOf(access)).toEqual(['audits:read']);
  });

  it('refuses a code redeemed with the wrong PKCE verifier', async () => {
    const redirectUri = 'http://localhost:3001/auth/callback';
    const config = await discover('sales', client.ClientSecretBasic(t.secrets.sales));
    const { callbackUrl, state, nonce } = await signIn(config, {
      clientId: 'sales', redirectUri, scope: 'openid email leads:read', expectConsent: false,
    });
    const error = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: state, expectedNonce: nonce,
    }).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(client.ResponseBodyError);
    expect((error as client.ResponseBodyError).error).toBe('invalid_grant');
  });
});

describe('openid-client: client credentials', () => {
  it('issues a machine token for the project API with just the requested scope', async () => {
    const config = await discover('sales', client.ClientSecretBasic(t.secrets.sales));
    const tokens = await client.clientCredentialsGrant(config, { scope: 'leads:read' });
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.refresh_token).toBeUndefined();
    expect(tokens.id_token).toBeUndefined();
    const access = await verifyAccessToken(tokens.access_token, 'urn:nexus:sales');
    expect(access.client_id).toBe('sales');
    expect(scopesOf(access)).toEqual(['leads:read']);
    // No user behind a client credentials token: no user claims.
    expect(access).not.toHaveProperty('email');
    expect(access).not.toHaveProperty('role');
    // RFC 9068 section 2.2: with no resource owner, sub is the client's own identifier.
    expect(access.sub).toBe('sales');
  });

  it('refuses a wrong client secret', async () => {
    const config = await discover('sales', client.ClientSecretBasic('not-the-secret'));
    const error = await client.clientCredentialsGrant(config, { scope: 'leads:read' }).then(() => null, (e: unknown) => e);
    // RFC 6749 section 5.2: a client that authenticated with the Authorization header gets a 401
    // with a WWW-Authenticate challenge naming its scheme, and the body says invalid_client.
    expect(error).toBeInstanceOf(client.WWWAuthenticateChallengeError);
    const challenge = error as client.WWWAuthenticateChallengeError;
    expect(challenge.status).toBe(401);
    expect(challenge.cause.map((c) => c.scheme)).toContain('basic');
    expect(((await challenge.response.json()) as { error: string }).error).toBe('invalid_client');
  });
});

describe('openid-client: device authorization grant (RFC 8628)', () => {
  it('lets a user approve a device in the browser while the client polls', async () => {
    const config = await discover('agi-safety', client.ClientSecretBasic(t.secrets['agi-safety']));
    const device = await client.initiateDeviceAuthorization(config, { scope: 'openid email research:read' });
    expect(device.user_code).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
    expect(device.verification_uri).toBe(`${t.url}/device`);
    expect(device.verification_uri_complete).toBeTruthy();
    expect(device.expires_in).toBeGreaterThan(0);

    const abort = new AbortController();
    const polling = client.pollDeviceAuthorizationGrant(config, device, undefined, { signal: abort.signal });
    polling.catch(() => {}); // awaited below; avoid an unhandled rejection while the browser runs
    try {
      const browser = new Browser(t.url);
      // verification_uri_complete answers with a self-submitting form carrying the user code.
      let page = await browser.follow(await browser.get(device.verification_uri_complete!));
      const submit = parseForm(page.body, '/device');
      expect(submit.fields.user_code).toBe(device.user_code);
      page = await browser.follow(await browser.post(submit.action, submit.fields));

      // The confirmation page shows the code and a form that confirms it.
      expect(page.body).toContain(device.user_code);
      const confirm = parseForm(page.body, '/device');
      expect(confirm.fields).toMatchObject({ user_code: device.user_code, confirm: 'yes' });
      expect(confirm.fields.xsrf).toBeTruthy();
      page = await browser.follow(await browser.post(confirm.action, confirm.fields));

      // Then the usual login page and, for a third-party project, the consent page, unless the
      // user allowed it these scopes before (remembered per user and project: the test above did).
      expect(new URL(page.url).pathname).toMatch(/^\/interaction\/[^/]+$/);
      const login = parseForm(page.body, '/login');
      page = await browser.follow(await browser.post(login.action, { ...login.fields, email: EMAIL, password: PASSWORD }));
      if (page.body.includes('/consent"')) {
        const consent = parseForm(page.body, '/consent');
        page = await browser.follow(await browser.post(consent.action, consent.fields));
      }
      expect(page.response.status).toBe(200);
      expect(page.body).toContain('Device connected');
    } catch (error) {
      abort.abort();
      throw error;
    }

    const tokens = await polling;
    expect(tokens.claims()).toMatchObject({ iss: t.url, aud: 'agi-safety', sub: userId, email: EMAIL });
    await jwtVerify(tokens.id_token!, jwks, { algorithms: ['RS256'], issuer: t.url, audience: 'agi-safety' });
    const access = await verifyAccessToken(tokens.access_token, 'urn:nexus:agi-safety');
    expect(access).toMatchObject({ sub: userId, client_id: 'agi-safety', email: EMAIL, role: 'user' });
    expect(scopesOf(access)).toEqual(['research:read']);
  });
});

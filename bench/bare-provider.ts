// The baseline: oidc-provider configured like the hub but with nothing of the hub around it.
// In-memory adapter (the library's default), one RSA-2048 RS256 key, one static confidential
// client "sales", resource indicators issuing RS256 JWT access tokens for its audience, and a
// minimal login page: HTML form with an HMAC CSRF field, one bcrypt (cost 11, bcryptjs, the
// hub's library and cost) comparison per login, first-party consent granted without a consent
// step (the grant is completed in `loadExistingGrant`, as src/oidc/first-party-grant.ts does).
//
// Started by bench/run.ts as a child process without any loader, like the hub (`node dist/server.js`):
// run.ts transpiles this file to a scratch .mjs (typescript's transpileModule) and runs `node <that>`.
// By hand:  node --import tsx bench/bare-provider.ts
// Env: BARE_PORT, BARE_CLIENT_SECRET, BARE_USER_EMAIL, BARE_USER_PASSWORD.
// A second account, "nobcrypt+<email>", checks the same password without bcrypt, so the report
// can show the cost of the login protocol itself.
import http from 'node:http';
import { createHmac, generateKeyPairSync, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import bcrypt from 'bcryptjs';
import { calculateJwkThumbprint, type JWK } from 'jose';

const BCRYPT_COST = 11;
const AUDIENCE = 'urn:nexus:sales';
const REDIRECT_URI = 'http://localhost:3001/auth/callback';
const RESOURCE_SCOPES = 'leads:read leads:write automation team';

const required = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};
const port = Number(required('BARE_PORT'));
const issuer = `http://localhost:${port}`;
const clientSecret = required('BARE_CLIENT_SECRET');

interface BenchUser { id: string; email: string; passwordHash: string | undefined; password: string }
const email = required('BARE_USER_EMAIL').toLowerCase();
const password = required('BARE_USER_PASSWORD');
const users: BenchUser[] = [
  { id: randomUUID(), email, passwordHash: bcrypt.hashSync(password, BCRYPT_COST), password },
  { id: randomUUID(), email: `nobcrypt+${email}`, passwordHash: undefined, password },
];
const byEmail = new Map(users.map((u) => [u.email, u]));
const byId = new Map(users.map((u) => [u.id, u]));

function passwordMatches(user: BenchUser, presented: string): Promise<boolean> {
  if (user.passwordHash) return bcrypt.compare(presented, user.passwordHash);
  const a = Buffer.from(presented);
  const b = Buffer.from(user.password);
  return Promise.resolve(a.length === b.length && timingSafeEqual(a, b));
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateJwk = privateKey.export({ format: 'jwk' }) as JWK;
const kid = await calculateJwkThumbprint(privateJwk);

const cookie = { httpOnly: true, sameSite: 'lax' as const, secure: false, signed: true };
const configuration: Configuration = {
  clients: [{
    client_id: 'sales',
    client_secret: clientSecret,
    client_name: 'Nexus Sales CRM',
    redirect_uris: [REDIRECT_URI],
    post_logout_redirect_uris: ['http://localhost:3001/'],
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [{ ...privateJwk, kid, alg: 'RS256', use: 'sig' }] } as Configuration['jwks'],
  findAccount: async (_ctx, sub) => {
    const user = byId.get(sub);
    if (!user) return undefined;
    return { accountId: user.id, claims: async () => ({ sub: user.id, email: user.email, email_verified: false }) };
  },
  // The hub adds the user's email and project role to access tokens; same shape here.
  extraTokenClaims: async (_ctx, token) => {
    if (!('accountId' in token) || !token.accountId) return undefined;
    const user = byId.get(token.accountId);
    return user ? { email: user.email, role: 'user' } : undefined;
  },
  cookies: { keys: [randomBytes(32).toString('base64url')], long: cookie, short: cookie },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'picture'] },
  scopes: ['openid', 'offline_access', 'email', 'profile'],
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  responseTypes: ['code'],
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  // First-party client: the grant gets what the consent checks would find missing, so no
  // consent step follows the login (the hub does the same for its first-party projects). The
  // bench sends no claims parameter, so only scopes are checked.
  loadExistingGrant: async (ctx) => {
    const { oidc } = ctx;
    const clientId = oidc.client!.clientId;
    const grantId = oidc.result?.consent?.grantId ?? oidc.session!.grantIdFor(clientId);
    const existing = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
    const grant = existing ?? new oidc.provider.Grant({ accountId: oidc.account!.accountId, clientId });
    const scopes = new Set(grant.getOIDCScopeEncountered().split(' '));
    const missingOIDC = [...oidc.requestParamOIDCScopes].filter((scope) => !scopes.has(scope));
    if (missingOIDC.length) grant.addOIDCScope(missingOIDC.join(' '));
    let changed = missingOIDC.length > 0;
    for (const [indicator, server] of Object.entries(oidc.resourceServers ?? {})) {
      const encountered = new Set(grant.getResourceScopeEncountered(indicator).split(' '));
      const missing = [...oidc.requestParamScopes].filter((scope) => server.scopes.has(scope) && !encountered.has(scope));
      if (missing.length) grant.addResourceScope(indicator, missing.join(' '));
      changed ||= missing.length > 0;
    }
    if (!changed) return existing;
    await grant.save();
    return grant;
  },
  rotateRefreshToken: true,
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    deviceFlow: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx: KoaContextWithOIDC, _client: unknown, oneOf?: readonly string[]) => (oneOf?.length ? oneOf : AUDIENCE),
      useGrantedResource: () => true,
      getResourceServerInfo: async () => ({
        scope: RESOURCE_SCOPES,
        audience: AUDIENCE,
        accessTokenTTL: 15 * 60,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  ttl: {
    AccessToken: 15 * 60,
    ClientCredentials: 15 * 60,
    AuthorizationCode: 60,
    DeviceCode: 10 * 60,
    IdToken: 60 * 60,
    Interaction: 60 * 60,
    RefreshToken: 30 * 24 * 3600,
    Session: 14 * 24 * 3600,
    Grant: 30 * 24 * 3600,
  },
};

const provider = new Provider(issuer, configuration);
// Tell the parent about anything unexpected; the benchmark counts errors on its side.
provider.on('server_error', (_ctx, error) => process.stderr.write(`bare server_error: ${error.message}\n`));

// --- the interaction (login) routes -------------------------------------------------------

const csrfKey = randomBytes(32);
const csrfToken = (uid: string) => createHmac('sha256', csrfKey).update(uid).digest('base64url');

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' })[c] as string);

function loginPage(uid: string, clientName: string, error?: string) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head><body>
<h1>Sign in</h1><p>Sign in to continue to <strong>${escapeHtml(clientName)}</strong></p>
${error ? `<p class="error">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<input type="hidden" name="csrf" value="${csrfToken(uid)}">
<input name="email" type="email" required><input name="password" type="password" required>
<button type="submit">Sign in</button></form></body></html>`;
}

function reply(res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8') {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

function redirect(res: http.ServerResponse, location: string) {
  res.writeHead(303, { location, 'cache-control': 'no-store' });
  res.end();
}

async function readForm(req: http.IncomingMessage) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 16_384) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

async function interaction(req: http.IncomingMessage, res: http.ServerResponse, uid: string, action: string | undefined) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return reply(res, 400, 'interaction does not belong to this browser');
  const finish = async (result: Parameters<Provider['interactionResult']>[2]) =>
    redirect(res, await provider.interactionResult(req, res, result, { mergeWithLastSubmission: false }));

  if (req.method === 'GET' && action === undefined) {
    if (details.prompt.name === 'login') return reply(res, 200, loginPage(uid, 'Nexus Sales CRM'), 'text/html; charset=utf-8');
    return reply(res, 400, `unsupported prompt ${details.prompt.name}`);
  }

  if (req.method === 'POST' && action === 'login') {
    const form = await readForm(req);
    const presentedCsrf = Buffer.from(form.get('csrf') ?? '');
    const expectedCsrf = Buffer.from(csrfToken(uid));
    if (presentedCsrf.length !== expectedCsrf.length || !timingSafeEqual(presentedCsrf, expectedCsrf)) return reply(res, 403, 'form expired');
    if (details.prompt.name !== 'login') return reply(res, 400, 'already signed in');
    const user = byEmail.get((form.get('email') ?? '').trim().toLowerCase());
    const valid = user ? await passwordMatches(user, form.get('password') ?? '') : false;
    if (!user || !valid) return reply(res, 401, loginPage(uid, 'Nexus Sales CRM', 'Incorrect email or password.'), 'text/html; charset=utf-8');
    return finish({ login: { accountId: user.id } });
  }
  return reply(res, 404, 'not found');
}

const providerCallback = provider.callback();
const server = http.createServer((req, res) => {
  const match = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/([a-z]+))?(?:\?|$)/.exec(req.url ?? '');
  if (!match) return void providerCallback(req, res);
  interaction(req, res, match[1], match[2]).catch((error: Error) => {
    process.stderr.write(`bare interaction error: ${error.message}\n`);
    if (!res.headersSent) reply(res, 500, 'error');
    else res.end();
  });
});
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(port, '127.0.0.1');

// Exit with the parent: on SIGTERM, or when the parent's IPC/stdin goes away.
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();

// Every route of the hub and how to exercise it: the parameters it reads with baseline values
// (each is then replaced in turn by every hostile value), the path parameters, the body it
// expects, and the credentials under which it takes different code paths. The suite checks this
// list against the routes the app really has (its Koa routers and the endpoints oidc-provider
// publishes), so a route added later without an entry here fails the suite.
//
// Placeholders resolved per request: $csrf (the CSRF token of the session or interaction),
// $email (a new address), $evt (a new Stripe event id), $now (epoch seconds), $endpoint and
// $delivery (a webhook endpoint of sales and a delivery to it).

export type Auth =
  | 'none'
  | 'admin' // Bearer token of a hub administrator
  | 'bearer' // Bearer token of a first-party project with billing:manage
  | 'session' // a signed-in hub session (cookie) and its CSRF token
  | 'interaction' // a fresh sign-in interaction (cookies, uid, CSRF token)
  | 'client' // HTTP Basic of the sales project
  | 'device-client' // HTTP Basic of agi-safety (device flow)
  | 'project' // Bearer client-credentials token of sales with the event bus scopes
  | 'stripe'; // a valid Stripe-Signature over the body

export type Body = 'form' | 'json' | 'stripe-event';
type Params = Record<string, unknown>;

export interface RouteSpec {
  /** `METHOD path` as the router declares it; ALL for a catch-all. */
  route: string;
  /** How parameters travel in a request with a body; absent: in the query string. */
  body?: Body;
  /** Baseline parameters (one set per code path, e.g. per grant type). */
  params?: Params[];
  /** Baseline values of the path parameters. */
  segments?: Record<string, string>;
  auth: Auth[];
  /**
   * Credentials under which the route refuses before it reads any parameter (no token, no
   * signature, no interaction cookie): only the baseline and the wrong bodies are sent there.
   */
  shallow?: Auth[];
  /** Each request changes lasting state at some cost (a new signing key): baseline and a few bodies only. */
  costly?: true;
}

const CALLBACK = 'http://localhost:3001/auth/callback';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
const AUTHORIZATION: Params = {
  client_id: 'sales', redirect_uri: CALLBACK, response_type: 'code', scope: 'openid email', state: 'state-1', nonce: 'nonce-1',
  code_challenge: CHALLENGE, code_challenge_method: 'S256', prompt: 'login', max_age: '60', resource: 'urn:nexus:sales',
  claims: '{"id_token":{"email":null}}', request: 'e30.e30.', request_uri: 'urn:x', login_hint: 'a@b.example', ui_locales: 'en',
  response_mode: 'query',
};
const EMAIL_SEGMENT = { email: 'ghost@example.com' };
const ADMIN: Auth[] = ['admin'];
const ANONYMOUS: Auth[] = ['none'];
const PROJECT: Auth[] = ['project'];
// A user's token (the admin's) is refused by the bus routes before they read anything, like none.
const NOT_A_PROJECT: Auth[] = ['none', 'admin'];
const ENDPOINT = { id: '$endpoint' };
const NO_SUCH_ENDPOINT = { id: '00000000-0000-4000-8000-000000000000' };
const EVENT = { type: 'deal.won', subject: '00000000-0000-4000-8000-000000000001', data: { dealId: 'h1', value: 10 }, id: 'hostile-1', occurredAt: '2026-12-01T10:00:00Z' };

export const ROUTES: RouteSpec[] = [
  // Operations and static files.
  { route: 'GET /', auth: ['none'] },
  { route: 'GET /healthz', auth: ['none'] },
  { route: 'GET /readyz', auth: ['none'] },
  // Loopback without METRICS_TOKEN (the suite's hub): answered; any parameter is ignored.
  { route: 'ALL /metrics', params: [{ name: 'nexus_http_requests_total' }], auth: ['none'] },
  { route: 'GET /assets/nexus.css', auth: ['none'] },
  { route: 'GET /assets/passkeys.js', auth: ['none'] },

  // oidc-provider's endpoints (discovery-listed, then the ones it does not list).
  { route: 'GET /.well-known/openid-configuration', auth: ['none'] },
  { route: 'GET /jwks', auth: ['none'] },
  { route: 'GET /auth', params: [AUTHORIZATION], auth: ['none'], shallow: ['session'] },
  { route: 'POST /auth', body: 'form', params: [AUTHORIZATION], auth: ['none'] },
  { route: 'GET /auth/:uid', segments: { uid: '$uid' }, auth: ['interaction'], shallow: ANONYMOUS },
  { route: 'POST /request', body: 'form', params: [AUTHORIZATION], auth: ['client'] },
  {
    route: 'POST /token', body: 'form', auth: ['none', 'client', 'device-client'],
    params: [
      { grant_type: 'authorization_code', code: 'abc', redirect_uri: CALLBACK, code_verifier: 'v'.repeat(43), client_id: 'sales' },
      { grant_type: 'refresh_token', refresh_token: 'abc', scope: 'openid', resource: 'urn:nexus:sales' },
      { grant_type: 'client_credentials', scope: 'leads:read', resource: 'urn:nexus:sales' },
      { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'abc' },
      {
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: 'nxk_live_x', subject_token_type: 'urn:nexus:params:oauth:token-type:api-key',
        scope: 'leads:read', resource: 'urn:nexus:sales', audience: 'urn:nexus:sales', requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      },
    ],
  },
  { route: 'POST /token/revocation', body: 'form', params: [{ token: 'abc', token_type_hint: 'refresh_token' }], auth: ['none', 'client'] },
  { route: 'POST /token/introspection', body: 'form', params: [{ token: 'abc', token_type_hint: 'refresh_token' }], auth: ['none', 'client'] },
  { route: 'POST /device/auth', body: 'form', params: [{ client_id: 'agi-safety', scope: 'openid research:read' }], auth: ['none', 'device-client'] },
  { route: 'GET /device', params: [{ user_code: 'BCDF-GHJK' }], auth: ['none', 'session'] },
  { route: 'POST /device', body: 'form', params: [{ user_code: 'BCDF-GHJK', xsrf: 'x', confirm: 'yes', abort: 'yes' }], auth: ['none', 'session'] },
  { route: 'GET /device/:uid', segments: { uid: 'abc' }, auth: ['none', 'session'] },
  { route: 'GET /me', auth: ['bearer'], shallow: ANONYMOUS },
  { route: 'POST /me', body: 'form', params: [{ access_token: 'abc' }], auth: ['none', 'bearer'] },
  { route: 'GET /session/end', params: [{ id_token_hint: 'e30.e30.', post_logout_redirect_uri: 'http://localhost:3001/', state: 's', client_id: 'sales', logout_hint: 'x', ui_locales: 'en' }], auth: ['none', 'session'] },
  { route: 'POST /session/end', body: 'form', params: [{ id_token_hint: 'e30.e30.', post_logout_redirect_uri: 'http://localhost:3001/', state: 's', client_id: 'sales' }], auth: ['none', 'session'] },
  { route: 'POST /session/end/confirm', body: 'form', params: [{ xsrf: 'x', logout: 'yes' }], auth: ['none', 'session'] },
  { route: 'GET /session/end/success', params: [{ client_id: 'sales', state: 's' }], auth: ['none', 'session'] },

  // Sign-in interactions.
  { route: 'GET /interaction/:uid', segments: { uid: '$uid' }, auth: ['interaction'], shallow: ANONYMOUS },
  { route: 'POST /interaction/:uid/login', body: 'form', segments: { uid: '$uid' }, params: [{ csrf: '$csrf', email: 'hostile@example.com', password: 'not the password at all' }], auth: ['interaction'], shallow: ANONYMOUS },
  { route: 'GET /interaction/:uid/signup', segments: { uid: '$uid' }, auth: ['interaction'], shallow: ANONYMOUS },
  { route: 'POST /interaction/:uid/signup', body: 'form', segments: { uid: '$uid' }, params: [{ csrf: '$csrf', email: '$email', name: 'Hostile Newcomer', password: 'a long enough password' }], auth: ['interaction'], shallow: ANONYMOUS },
  { route: 'GET /interaction/:uid/signed-up', segments: { uid: '$uid' }, auth: ['interaction'], shallow: ANONYMOUS },
  { route: 'POST /interaction/:uid/consent', body: 'form', segments: { uid: '$uid' }, params: [{ csrf: '$csrf' }], auth: ['interaction'], shallow: ANONYMOUS },
  { route: 'GET /interaction/:uid/abort', segments: { uid: '$uid' }, auth: ['interaction'], shallow: ANONYMOUS },
  // At the login step: there is no address to verify yet (400), whatever the form holds.
  { route: 'POST /interaction/:uid/verification', body: 'form', segments: { uid: '$uid' }, params: [{ csrf: '$csrf' }], auth: ['interaction'], shallow: ANONYMOUS },
  // The second factor after the password (src/mfa/sign-in-routes.ts): a fresh interaction has no
  // verified password, so every post is refused before a code is read.
  { route: 'POST /interaction/:uid/second-factor', body: 'form', segments: { uid: '$uid' }, params: [{ csrf: '$csrf', method: 'totp', code: '123456' }, { csrf: '$csrf', method: 'recovery', code: 'abcde-fghjk' }], auth: ['interaction'], shallow: ANONYMOUS },
  // Passkey sign-in (JSON for /assets/passkeys.js): a credential that is no passkey is refused before any lookup.
  { route: 'POST /interaction/:uid/passkey/options', body: 'json', segments: { uid: '$uid' }, params: [{ csrf: '$csrf' }], auth: ['interaction'], shallow: ANONYMOUS },
  { route: 'POST /interaction/:uid/passkey/login', body: 'json', segments: { uid: '$uid' }, params: [{ csrf: '$csrf', credential: { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: { clientDataJSON: 'e30', authenticatorData: 'AAAA', signature: 'AAAA' } } }], auth: ['interaction'], shallow: ANONYMOUS },
  { route: 'POST /interaction/:uid/passkey/second-factor', body: 'json', segments: { uid: '$uid' }, params: [{ csrf: '$csrf', credential: { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: { clientDataJSON: 'e30', authenticatorData: 'AAAA', signature: 'AAAA' } } }], auth: ['interaction'], shallow: ANONYMOUS },

  // The hub's own pages and billing.
  { route: 'GET /account/login', params: [{ returnTo: '/account' }], auth: ['none'] },
  { route: 'GET /account/callback', params: [{ state: 's', code: 'c', error: 'access_denied', iss: 'x' }], auth: ['none', 'session'] },
  { route: 'GET /account', params: [{ checkout: 'success', saved: 'profile' }], auth: ['none', 'session'] },
  { route: 'POST /account/profile', body: 'form', params: [{ csrf: '$csrf', name: 'Hostile User', avatarUrl: 'https://images.example.com/hostile.png' }], auth: ['session'], shallow: ANONYMOUS },
  { route: 'GET /account/keys', params: [{ revoked: '1' }], auth: ['none', 'session'] },
  { route: 'POST /account/keys', body: 'form', params: [{ csrf: '$csrf', name: 'hostile', env: 'test', expires: '7d' }], auth: ['session'], shallow: ANONYMOUS },
  { route: 'POST /account/keys/:id/revoke', body: 'form', segments: { id: '00000000-0000-4000-8000-000000000000' }, params: [{ csrf: '$csrf' }], auth: ['session'], shallow: ANONYMOUS },
  { route: 'GET /account/security', params: [{ done: 'password' }], auth: ['none', 'session'] },
  // Two-step sign-in (src/account-center/mfa-routes.ts): a wrong code is a 400/401, never a 5xx.
  { route: 'GET /account/mfa', params: [{ done: 'disabled', returnTo: '/interaction/abc' }], auth: ['none', 'session'] },
  { route: 'POST /account/mfa/confirm', body: 'form', params: [{ csrf: '$csrf', code: '123456', returnTo: '/interaction/abc' }], auth: ['session'], shallow: ANONYMOUS },
  { route: 'POST /account/mfa/recovery-codes', body: 'form', params: [{ csrf: '$csrf', code: '123456' }], auth: ['session'], shallow: ANONYMOUS },
  { route: 'POST /account/mfa/disable', body: 'form', params: [{ csrf: '$csrf', code: 'abcde-fghjk' }], auth: ['session'], shallow: ANONYMOUS },
  // A wrong current password: the throttle and the password check run, nothing changes.
  { route: 'POST /account/password', body: 'form', params: [{ csrf: '$csrf', current: 'not the password at all', password: 'a new long passphrase' }], auth: ['session'], shallow: ANONYMOUS },
  { route: 'POST /account/sessions/:uid/revoke', body: 'form', segments: { uid: 'no-such-session' }, params: [{ csrf: '$csrf' }], auth: ['session'], shallow: ANONYMOUS },
  // With a stale token: a valid one would sign out the suite's other browsers (and end the grant of
  // its billing token); test/account-center/sessions.test.ts signs out everywhere else for real.
  { route: 'POST /account/sessions/revoke-others', body: 'form', params: [{ csrf: 'a-stale-token' }], auth: ['session'], shallow: ANONYMOUS },
  { route: 'GET /account/apps', params: [{ removed: '1' }], auth: ['none', 'session'] },
  // A project the session's user never allowed: not found, nothing revoked.
  { route: 'POST /account/apps/:clientId/remove', body: 'form', segments: { clientId: 'shelter' }, params: [{ csrf: '$csrf' }], auth: ['session'], shallow: ANONYMOUS },
  { route: 'GET /account/data', auth: ['none', 'session'] },
  // The user's dashboard (src/dashboard): reads no parameter; a project that cannot be reached is a card saying so.
  { route: 'GET /dashboard', params: [{ project: 'sales', refresh: '1' }], auth: ['none', 'session'] },
  { route: 'GET /account/data/export', auth: ['none', 'session'] },
  { route: 'GET /account/passkeys', params: [{ done: 'added' }], auth: ['none', 'session'] },
  { route: 'POST /account/passkeys/options', body: 'json', params: [{ csrf: '$csrf' }], auth: ['session'], shallow: ANONYMOUS },
  { route: 'POST /account/passkeys', body: 'json', params: [{ csrf: '$csrf', name: 'hostile key', credential: { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: { clientDataJSON: 'e30', attestationObject: 'AAAA' } } }], auth: ['session'], shallow: ANONYMOUS },
  { route: 'POST /account/passkeys/:id/rename', body: 'form', segments: { id: 'no-such-passkey' }, params: [{ csrf: '$csrf', name: 'renamed' }], auth: ['session'], shallow: ANONYMOUS },
  { route: 'POST /account/passkeys/:id/remove', body: 'form', segments: { id: 'no-such-passkey' }, params: [{ csrf: '$csrf' }], auth: ['session'], shallow: ANONYMOUS },
  // The admin console (src/console): the session's user is no hub administrator, so every page is
  // its 403 and every form refused before it reads a field; anonymous pages go to /console/login.
  // test/console covers the administrator's side with hostile values of its own.
  { route: 'GET /console/login', params: [{ returnTo: '/console/users' }], auth: ['none', 'session'] },
  { route: 'GET /console/callback', params: [{ state: 's', code: 'c', error: 'access_denied', iss: 'x' }], auth: ['none', 'session'] },
  { route: 'GET /console', auth: ['none', 'session'] },
  { route: 'GET /console/analytics/:name.csv', segments: { name: 'activity' }, params: [{ from: '2026-11-01', to: '2026-11-30', interval: 'day' }], auth: ['none', 'session'] },
  { route: 'GET /console/users', params: [{ q: 'ghost' }], auth: ['none', 'session'] },
  { route: 'GET /console/users/:email', segments: EMAIL_SEGMENT, params: [{ done: 'disabled' }], auth: ['none', 'session'] },
  ...['disabled', 'enabled', 'reset-mail', 'mfa-reset'].map((action): RouteSpec => (
    { route: `POST /console/users/:email/${action}`, body: 'form', segments: EMAIL_SEGMENT, params: [{ csrf: '$csrf' }], auth: ['session'], shallow: ANONYMOUS })),
  { route: 'POST /console/users/:email/access', body: 'form', segments: EMAIL_SEGMENT, params: [{ csrf: '$csrf', project: 'sales', role: 'user' }], auth: ['session'], shallow: ANONYMOUS },
  { route: 'POST /console/users/:email/revoked', body: 'form', segments: EMAIL_SEGMENT, params: [{ csrf: '$csrf', project: 'sales' }], auth: ['session'], shallow: ANONYMOUS },
  { route: 'POST /console/users/:email/plan', body: 'form', segments: EMAIL_SEGMENT, params: [{ csrf: '$csrf', plan: 'pro' }], auth: ['session'], shallow: ANONYMOUS },
  { route: 'GET /console/projects', params: [{ done: 'enabled' }], auth: ['none', 'session'] },
  { route: 'POST /console/projects/:id/enable', body: 'form', segments: { id: 'shelter' }, params: [{ csrf: '$csrf' }], auth: ['session'], shallow: ANONYMOUS },
  { route: 'POST /console/projects/:id/disable', body: 'form', segments: { id: 'shelter' }, params: [{ csrf: '$csrf' }], auth: ['session'], shallow: ANONYMOUS },
  { route: 'POST /console/projects/:id/rotate-secret', body: 'form', segments: { id: 'shelter' }, params: [{ csrf: '$csrf', grace: '1h' }], auth: ['session'], shallow: ANONYMOUS },
  { route: 'GET /console/keys', params: [{ done: 'rotated' }], auth: ['none', 'session'] },
  { route: 'POST /console/keys/rotate', body: 'form', params: [{ csrf: '$csrf' }], auth: ['session'], shallow: ANONYMOUS },
  { route: 'POST /console/keys/:kid/retire', body: 'form', segments: { kid: 'no-such-key' }, params: [{ csrf: '$csrf' }], auth: ['session'], shallow: ANONYMOUS },
  { route: 'GET /console/api-keys', params: [{ email: 'ghost@example.com', done: 'revoked' }], auth: ['none', 'session'] },
  { route: 'POST /console/api-keys/:id/revoke', body: 'form', segments: NO_SUCH_ENDPOINT, params: [{ csrf: '$csrf' }], auth: ['session'], shallow: ANONYMOUS },
  { route: 'GET /console/webhooks', auth: ['none', 'session'] },
  { route: 'GET /console/webhooks/:id', segments: ENDPOINT, params: [{ failed: '1', done: 'replayed' }], auth: ['none', 'session'] },
  { route: 'POST /console/deliveries/:id/replay', body: 'form', segments: { id: '$delivery' }, params: [{ csrf: '$csrf' }], auth: ['session'], shallow: ANONYMOUS },
  { route: 'GET /console/automations', auth: ['none', 'session'] },
  { route: 'GET /console/audit', params: [{ type: 'user.disabled', project: 'hub', user: 'ghost@example.com', since: '2026-11-01', after: '10' }], auth: ['none', 'session'] },
  // The session's own address with a wrong password: the password check runs, nothing is deleted.
  { route: 'POST /account/delete', body: 'form', params: [{ csrf: '$csrf', confirm: 'hostile@example.com', password: 'not the password at all' }], auth: ['session'], shallow: ANONYMOUS },
  // The mailed links (account-center/email-routes.ts). Tokens of the issued shape that were never
  // issued: the lookup runs and finds nothing. The forgot form's CSRF token is bound to a cookie
  // the suite does not hold (403 past the baseline); test/account-flows/hostile.test.ts holds it.
  { route: 'GET /account/verify', params: [{ token: 'A'.repeat(43) }], auth: ['none', 'session'] },
  { route: 'POST /account/verify', body: 'form', params: [{ csrf: 'x', token: 'A'.repeat(43) }], auth: ['none'] },
  { route: 'POST /account/verification/resend', body: 'form', params: [{ csrf: '$csrf' }], auth: ['session'], shallow: ANONYMOUS },
  { route: 'GET /account/forgot', params: [{ returnTo: '/interaction/abc' }], auth: ['none', 'session'] },
  { route: 'POST /account/forgot', body: 'form', params: [{ csrf: 'x', email: 'ghost@example.com', returnTo: '/interaction/abc' }], auth: ['none'] },
  { route: 'GET /account/reset', params: [{ token: 'A'.repeat(43) }], auth: ['none'] },
  { route: 'POST /account/reset', body: 'form', params: [{ csrf: 'x', token: 'A'.repeat(43), password: 'a long enough password' }], auth: ['none'] },
  // A wrong current password: the limit and the password check run, nothing is mailed.
  { route: 'POST /account/email', body: 'form', params: [{ csrf: '$csrf', email: '$email', password: 'not the password at all' }], auth: ['session'], shallow: ANONYMOUS },
  { route: 'GET /account/email/confirm', params: [{ token: 'A'.repeat(43) }], auth: ['none'] },
  { route: 'POST /account/email/confirm', body: 'form', params: [{ csrf: 'x', token: 'A'.repeat(43) }], auth: ['none'] },
  { route: 'GET /pricing', params: [{ checkout: 'canceled' }], auth: ['none', 'session'] },
  { route: 'POST /api/billing/checkout', body: 'form', params: [{ csrf: '$csrf', plan: 'pro' }], auth: ['bearer', 'session'], shallow: ANONYMOUS },
  { route: 'POST /api/billing/portal', body: 'form', params: [{ csrf: '$csrf' }], auth: ['bearer', 'session'], shallow: ANONYMOUS },
  { route: 'GET /billing/confirm', params: [{ plan: 'business', expires: '$now', sig: 'x' }], auth: ['none', 'session'] },
  { route: 'POST /billing/confirm', body: 'form', params: [{ csrf: '$csrf', plan: 'business', expires: '$now', sig: 'x' }], auth: ['session'], shallow: ANONYMOUS },
  {
    route: 'POST /api/webhooks/stripe', body: 'stripe-event', auth: ['stripe'], shallow: ANONYMOUS,
    params: [
      { id: '$evt', object: 'event', type: 'customer.subscription.updated', created: '$now', data: { object: { id: 'sub_h', object: 'subscription', customer: 'cus_h', status: 'active', items: { data: [{ id: 'si_h', price: { id: 'price_pro_monthly', unit_amount: 4900, recurring: { interval: 'month' } } }] } } } },
      { id: '$evt', object: 'event', type: 'checkout.session.completed', created: '$now', data: { object: { id: 'cs_h', object: 'checkout.session', client_reference_id: 'x', customer: 'cus_h', subscription: 'sub_h', metadata: {} } } },
      { id: '$evt', object: 'event', type: 'invoice.paid', created: '$now', data: { object: { id: 'in_h', object: 'invoice', customer: 'cus_h', lines: { data: [{ period: { end: 1 } }] } } } },
    ],
  },

  // The event bus, as a project (client-credentials token of sales).
  { route: 'POST /api/events', body: 'json', params: [EVENT], auth: PROJECT, shallow: NOT_A_PROJECT },
  { route: 'ALL /api/events', auth: PROJECT, shallow: NOT_A_PROJECT },
  { route: 'GET /api/events', params: [{ type: 'deal.*', since: '24h', after: '0', limit: '10' }], auth: PROJECT, shallow: NOT_A_PROJECT },
  { route: 'GET /api/webhooks/endpoints', auth: PROJECT, shallow: NOT_A_PROJECT },
  { route: 'POST /api/webhooks/endpoints', body: 'json', params: [{ url: 'https://hostile.invalid/new', events: ['deal.won', 'user.*'], description: 'hostile' }], auth: PROJECT, shallow: NOT_A_PROJECT },
  { route: 'GET /api/webhooks/endpoints/:id', segments: ENDPOINT, auth: PROJECT, shallow: NOT_A_PROJECT },
  { route: 'PATCH /api/webhooks/endpoints/:id', body: 'json', segments: ENDPOINT, params: [{ url: 'https://hostile.invalid/hook', events: ['deal.*'], description: 'patched' }], auth: PROJECT, shallow: NOT_A_PROJECT },
  { route: 'DELETE /api/webhooks/endpoints/:id', segments: NO_SUCH_ENDPOINT, auth: PROJECT, shallow: NOT_A_PROJECT },
  { route: 'POST /api/webhooks/endpoints/:id/disable', segments: NO_SUCH_ENDPOINT, auth: PROJECT, shallow: NOT_A_PROJECT },
  { route: 'POST /api/webhooks/endpoints/:id/enable', segments: ENDPOINT, auth: PROJECT, shallow: NOT_A_PROJECT },
  { route: 'POST /api/webhooks/endpoints/:id/rotate-secret', segments: ENDPOINT, auth: PROJECT, shallow: NOT_A_PROJECT },
  { route: 'POST /api/webhooks/endpoints/:id/test', segments: ENDPOINT, auth: PROJECT, shallow: NOT_A_PROJECT },
  { route: 'GET /api/webhooks/endpoints/:id/deliveries', segments: ENDPOINT, params: [{ failed: 'true', limit: '10' }], auth: PROJECT, shallow: NOT_A_PROJECT },
  { route: 'POST /api/webhooks/endpoints/:id/replay-failed', body: 'json', segments: ENDPOINT, params: [{ since: '1h' }], auth: PROJECT, shallow: NOT_A_PROJECT },
  { route: 'GET /api/webhooks/deliveries/:id', segments: { id: '$delivery' }, auth: PROJECT, shallow: NOT_A_PROJECT },
  { route: 'POST /api/webhooks/deliveries/:id/replay', segments: { id: '$delivery' }, auth: PROJECT, shallow: NOT_A_PROJECT },
  { route: 'ALL /api/webhooks', auth: PROJECT, shallow: NOT_A_PROJECT },
  { route: 'ALL /api/webhooks/{*rest}', segments: { rest: 'x/y' }, auth: PROJECT, shallow: NOT_A_PROJECT },

  // The admin API.
  { route: 'ALL /api/admin', auth: ADMIN, shallow: ANONYMOUS },
  { route: 'ALL /api/admin/{*rest}', segments: { rest: 'x/y' }, auth: ADMIN, shallow: ANONYMOUS },
  { route: 'GET /api/admin/clients', auth: ADMIN, shallow: ANONYMOUS },
  {
    route: 'POST /api/admin/clients', body: 'json', auth: ADMIN, shallow: ANONYMOUS,
    params: [{ id: 'hostile-client', name: 'Hostile', redirectUris: ['https://hostile.example/cb'], postLogoutRedirectUris: [], grantTypes: ['authorization_code'], firstParty: false, public: false, audience: 'urn:nexus:hostile', scopes: ['h:read'], access: 'open', defaultRole: 'user', pkce: 'required' }],
  },
  { route: 'POST /api/admin/clients/sync', auth: ADMIN, shallow: ANONYMOUS },
  { route: 'GET /api/admin/clients/:id', segments: { id: 'hostile-client' }, auth: ADMIN, shallow: ANONYMOUS },
  { route: 'PATCH /api/admin/clients/:id', body: 'json', segments: { id: 'hostile-client' }, params: [{ name: 'Renamed', scopes: ['h:write'], redirectUris: ['https://hostile.example/cb2'], public: false, firstParty: false }], auth: ADMIN, shallow: ANONYMOUS },
  { route: 'POST /api/admin/clients/:id/rotate-secret', body: 'json', segments: { id: 'hostile-client' }, params: [{ grace: '1h' }], auth: ADMIN, shallow: ANONYMOUS },
  { route: 'POST /api/admin/clients/:id/disable', segments: { id: 'no-such-client' }, auth: ADMIN, shallow: ANONYMOUS },
  { route: 'POST /api/admin/clients/:id/enable', segments: { id: 'hostile-client' }, auth: ADMIN, shallow: ANONYMOUS },
  { route: 'DELETE /api/admin/clients/:id', segments: { id: 'no-such-client' }, auth: ADMIN, shallow: ANONYMOUS },
  { route: 'GET /api/admin/users', params: [{ search: 'ghost' }], auth: ADMIN, shallow: ANONYMOUS },
  { route: 'POST /api/admin/users', body: 'json', params: [{ email: '$email', password: 'a long enough password', name: 'New', admin: false }], auth: ADMIN, shallow: ANONYMOUS },
  { route: 'GET /api/admin/users/:email', segments: EMAIL_SEGMENT, auth: ADMIN, shallow: ANONYMOUS },
  { route: 'DELETE /api/admin/users/:email', segments: { email: 'nobody@example.com' }, auth: ADMIN, shallow: ANONYMOUS },
  { route: 'POST /api/admin/users/:email/disable', segments: { email: 'nobody@example.com' }, auth: ADMIN, shallow: ANONYMOUS },
  { route: 'POST /api/admin/users/:email/reset-mfa', segments: { email: 'nobody@example.com' }, auth: ADMIN, shallow: ANONYMOUS },
  { route: 'POST /api/admin/users/:email/enable', segments: EMAIL_SEGMENT, auth: ADMIN, shallow: ANONYMOUS },
  { route: 'POST /api/admin/users/:email/password', body: 'json', segments: { email: 'nobody@example.com' }, params: [{ password: 'a long enough password' }], auth: ADMIN, shallow: ANONYMOUS },
  { route: 'GET /api/admin/users/:email/plan', segments: EMAIL_SEGMENT, auth: ADMIN, shallow: ANONYMOUS },
  { route: 'PUT /api/admin/users/:email/plan', body: 'json', segments: EMAIL_SEGMENT, params: [{ plan: 'pro' }], auth: ADMIN, shallow: ANONYMOUS },
  { route: 'GET /api/admin/access', params: [{ email: 'ghost@example.com', project: 'sales' }], auth: ADMIN, shallow: ANONYMOUS },
  { route: 'POST /api/admin/access', body: 'json', params: [{ email: 'ghost@example.com', project: 'resonance', role: 'user' }], auth: ADMIN, shallow: ANONYMOUS },
  { route: 'DELETE /api/admin/access', body: 'json', params: [{ email: 'ghost@example.com', project: 'shelter' }], auth: ADMIN, shallow: ANONYMOUS },
  { route: 'GET /api/admin/keys', auth: ADMIN, shallow: ANONYMOUS },
  { route: 'POST /api/admin/keys/rotate', auth: ADMIN, shallow: ANONYMOUS, costly: true },
  { route: 'POST /api/admin/keys/:kid/retire', segments: { kid: 'no-such-kid' }, auth: ADMIN, shallow: ANONYMOUS },
  { route: 'GET /api/admin/apikeys', params: [{ email: 'ghost@example.com' }], auth: ADMIN, shallow: ANONYMOUS },
  { route: 'POST /api/admin/apikeys', body: 'json', params: [{ email: 'ghost@example.com', name: 'hostile', env: 'test', rateLimit: 10, expires: '1d' }], auth: ADMIN, shallow: ANONYMOUS },
  { route: 'POST /api/admin/apikeys/:id/revoke', segments: { id: '00000000-0000-4000-8000-000000000000' }, auth: ADMIN, shallow: ANONYMOUS },
  { route: 'GET /api/admin/events', params: [{ type: 'deal.*', source: 'sales', subject: 'ghost@example.com', since: '24h', limit: '10' }], auth: ADMIN, shallow: ANONYMOUS },
  { route: 'GET /api/admin/events/:id', segments: { id: '00000000-0000-4000-8000-000000000000' }, auth: ADMIN, shallow: ANONYMOUS },
  { route: 'GET /api/admin/webhooks/endpoints', params: [{ project: 'sales' }], auth: ADMIN, shallow: ANONYMOUS },
  {
    route: 'POST /api/admin/webhooks/endpoints', body: 'json', auth: ADMIN, shallow: ANONYMOUS,
    params: [{ project: 'sales', url: 'https://hostile.invalid/admin', events: ['deal.won'], description: 'hostile' }, { all: true, url: 'https://hostile.invalid/all', events: ['*'] }],
  },
  { route: 'GET /api/admin/webhooks/endpoints/:id', segments: ENDPOINT, auth: ADMIN, shallow: ANONYMOUS },
  { route: 'PATCH /api/admin/webhooks/endpoints/:id', body: 'json', segments: ENDPOINT, params: [{ url: 'https://hostile.invalid/hook', events: ['deal.*'], description: 'patched' }], auth: ADMIN, shallow: ANONYMOUS },
  { route: 'DELETE /api/admin/webhooks/endpoints/:id', segments: NO_SUCH_ENDPOINT, auth: ADMIN, shallow: ANONYMOUS },
  { route: 'POST /api/admin/webhooks/endpoints/:id/disable', segments: NO_SUCH_ENDPOINT, auth: ADMIN, shallow: ANONYMOUS },
  { route: 'POST /api/admin/webhooks/endpoints/:id/enable', segments: ENDPOINT, auth: ADMIN, shallow: ANONYMOUS },
  { route: 'POST /api/admin/webhooks/endpoints/:id/rotate-secret', segments: ENDPOINT, auth: ADMIN, shallow: ANONYMOUS },
  { route: 'POST /api/admin/webhooks/endpoints/:id/test', segments: ENDPOINT, auth: ADMIN, shallow: ANONYMOUS },
  { route: 'GET /api/admin/webhooks/endpoints/:id/deliveries', segments: ENDPOINT, params: [{ failed: 'true', limit: '10' }], auth: ADMIN, shallow: ANONYMOUS },
  { route: 'POST /api/admin/webhooks/endpoints/:id/replay-failed', body: 'json', segments: ENDPOINT, params: [{ since: '1h' }], auth: ADMIN, shallow: ANONYMOUS },
  { route: 'GET /api/admin/webhooks/deliveries/:id', segments: { id: '$delivery' }, auth: ADMIN, shallow: ANONYMOUS },
  { route: 'POST /api/admin/webhooks/deliveries/:id/replay', segments: { id: '$delivery' }, auth: ADMIN, shallow: ANONYMOUS },

  // The analytics API (src/analytics/routes.ts): hub admins; a project's admins with project=P.
  { route: 'GET /api/analytics/overview', params: [{ project: 'sales', format: 'csv' }], auth: ADMIN, shallow: ANONYMOUS },
  { route: 'GET /api/analytics/activity', params: [{ from: '2026-11-01', to: '2026-11-30', interval: 'week', project: 'sales', format: 'json' }], auth: ADMIN, shallow: ANONYMOUS },
  { route: 'GET /api/analytics/cross-project', params: [{ to: '2026-11-30', project: 'sales', format: 'csv' }], auth: ADMIN, shallow: ANONYMOUS },
  { route: 'GET /api/analytics/retention', params: [{ from: '2026-01-01', to: '2026-11-30', project: 'sales' }], auth: ADMIN, shallow: ANONYMOUS },
  { route: 'GET /api/analytics/revenue', params: [{ from: '2026-11-01', to: '2026-11-30', interval: 'month', project: 'sales' }], auth: ADMIN, shallow: ANONYMOUS },
  { route: 'GET /api/analytics/logins', params: [{ from: '2026-11-01', to: '2026-11-30', project: 'sales', format: 'csv' }], auth: ADMIN, shallow: ANONYMOUS },
  { route: 'GET /api/analytics/gateway', params: [{ from: '2026-11-01', to: '2026-11-30', project: 'sales' }], auth: ADMIN, shallow: ANONYMOUS },
  { route: 'GET /api/analytics/webhooks', params: [{ from: '2026-11-01', to: '2026-11-30', project: 'sales' }], auth: ADMIN, shallow: ANONYMOUS },
  { route: 'ALL /api/analytics', auth: ADMIN, shallow: ANONYMOUS },
  { route: 'ALL /api/analytics/{*rest}', segments: { rest: 'x/y' }, auth: ADMIN, shallow: ANONYMOUS },
];

/** Paths oidc-provider answers that discovery does not list (found in its router). */
export const UNLISTED_PROVIDER_PATHS = ['/auth/:uid', '/device', '/device/:uid', '/session/end/confirm', '/session/end/success', '/.well-known/openid-configuration'];

// Shared set-up of the billing tests: a real test hub whose Stripe client talks to the local
// stand-in, users signed in through the hub's real pages, token refreshes and verification.
import { expect } from 'vitest';
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import { startTestHub, type TestHub } from '../support/hub.js';
import { authorize, Browser, parseForm } from '../support/browser.js';
import { postForm } from '../support/oauth.js';
import { ProjectAccess } from '../../src/accounts/access.js';
import { STRIPE_SECRET_KEY, StripeStandIn } from './stripe-stand-in.js';
import { WEBHOOK_SECRET } from './events.js';

export const PASSWORD = 'correct horse battery staple';

export const PROJECTS = {
  sales: { id: 'sales', callback: 'http://localhost:3001/auth/callback', audience: 'urn:nexus:sales' },
  liminal: { id: 'liminal', callback: 'http://localhost:3003/auth/callback', audience: 'urn:nexus:liminal' },
  resonance: { id: 'resonance', callback: 'http://localhost:3004/auth/callback', audience: 'urn:nexus:resonance' },
} as const;
export type ProjectName = keyof typeof PROJECTS;

export const SALES_SCOPE = 'openid email offline_access leads:read leads:write automation team';
export const LIMINAL_SCOPE = 'openid email offline_access liminal:read liminal:write';

export interface BillingHub {
  t: TestHub;
  stripe: StripeStandIn;
  access: ProjectAccess;
  jwks: ReturnType<typeof createRemoteJWKSet>;
  stop(): Promise<void>;
}

/** A test hub with billing on, its Stripe API calls going to a fresh local stand-in. */
export async function startBillingHub(extraEnv: Record<string, string> = {}): Promise<BillingHub> {
  const stripe = await StripeStandIn.start();
  const t = await startTestHub({ STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, STRIPE_API_URL: stripe.url, ...extraEnv });
  return {
    t, stripe, access: new ProjectAccess(t.hub.db.prisma), jwks: createRemoteJWKSet(new URL(`${t.url}/jwks`)),
    async stop() {
      await t.stop();
      await stripe.close();
    },
  };
}

export async function createUser(t: TestHub, email: string, fullName?: string) {
  return t.hub.users.create({ email, password: PASSWORD, fullName, emailVerified: true });
}

export interface SignedIn {
  browser: Browser;
  tokens: Record<string, string>;
}

/**
 * Signs in to a project through the hub's real login (and consent) pages and exchanges the code
 * at /token as the project. Leaves `browser` with a hub session.
 */
export async function signIn(t: TestHub, project: ProjectName, email: string, options: { scope?: string; browser?: Browser } = {}): Promise<SignedIn> {
  const { id, callback } = PROJECTS[project];
  const browser = options.browser ?? new Browser(t.url);
  const scope = options.scope ?? (project === 'sales' ? SALES_SCOPE : project === 'liminal' ? LIMINAL_SCOPE : 'openid email offline_access');
  const result = await authorize(browser, { clientId: id, redirectUri: callback, email, password: PASSWORD, scope });
  expect(result.code, `sign-in of ${email} to ${id} gave no code:\n${result.body.slice(0, 1500)}`).toBeTruthy();
  const tokens = await postForm(t, '/token', id, { grant_type: 'authorization_code', code: result.code!, code_verifier: result.verifier, redirect_uri: callback });
  expect(tokens.status, tokens.text).toBe(200);
  expect(tokens.body.refresh_token).toBeTruthy();
  return { browser, tokens: tokens.body };
}

/**
 * A sales access token for the billing API (with billing:manage), from a sign-in in a browser of
 * its own: a separate grant, so the scopes of the caller's other sales tokens stay as they are.
 */
export async function billingToken(t: TestHub, email: string): Promise<string> {
  return (await signIn(t, 'sales', email, { scope: 'openid offline_access billing:manage' })).tokens.access_token;
}

/** A refresh at /token as the project: the raw answer (status, body). */
export function refresh(t: TestHub, project: ProjectName, refreshToken: string) {
  return postForm(t, '/token', PROJECTS[project].id, { grant_type: 'refresh_token', refresh_token: refreshToken });
}

/**
 * Keeps a user's project session alive over several refreshes (refresh tokens rotate): each
 * `next()` refreshes with the latest refresh token and returns the verified access token claims.
 */
export class Session {
  constructor(private readonly hub: BillingHub | { t: TestHub; jwks: ReturnType<typeof createRemoteJWKSet> }, readonly project: ProjectName, public tokens: Record<string, string>) {}

  async next(): Promise<AccessClaims> {
    const answer = await refresh(this.hub.t, this.project, this.tokens.refresh_token);
    expect(answer.status, `refresh failed: ${answer.text}`).toBe(200);
    this.tokens = answer.body;
    return this.claims();
  }

  async claims(): Promise<AccessClaims> {
    return verifyAccessToken(this.hub, this.project, this.tokens.access_token);
  }

  /** The ID token that came with the latest tokens (already signed by the hub; decoded only). */
  idToken(): JWTPayload {
    return decodeJwt(this.tokens.id_token);
  }
}

export interface AccessClaims extends JWTPayload {
  scope: string;
  plan: string;
  role: string | null;
  email: string;
  entitlements: Record<string, number | boolean | null>;
}

/** Verifies an access token against the hub's JWKS: issuer, audience of the project, typ at+jwt. */
export async function verifyAccessToken(hub: { t: TestHub; jwks: ReturnType<typeof createRemoteJWKSet> }, project: ProjectName, token: string): Promise<AccessClaims> {
  const { payload } = await jwtVerify(token, hub.jwks, { issuer: hub.t.url, audience: PROJECTS[project].audience, typ: 'at+jwt', algorithms: ['RS256'] });
  return payload as AccessClaims;
}

export const scopesOf = (claims: { scope?: unknown }) => String(claims.scope ?? '').split(' ').filter(Boolean).sort();

/** Signs in to the hub's own pages (/account/login, through the hub-internal client). */
export async function signInToAccount(browser: Browser, email: string, returnTo = '/account') {
  let page = await browser.follow(await browser.get(`/account/login?returnTo=${encodeURIComponent(returnTo)}`));
  if (page.body.includes('/login"')) {
    const { action, fields } = parseForm(page.body, '/login');
    page = await browser.follow(await browser.post(action, { ...fields, email, password: PASSWORD }));
  }
  expect(new URL(page.url).pathname, page.body.slice(0, 1500)).toBe(returnTo.split('?')[0]);
  return page;
}

/** GET a hub page in the browser, following redirects inside the hub. */
export async function page(browser: Browser, path: string) {
  return browser.follow(await browser.get(path));
}

/** The plan <section> of the pricing page for one plan id. */
export function planSection(html: string, planId: string): string {
  const match = new RegExp(`<section class="plan[^"]*" aria-labelledby="plan-${planId}-name">([\\s\\S]*?)</section>`).exec(html);
  if (!match) throw new Error(`no section for plan ${planId} in the pricing page`);
  return match[1];
}

/** Visible text of an HTML fragment: tags dropped, whitespace collapsed. */
export function textOf(html: string): string {
  return html.replace(/<[^>]+>/g, ' ').replace(/&amp;/g, '&').replace(/&#39;/g, "'").replace(/&#34;|&quot;/g, '"').replace(/\s+/g, ' ').trim();
}

/** Rows of the events table of a user (or of everyone with userId null) and a type. */
export function eventRows(t: TestHub, filter: { type?: string; userId?: string | null }) {
  return t.hub.db.prisma.event.findMany({ where: { ...(filter.type ? { type: filter.type } : {}), ...(filter.userId !== undefined ? { userId: filter.userId } : {}) }, orderBy: { createdAt: 'asc' } });
}

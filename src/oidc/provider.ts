// oidc-provider configuration. Every choice that differs from the library default says why.
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config.js';
import type { LoadedKeys } from '../keys/store.js';
import type { Users } from '../accounts/users.js';
import type { ProjectAccess } from '../accounts/access.js';
import type { ClientRegistry } from '../clients/registry.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { Logger } from '../logger.js';
import { createAdapterFactory } from './adapter.js';
import { CLAIMS, createExtraTokenClaims, createFindAccount } from './account.js';
import { createResourceIndicators, refuseUnusableResource } from './resources.js';
import { deviceFlowPages, logoutSource, postLogoutSuccessSource, renderError } from './pages.js';
import { createInteractionPolicy, createMfaRequirement, createProjectAccessCheck, createVerifiedEmailCheck } from './project-access.js';
import { createLoadExistingGrant } from './first-party-grant.js';
import { ACR_VALUES } from '../mfa/amr.js';
import { withAuthentication } from '../mfa/token-claims.js';
import { registerTokenExchange } from './token-exchange.js';
import { explainMissingVerifier, pkceOption } from './pkce.js';
import { acceptPreviousSecrets } from './client-secrets.js';
import type { ApiKeys } from '../accounts/api-keys.js';
import type { LimiterStore } from '../security/limiter.js';
import type { PlanEntitlements } from '../billing/entitlements.js';
import type { Consents } from '../accounts/consents.js';
import type { HubSessions } from '../accounts/hub-sessions.js';
import { queueBackchannelLogouts } from './backchannel-logout.js';

export interface ProviderDeps {
  config: Config;
  prisma: PrismaClient;
  users: Users;
  access: ProjectAccess;
  clients: ClientRegistry;
  apiKeys: ApiKeys;
  entitlements: PlanEntitlements;
  limiterStore: LimiterStore;
  consents: Consents;
  sessions: HubSessions;
  log: Logger;
  /** Analytics (src/analytics/recorder.ts): the user was active in the project; in memory, never awaited. */
  recordActivity?: (project: string, userId: string) => void;
}

/** Seconds an interaction or session that no one has signed in to yet is kept. */
export const ANONYMOUS_TTL = 10 * 60;

export function createProvider({ config, prisma, users, access, clients, apiKeys, entitlements, limiterStore, consents, sessions, log, recordActivity }: ProviderDeps, keys: LoadedKeys): Provider {
  const roleIn = createProjectAccessCheck(access, clients);
  const resourceIndicators = createResourceIndicators(clients, entitlements, config.ttl.accessToken);
  const secureCookies = config.issuer.startsWith('https:');
  const cookie = { httpOnly: true, sameSite: 'lax' as const, secure: secureCookies, signed: true };

  const configuration: Configuration = {
    adapter: createAdapterFactory(prisma, clients),
    findAccount: createFindAccount(users, roleIn, entitlements),
    extraTokenClaims: withAuthentication(createExtraTokenClaims(users, access, clients, entitlements)),
    jwks: keys.jwks as Configuration['jwks'],
    cookies: {
      keys: keys.cookieKeys,
      long: cookie,
      short: cookie,
    },
    // acr and amr (how the user signed in, src/mfa/amr.ts) are in every ID token: oidc-provider
    // takes their values from the login result, the openid scope lets them through.
    claims: { ...CLAIMS, openid: [...CLAIMS.openid, 'acr', 'amr'] },
    acrValues: ACR_VALUES,
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    // Code flow returns the ID token next to an audience-bound access token that userinfo
    // cannot accept, so the ID token itself carries the claims its scopes ask for.
    conformIdTokenClaims: false,
    // OAuth 2.1: PKCE (S256) on every authorization code request, unless a confidential client
    // is registered with `pkce: optional` (for libraries without PKCE).
    pkce: pkceOption(clients),
    // Authorization code only: no implicit or hybrid flows (OAuth 2.1).
    responseTypes: ['code'],
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: createInteractionPolicy(roleIn, createVerifiedEmailCheck(users, clients), createMfaRequirement(clients)),
    },
    // First-party projects need no consent step, third-party ones none for what the user allowed
    // before: their grant is completed here (first-party-grant.ts).
    loadExistingGrant: createLoadExistingGrant(clients, roleIn, consents),
    // Refresh tokens rotate on every use; reuse of a rotated one revokes the whole grant. This
    // hook runs after the refresh token's checks and before it is spent: a resource that will be
    // refused is refused here, while the refresh token is still good.
    rotateRefreshToken: async (ctx) => {
      await refuseUnusableResource(ctx, clients);
      return true;
    },
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // A project may introspect only its own tokens (the default lets any confidential client
      // read every token). Access tokens are JWTs: projects verify them offline instead.
      introspection: { enabled: true, allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId },
      revocation: { enabled: true },
      deviceFlow: { enabled: true, charset: 'base-20', mask: '****-****', ...deviceFlowPages },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      // Discovery advertises it; the tokens are queued and sent by the hub (backchannel-logout.ts).
      backchannelLogout: { enabled: true },
      resourceIndicators,
    },
    // Browsers may call the token, revocation and introspection endpoints only from the
    // origins of a client's own redirect URIs.
    clientBasedCORS: (_ctx, origin, client) =>
      (client.redirectUris ?? []).some((uri) => new URL(uri).origin === origin),
    ttl: {
      AccessToken: config.ttl.accessToken,
      ClientCredentials: config.ttl.accessToken,
      AuthorizationCode: 60,
      DeviceCode: 10 * 60,
      IdToken: config.ttl.idToken,
      // Anyone can start an interaction (an unauthenticated GET /auth) or an anonymous session
      // (the device page's form): they live minutes, not the hour or weeks a signed-in user's do.
      Interaction: (_ctx, interaction) => (interaction.session?.accountId ? 60 * 60 : ANONYMOUS_TTL),
      RefreshToken: config.ttl.refreshToken,
      Session: (_ctx, session) => (session.accountId ? config.ttl.session : ANONYMOUS_TTL),
      Grant: config.ttl.refreshToken,
    },
    renderError,
  };

  const provider = new Provider(config.issuer, configuration);
  provider.proxy = config.trustProxy;
  acceptPreviousSecrets(provider, clients);
  explainMissingVerifier(provider);
  provider.maxIpsCount = config.trustProxyHops;
  registerTokenExchange(provider, { apiKeys, access, clients, resources: resourceIndicators, limiterStore });
  queueBackchannelLogouts(provider, sessions, log);
  // The account center's list of signed-in browsers (accounts/hub-sessions.ts): one statement per
  // successful authorization, finished before the answer goes out, so the list is current when
  // the browser gets there. A failure costs the list a detail, never the sign-in.
  provider.on('authorization.success', (ctx) => {
    const { session } = ctx.oidc;
    if (!session?.accountId) return;
    ctx.state.browserRecorded = sessions.record({ uid: session.uid, accountId: session.accountId, loginTs: session.loginTs, userAgent: ctx.get('user-agent'), ip: ctx.ip })
      .catch((error: unknown) => (ctx.state.log ?? log).warn({ err: error }, 'signed-in browser not recorded'));
  });
  provider.use(async (ctx, next) => {
    await next();
    await ctx.state.browserRecorded;
  });
  // GET /metrics: one counter increment per token answer (no await, no statement).
  provider.on('grant.success', (ctx) => ctx.state.metrics?.tokenIssued(ctx.oidc.params?.grant_type));
  // Analytics: a user's access token for a project (issued or refreshed; JWT tokens are 'issued',
  // opaque ones 'saved') makes them active there today. Client credentials are another model.
  const recordToken = (token: { accountId?: string; clientId?: string }) => {
    if (token.accountId && token.clientId) recordActivity?.(token.clientId, token.accountId);
  };
  provider.on('access_token.issued', recordToken);
  provider.on('access_token.saved', recordToken);
  // oidc-provider answers these with a generic error; the cause belongs in our log.
  provider.on('server_error', (ctx, error) => (ctx.state.log ?? log).error({ err: error }, 'oidc-provider server error'));
  provider.on('grant.error', (ctx, error) => {
    if ((error as { status?: number }).status === undefined || (error as { status: number }).status >= 500) (ctx.state.log ?? log).error({ err: error }, 'token endpoint error');
  });
  return provider;
}

export type { Provider, KoaContextWithOIDC };

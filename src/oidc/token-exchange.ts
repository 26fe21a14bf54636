// RFC 8693 token exchange: a project (the authenticated client) trades a user's API key for a
// short-lived RS256 JWT access token for its own API, so scripts use standard OAuth libraries.
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { ApiKeyError, type ApiKeys } from '../accounts/api-keys.js';
import type { ProjectAccess } from '../accounts/access.js';
import type { ClientRegistry } from '../clients/registry.js';
import type { LimiterStore } from '../security/limiter.js';
import { createLimiter } from '../security/limiter.js';
import type { createResourceIndicators } from './resources.js';

import { TOKEN_EXCHANGE_GRANT } from '../clients/definition.js';

/** Our subject_token_type for Nexus API keys. */
export const API_KEY_TOKEN_TYPE = 'urn:nexus:params:oauth:token-type:api-key';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

export interface TokenExchangeDeps {
  apiKeys: ApiKeys;
  access: ProjectAccess;
  clients: ClientRegistry;
  resources: ReturnType<typeof createResourceIndicators>;
  limiterStore: LimiterStore;
}

// oidc-provider answers `error` from the message and `error_description` from the description.
class SlowDown extends errors.CustomOIDCProviderError {
  constructor(description: string) {
    super('slow_down', description);
    this.status = 429;
    this.statusCode = 429;
  }
}

export function registerTokenExchange(provider: Provider, { apiKeys, access, clients, resources, limiterStore }: TokenExchangeDeps) {
  // Each key has its own per-minute limit; the counter is shared, the ceiling checked here.
  const perKey = createLimiter(limiterStore, { name: 'apikey', points: Number.MAX_SAFE_INTEGER, durationSeconds: 60 });

  const handler = async (ctx: KoaContextWithOIDC) => {
    const { client, params } = ctx.oidc;
    if (!client) throw new errors.InvalidClient('client authentication required');
    const p = params as Record<string, string | undefined>;
    if (p.subject_token_type !== API_KEY_TOKEN_TYPE) {
      throw new errors.InvalidRequest(`subject_token_type must be ${API_KEY_TOKEN_TYPE}`);
    }
    if (!p.subject_token) throw new errors.InvalidRequest('missing subject_token');
    if (p.requested_token_type && p.requested_token_type !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
    }

    let owner;
    try {
      owner = await apiKeys.verify(p.subject_token);
    } catch (error) {
      if (error instanceof ApiKeyError) throw new errors.InvalidGrant(error.message);
      throw error;
    }

    if (owner.info.rateLimit) {
      const used = await perKey.consume(owner.info.id);
      if (used.consumedPoints > owner.info.rateLimit) {
        ctx.set('Retry-After', String(Math.ceil(used.msBeforeNext / 1000)));
        throw new SlowDown(`API key rate limit of ${owner.info.rateLimit} per minute exceeded`);
      }
    }

    const project = await clients.findEnabled(client.clientId);
    if (!project) throw new errors.InvalidClient('client not registered');
    const resource = p.resource ?? p.audience ?? project.audience;
    // The key's owner is the account of this token: their plan decides the scopes.
    ctx.oidc.entity('Account', { accountId: owner.user.id, claims: async () => ({ sub: owner.user.id }) });
    const info = await resources.getResourceServerInfo(ctx, resource, client);
    const role = await access.roleFor(owner.user.id, project);
    if (!role) throw new errors.InvalidGrant(`the key's owner has no access to ${project.id}`);

    const allowed = new Set(info.scope?.split(' ') ?? []);
    const requested = p.scope ? p.scope.split(' ') : [...allowed];
    const scope = requested.filter((s) => allowed.has(s)).join(' ') || undefined;

    // No grant exists for a key exchange; the key id stands in for it, naming the token's source.
    const token = new provider.AccessToken({ accountId: owner.user.id, client, scope, gty: 'token-exchange', grantId: `apikey-${owner.info.id}` });
    token.resourceServer = new provider.ResourceServer(resource, info);
    ctx.oidc.entity('AccessToken', token);
    const value = await token.save();

    ctx.body = {
      access_token: value,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: token.expiration,
      ...(scope ? { scope } : {}),
    };
  };

  provider.registerGrantType(TOKEN_EXCHANGE_GRANT, handler, [
    'subject_token', 'subject_token_type', 'requested_token_type', 'scope', 'resource', 'audience',
  ]);
}

// A hub access token that is still backed by a live sign-in: valid signature and claims, its
// project enabled and the token for that project's API, its grant not revoked (sign out
// everywhere, password change, disable) and its user not disabled. Userinfo, billing and the
// admin API all accept a token only through this one check, so they refuse the same tokens.
import type { JWTPayload } from 'jose';
import type Provider from 'oidc-provider';
import type { ClientRegistry, RegisteredClient } from '../clients/registry.js';
import type { User, Users } from '../accounts/users.js';
import type { OwnTokenVerifier } from './own-tokens.js';

export class TokenRefused extends Error {
  constructor(readonly status: 401 | 403, readonly code: string, message: string) {
    super(message);
    this.name = 'TokenRefused';
  }
}

export interface LiveToken {
  payload: JWTPayload;
  project: RegisteredClient;
  user: User;
  /** The scopes of the token itself (its `scope` claim). */
  scopes: string[];
  /** The OpenID scopes the user granted (userinfo answers only their claims). */
  oidcScopes: string[];
}

export interface LiveTokenDeps {
  provider: () => Provider;
  verify: OwnTokenVerifier;
  clients: ClientRegistry;
  users: Users;
}

export type LiveTokenCheck = (token: string, options?: { audience?: string }) => Promise<LiveToken>;

export function liveTokenCheck({ provider, verify, clients, users }: LiveTokenDeps): LiveTokenCheck {
  return async (token, { audience } = {}) => {
    let payload: JWTPayload;
    try {
      // `gid` names the grant; tokens without one (client credentials, API keys) have no user sign-in behind them.
      payload = await verify(token, { audience, requiredClaims: ['sub', 'exp', 'client_id', 'gid'] });
    } catch {
      throw new TokenRefused(401, 'invalid_token', 'invalid token provided');
    }
    const project = await clients.findEnabled(String(payload.client_id));
    const grant = project && project.audience === payload.aud ? await provider().Grant.find(String(payload.gid)) : undefined;
    if (!project || !grant || grant.clientId !== payload.client_id || grant.accountId !== payload.sub) {
      throw new TokenRefused(401, 'invalid_token', 'the grant of this token is no longer valid');
    }
    const user = await users.findById(String(payload.sub));
    if (!user || user.disabledAt) throw new TokenRefused(401, 'invalid_token', 'the account no longer exists');
    return {
      payload, project, user,
      scopes: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
      oidcScopes: (grant.getOIDCScope() ?? '').split(' ').filter(Boolean),
    };
  };
}

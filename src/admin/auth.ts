// Admin API authentication: an RS256 JWT access token from this hub for the hub audience,
// carrying the admin role. The role is checked again against the database on every request,
// so revoking an administrator takes effect at once, not when their token expires.
import type { Middleware } from 'koa';
import { HUB_AUDIENCE } from '../clients/definition.js';
import { bearerToken, type OwnTokenVerifier } from '../oidc/own-tokens.js';
import type { ClientRegistry } from '../clients/registry.js';
import type { ProjectAccess } from '../accounts/access.js';
import type { Users } from '../accounts/users.js';

export interface AdminAuthDeps {
  verify: OwnTokenVerifier;
  clients: ClientRegistry;
  access: ProjectAccess;
  users: Users;
}

function deny(ctx: Parameters<Middleware>[0], status: 401 | 403, error: string, description: string) {
  ctx.status = status;
  ctx.set('WWW-Authenticate', `Bearer realm="nexus-admin", error="${error}", error_description="${description}"`);
  ctx.body = { error, error_description: description };
}

export function requireHubAdmin({ verify, clients, access, users }: AdminAuthDeps): Middleware {
  return async (ctx, next) => {
    const token = bearerToken(ctx.get('authorization'));
    if (!token) return deny(ctx, 401, 'invalid_token', 'a Bearer access token for the hub admin API is required');
    let payload;
    try {
      payload = await verify(token, { audience: HUB_AUDIENCE });
    } catch {
      return deny(ctx, 401, 'invalid_token', 'the access token is invalid, expired or not for the hub admin API');
    }
    const [user, hub] = await Promise.all([users.findById(String(payload.sub)), clients.findByAudience(HUB_AUDIENCE)]);
    const role = user && !user.disabledAt && hub ? await access.roleFor(user.id, hub) : undefined;
    if (payload.role !== 'admin' || role !== 'admin') return deny(ctx, 403, 'insufficient_role', 'the hub admin role is required');
    ctx.state.adminEmail = user!.email;
    return next();
  };
}

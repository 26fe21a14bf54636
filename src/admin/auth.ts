// Admin API authentication: an RS256 JWT access token from this hub for the hub audience,
// carrying the admin role. The token's sign-in must still be alive (its grant is revoked by a
// password change, "sign out everywhere" or disabling the user), and the role is checked again
// against the database on every request, so revoking an administrator takes effect at once,
// not when their token expires.
import type { Middleware } from 'koa';
import { HUB_AUDIENCE } from '../clients/definition.js';
import { bearerToken } from '../oidc/own-tokens.js';
import { TokenRefused, type LiveTokenCheck } from '../oidc/live-token.js';
import type { ProjectAccess } from '../accounts/access.js';

export interface AdminAuthDeps {
  checkLive: LiveTokenCheck;
  access: ProjectAccess;
}

function deny(ctx: Parameters<Middleware>[0], status: 401 | 403, error: string, description: string) {
  ctx.status = status;
  ctx.set('WWW-Authenticate', `Bearer realm="nexus-admin", error="${error}", error_description="${description}"`);
  ctx.body = { error, error_description: description };
}

export function requireHubAdmin({ checkLive, access }: AdminAuthDeps): Middleware {
  return async (ctx, next) => {
    const token = bearerToken(ctx.get('authorization'));
    if (!token) return deny(ctx, 401, 'invalid_token', 'a Bearer access token for the hub admin API is required');
    let live;
    try {
      live = await checkLive(token, { audience: HUB_AUDIENCE });
    } catch (error) {
      if (!(error instanceof TokenRefused)) throw error;
      return deny(ctx, 401, 'invalid_token', 'the access token is invalid, expired, revoked or not for the hub admin API');
    }
    const role = await access.roleFor(live.user.id, live.project);
    if (live.payload.role !== 'admin' || role !== 'admin') return deny(ctx, 403, 'insufficient_role', 'the hub admin role is required');
    ctx.state.adminEmail = live.user.email;
    return next();
  };
}

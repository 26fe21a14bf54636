// Who may read /api/analytics/*: hub administrators everything (requireHubAdmin, as the admin
// API), and a project's administrators (role admin in project P) that project's figures only,
// when they ask with project=P. ctx.state.analyticsProject is then fixed to P.
import type { Middleware } from 'koa';
import { HUB_AUDIENCE } from '../clients/definition.js';
import { bearerToken } from '../oidc/own-tokens.js';
import { TokenRefused } from '../oidc/live-token.js';
import { requireHubAdmin, type AdminAuthDeps } from '../admin/auth.js';

export function analyticsAccess(deps: AdminAuthDeps): Middleware {
  const hubAdmin = requireHubAdmin(deps);
  return async (ctx, next) => {
    let isHubAdmin = false;
    await hubAdmin(ctx, async () => { isHubAdmin = true; });
    if (isHubAdmin) return next();
    const project = ctx.query.project;
    // 401 (no valid token) stands; so does 403 for anyone asking for more than one project.
    if (ctx.status !== 403 || typeof project !== 'string' || project === '') return;
    let live;
    try {
      live = await deps.checkLive(bearerToken(ctx.get('authorization'))!, { audience: HUB_AUDIENCE });
    } catch (error) {
      if (error instanceof TokenRefused) return; // revoked since the check above: the 403 stands
      throw error;
    }
    const grant = await deps.access.grantOf(live.user.id, project);
    if (grant?.role !== 'admin') return;
    ctx.remove('WWW-Authenticate');
    // Undo the refusal requireHubAdmin wrote: the route answers.
    ctx.body = undefined;
    ctx.status = 200;
    ctx.state.adminEmail = live.user.email;
    ctx.state.analyticsProject = project;
    return next();
  };
}

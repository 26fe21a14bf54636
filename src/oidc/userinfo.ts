// The UserInfo endpoint (OpenID Connect Core §5.3) for the hub's own access tokens. They are
// audience-bound RS256 JWTs, which oidc-provider's userinfo refuses; relying parties such as
// mod_auth_openidc still call userinfo with exactly that token. We accept it only while its
// sign-in is alive (live-token.ts) and answer the claims of its OpenID scopes.
import Router from '@koa/router';
import { koaBody } from 'koa-body';
import type { Context } from 'koa';
import { CLAIMS, userClaims } from './account.js';
import { bearerToken } from './own-tokens.js';
import { TokenRefused, type LiveTokenCheck } from './live-token.js';
import type { PlanEntitlements } from '../billing/entitlements.js';

export interface UserinfoDeps {
  checkLive: LiveTokenCheck;
  entitlements: PlanEntitlements;
}

function refuse(ctx: Context, status: 401 | 403, error: string, description: string) {
  ctx.status = status;
  ctx.set('WWW-Authenticate', `Bearer realm="${ctx.origin}", error="${error}", error_description="${description}"`);
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error, error_description: description };
}

export function userinfoRoutes({ checkLive, entitlements }: UserinfoDeps) {
  const router = new Router();
  const handler = async (ctx: Context) => {
    const header = bearerToken(ctx.get('authorization'));
    const body = (ctx.request as { body?: Record<string, unknown> }).body;
    const token = header ?? (typeof body?.access_token === 'string' ? body.access_token : undefined);
    if (!token) {
      ctx.status = 401;
      ctx.set('WWW-Authenticate', `Bearer realm="${ctx.origin}"`);
      ctx.body = { error: 'invalid_request', error_description: 'no access token provided' };
      return;
    }
    let live;
    try {
      live = await checkLive(token);
    } catch (error) {
      if (error instanceof TokenRefused) return refuse(ctx, error.status, error.code, error.message);
      throw error;
    }
    const scopes = live.oidcScopes;
    if (!scopes.includes('openid')) return refuse(ctx, 403, 'insufficient_scope', 'the openid scope was not granted');
    const { user } = live;
    const all = userClaims(user, await entitlements.planOf(user.id));
    const allowed = new Set(scopes.flatMap((scope) => CLAIMS[scope as keyof typeof CLAIMS] ?? []));
    ctx.set('Cache-Control', 'no-store');
    ctx.body = Object.fromEntries(Object.entries(all).filter(([name, value]) => allowed.has(name) && value !== undefined));
  };
  const form = koaBody({ urlencoded: true, json: false, multipart: false, text: false, formLimit: '8kb' });
  router.get('/me', handler);
  router.post('/me', form, handler);
  return router;
}

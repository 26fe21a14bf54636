// oidc-provider's POST-only endpoints answer other methods by falling through its router, and
// GET /device/auth lands on the device page's resume route (/device/:uid), which failed with a
// 500. A wrong method gets 405 with the allowed ones instead.
import type { Middleware } from 'koa';
import { HttpError } from '../http/errors.js';

// OPTIONS stays allowed: browsers send CORS preflights to these.
const POST_ONLY = new Set(['/token', '/token/revocation', '/token/introspection', '/device/auth', '/request']);

export function postOnlyEndpoints(): Middleware {
  return async (ctx, next) => {
    if (POST_ONLY.has(ctx.path) && ctx.method !== 'POST' && ctx.method !== 'OPTIONS') {
      ctx.set('Allow', 'POST, OPTIONS');
      throw new HttpError(405, 'invalid_request', `${ctx.path} accepts only POST.`, 'Method not allowed');
    }
    await next();
  };
}

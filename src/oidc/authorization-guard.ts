// The authorization endpoint is open to anyone, and each request that needs a login stores an
// interaction (every parameter) until it expires. So the request's size is capped before
// oidc-provider sees it, and the interactions one IP may start per minute are limited.
import type { Context, Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { HttpError } from '../http/errors.js';
import { createLimiter, type LimiterStore } from '../security/limiter.js';
import { givePointBack, takePoint } from '../security/take-point.js';

export const AUTHORIZATION_LIMITS = {
  /** Characters of a GET query, or bytes of a POST body. */
  requestLength: 4096,
  /** Characters of `state` and of `nonce` (both come back verbatim to the project). */
  stateOrNonce: 512,
};

function refuseOversized(ctx: Context) {
  const { requestLength, stateOrNonce } = AUTHORIZATION_LIMITS;
  const tooLong = (why: string) => new HttpError(400, 'invalid_request', `The sign-in request is too large: ${why}.`, 'Invalid sign-in request');
  if (ctx.method === 'POST') {
    // The body is parsed by oidc-provider; its declared length is all that is known here, and
    // a body without one (chunked) could be of any size.
    if (ctx.request.length === undefined) throw new HttpError(411, 'invalid_request', 'A sign-in request sent by POST needs a Content-Length.', 'Invalid sign-in request');
    if (ctx.request.length > requestLength) throw tooLong(`at most ${requestLength} bytes`);
    return;
  }
  if (ctx.querystring.length > requestLength) throw tooLong(`at most ${requestLength} characters`);
  for (const name of ['state', 'nonce']) {
    const values = ctx.query[name];
    for (const value of Array.isArray(values) ? values : [values]) {
      if (value !== undefined && value.length > stateOrNonce) throw tooLong(`${name} of at most ${stateOrNonce} characters`);
    }
  }
}

/** True when oidc-provider stored a new interaction for this request (a login or consent page). */
function startedInteraction(ctx: Context) {
  return Boolean((ctx as Partial<KoaContextWithOIDC>).oidc?.entities.Interaction);
}

export function authorizationGuard(store: LimiterStore, interactionsPerIpPerMinute: number): Middleware {
  const limiter = createLimiter(store, { name: 'authorizations_ip', points: interactionsPerIpPerMinute, durationSeconds: 60 });
  return async (ctx, next) => {
    // HEAD too: oidc-provider's router answers it as a GET, interaction and all.
    if (ctx.path !== '/auth' || !['GET', 'HEAD', 'POST'].includes(ctx.method)) return next();
    refuseOversized(ctx);
    // The point is taken before the request runs, so parallel requests cannot overshoot; one
    // that ends without a new interaction (a signed-in user sent straight back, an invalid
    // request) gives it back.
    const wait = await takePoint(limiter, ctx.ip);
    if (wait) {
      ctx.set('Retry-After', String(wait));
      throw new HttpError(429, 'too_many_requests', `Too many sign-in requests from your network. Try again in ${wait} seconds.`, 'Too many requests');
    }
    try {
      await next();
    } finally {
      if (!startedInteraction(ctx)) await givePointBack(limiter, ctx.ip);
    }
  };
}

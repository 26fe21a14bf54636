// Behind https, browsers are told to use nothing else for a year (HSTS), on every response.
import type { Middleware } from 'koa';

const HSTS = 'max-age=31536000; includeSubDomains';

export function transportSecurity(issuer: string): Middleware {
  // Decided once: plain http adds nothing but the call itself (no async frame per request).
  if (!issuer.startsWith('https:')) return (_ctx, next) => next();
  return (ctx, next) => {
    ctx.set('Strict-Transport-Security', HSTS);
    return next();
  };
}

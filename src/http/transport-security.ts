// Behind https, browsers are told to use nothing else for a year (HSTS), on every response.
import type { Middleware } from 'koa';

export function transportSecurity(issuer: string): Middleware {
  const https = issuer.startsWith('https:');
  return async (ctx, next) => {
    if (https) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    await next();
  };
}

// oidc-provider builds every URL it prints (discovery, jwks_uri, endpoints, the device
// verification_uri, redirects) from the request's protocol and Host (or, with TRUST_PROXY,
// X-Forwarded-Proto/Host). A request for any other origin than the issuer's is refused, so those
// URLs can only ever be the issuer's: a forged Host cannot poison a cache or a client's metadata.
import type { Context, Middleware } from 'koa';
import { HttpError } from './errors.js';

// Letters, digits, dots, dashes, an optional port, or a bracketed IPv6 address: nothing that
// could smuggle a userinfo, path or fragment into a URL.
const HOST_SYNTAX = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

function requestOrigin(ctx: Context): string | undefined {
  if (!HOST_SYNTAX.test(ctx.host)) return undefined;
  try {
    return new URL(`${ctx.protocol}://${ctx.host}`).origin;
  } catch {
    return undefined;
  }
}

/** Answers 400 to a request addressed to another origin than `issuer`. Mount after the health routes. */
export function issuerHostOnly(issuer: string): Middleware {
  const url = new URL(issuer);
  const expected = url.origin;
  // The issuer's own protocol and host, as a request for it names them (an origin serialises
  // its host normalised, so an exact match is that origin without parsing a URL per request).
  const expectedProtocol = url.protocol.slice(0, -1);
  const expectedHost = HOST_SYNTAX.test(url.host) ? url.host : undefined;
  return (ctx, next) => {
    if ((ctx.host !== expectedHost || ctx.protocol !== expectedProtocol) && requestOrigin(ctx) !== expected) {
      throw new HttpError(400, 'invalid_host', `This server answers only at ${expected}.`, 'Wrong address');
    }
    return next();
  };
}

// oidc-provider's token and document endpoints are handed to it right after the front middleware
// and the issuer-host check. The hub mounts two dozen routers (account center, console, billing,
// admin and analytics APIs...) ahead of the provider, and each matched every /token request
// against its routes before passing it on: ~80 µs of the main thread per token, a third of the
// hub's cost above a bare oidc-provider. No router of the hub answers these paths (its /me does,
// so /me is not among them); every other path still reaches the provider after the routers.
import type { Middleware } from 'koa';

/** oidc-provider's routes (its defaults) that no router of the hub serves. */
export const PROVIDER_ONLY_PATHS: ReadonlySet<string> = new Set([
  '/token', '/token/introspection', '/token/revocation', '/jwks', '/.well-known/openid-configuration', '/device/auth', '/request',
]);

/** `provider`: the provider's middleware with its guards (the same one mounted after the routers). */
export function providerFirst(provider: Middleware): Middleware {
  return (ctx, next) => (PROVIDER_ONLY_PATHS.has(ctx.path) ? provider(ctx, next) : next());
}

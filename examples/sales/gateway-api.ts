// Sales' API behind the Nexus gateway. Requests that come through /api/gateway/sales/* carry no
// bearer token (the gateway never forwards credentials) but a signed X-Nexus-Assertion: it is
// verified with @nexus/auth, and only its claims are believed — never the plain X-Nexus-*
// headers, which anyone reaching this server directly could forge. Direct callers keep using a
// bearer token.
import { gatewayKoa, nexusKoa, GATEWAY_ASSERTION_HEADER, type GatewayIdentity, type Principal } from '@nexus/auth';

type Ctx = Parameters<ReturnType<typeof nexusKoa>>[0];
type Next = () => Promise<unknown>;

/** The caller as a Principal, from the gateway's assertion. */
function fromGateway(identity: GatewayIdentity): Principal {
  return {
    sub: identity.sub, email: identity.email || undefined, scopes: identity.scopes,
    role: (['admin', 'user', 'read_only'] as const).find((r) => r === identity.role), plan: identity.plan || undefined, entitlements: {},
    clientId: String(identity.claims.client_id ?? ''), isUser: identity.sub !== identity.claims.client_id, claims: identity.claims,
  };
}

/** `ctx.state.nexus` from the gateway assertion when there is one, else from the bearer token. */
export function salesApiAuth(issuer: string) {
  const audience = 'urn:nexus:sales';
  const viaToken = nexusKoa({ issuer, audience });
  const viaGateway = gatewayKoa({ issuer, audience });
  return (ctx: Ctx, next: Next) => {
    if (!ctx.get(GATEWAY_ASSERTION_HEADER)) return viaToken(ctx, next);
    return viaGateway(ctx, () => {
      ctx.state.nexus = fromGateway(ctx.state.gateway as GatewayIdentity);
      return next();
    });
  };
}

// Who a verified access token speaks for.

export type Role = 'admin' | 'user' | 'read_only';

export interface Principal {
  /** The user's id (or the client id for client-credentials tokens). */
  sub: string;
  email: string | undefined;
  /** Granted API scopes. */
  scopes: string[];
  /** The user's role in this project; undefined for client-credentials tokens. */
  role: Role | undefined;
  /** The user's plan (free, pro, business, enterprise); undefined when the token has none. */
  plan: string | undefined;
  /** Numeric or boolean entitlements of the plan for this project. */
  entitlements: Record<string, number | boolean | null>;
  /** The client the token was issued to. */
  clientId: string;
  /** How the user signed in (RFC 8176 values: pwd, otp, hwk, swk, mfa); [] when the token does not say. */
  amr?: string[];
  /** The authentication context class: urn:nexus:acr:password or urn:nexus:acr:mfa. */
  acr?: string;
  /** Whether the token acts for a user (false: a client acting for itself). */
  isUser: boolean;
  /** All claims, for anything not mapped above. */
  claims: Record<string, unknown>;
}

const ROLES = new Set(['admin', 'user', 'read_only']);

export function toPrincipal(claims: Record<string, unknown>): Principal {
  const scope = typeof claims.scope === 'string' ? claims.scope : '';
  const clientId = String(claims.client_id ?? '');
  const entitlements = claims.entitlements && typeof claims.entitlements === 'object' ? (claims.entitlements as Principal['entitlements']) : {};
  return {
    sub: String(claims.sub),
    email: typeof claims.email === 'string' ? claims.email : undefined,
    scopes: scope ? scope.split(' ') : [],
    role: typeof claims.role === 'string' && ROLES.has(claims.role) ? (claims.role as Role) : undefined,
    plan: typeof claims.plan === 'string' ? claims.plan : undefined,
    entitlements,
    clientId,
    amr: Array.isArray(claims.amr) ? claims.amr.filter((value): value is string => typeof value === 'string') : [],
    acr: typeof claims.acr === 'string' ? claims.acr : undefined,
    isUser: claims.sub !== clientId,
    claims,
  };
}

// The Nexus gateway's X-Nexus-Assertion: a short-lived RS256 JWT the hub signs for every request
// it forwards (typ nexus-gateway+jwt, aud = this project's API audience, exp ≤ 60 s). A project
// that can also be reached directly checks it to tell gateway traffic from forged X-Nexus-*
// headers: trust those headers only through the verified assertion's claims.
import { jwtVerify, errors as joseErrors } from 'jose';
import { JwksCache, type JwksCacheOptions } from './jwks-cache.js';
import { NexusAuthError } from './errors.js';
import { setting } from './settings.js';

export const GATEWAY_ASSERTION_HEADER = 'x-nexus-assertion';
export const GATEWAY_ASSERTION_TYP = 'nexus-gateway+jwt';

export interface GatewayIdentity {
  /** The user's id (the client id for a project calling with client credentials). */
  sub: string;
  email: string;
  /** The project the gateway forwarded to. */
  project: string;
  role: string;
  plan: string;
  scopes: string[];
  /** `automation`: an automation rule of the hub's event bus, acting for the user. */
  authMethod: 'jwt' | 'api_key' | 'automation';
  /** The API key's id when the caller used one. */
  keyId: string | undefined;
  claims: Record<string, unknown>;
}

export interface GatewayAssertionOptions {
  /** The hub's issuer URL (default NEXUS_ISSUER). */
  issuer?: string;
  /** This project's API audience, e.g. urn:nexus:sales (default NEXUS_AUDIENCE). */
  audience?: string;
  /** Allowed clock difference in seconds. Default 5. */
  clockToleranceSeconds?: number;
  /** JWKS URL; default `${issuer}/jwks`. */
  jwksUri?: string;
  jwks?: Omit<JwksCacheOptions, 'jwksUri'>;
}

export interface GatewayAssertionVerifier {
  verify(assertion: string | undefined | null): Promise<GatewayIdentity>;
  keys: JwksCache;
}

export function createGatewayAssertionVerifier(options: GatewayAssertionOptions = {}): GatewayAssertionVerifier {
  const issuer = setting(options.issuer, 'NEXUS_ISSUER', 'issuer').replace(/\/+$/, '');
  const audience = setting(options.audience, 'NEXUS_AUDIENCE', 'audience');
  const keys = new JwksCache({ ...options.jwks, jwksUri: options.jwksUri ?? `${issuer}/jwks` });
  const verifyOptions = {
    issuer, audience, algorithms: ['RS256'], typ: GATEWAY_ASSERTION_TYP,
    clockTolerance: options.clockToleranceSeconds ?? 5, requiredClaims: ['sub', 'exp', 'iat', 'project'],
  };
  return {
    keys,
    async verify(assertion) {
      if (typeof assertion !== 'string' || assertion.length === 0) throw new NexusAuthError('invalid_token', 'no gateway assertion: the request did not come through the Nexus gateway', 401, true);
      try {
        const { payload } = await jwtVerify(assertion, keys.getKey, verifyOptions);
        const text = (v: unknown) => (typeof v === 'string' ? v : '');
        return {
          sub: text(payload.sub), email: text(payload.email), project: text(payload.project), role: text(payload.role), plan: text(payload.plan),
          scopes: text(payload.scope).split(' ').filter(Boolean), authMethod: payload.auth_method === 'api_key' || payload.auth_method === 'automation' ? payload.auth_method : 'jwt',
          keyId: typeof payload.key_id === 'string' ? payload.key_id : undefined, claims: payload,
        };
      } catch (error) {
        throw new NexusAuthError('invalid_token', error instanceof joseErrors.JWTExpired ? 'the gateway assertion has expired' : 'the gateway assertion is not valid');
      }
    },
  };
}

const verifiers = new Map<string, GatewayAssertionVerifier>();

/**
 * Verifies an X-Nexus-Assertion value (one cached verifier per issuer and audience):
 * `const who = await verifyGatewayAssertion(req.headers['x-nexus-assertion'], { issuer, audience })`.
 */
export function verifyGatewayAssertion(assertion: string | undefined | null, options: GatewayAssertionOptions = {}): Promise<GatewayIdentity> {
  const key = `${options.issuer ?? ''}|${options.audience ?? ''}|${options.jwksUri ?? ''}`;
  let verifier = verifiers.get(key);
  if (!verifier) {
    verifier = createGatewayAssertionVerifier(options);
    verifiers.set(key, verifier);
  }
  return verifier.verify(assertion);
}

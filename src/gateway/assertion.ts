// X-Nexus-Assertion: a short-lived RS256 JWT signed with the hub's current signing key (so
// upstreams verify it with the same JWKS as access tokens), audience = the project's API
// audience, `typ: nexus-gateway+jwt` so that no access-token verifier (they require at+jwt)
// takes it for an access token. A signature costs ~0.26 ms, so one assertion is reused per
// (credential, project) for most of its life: minted for 60 s, re-minted once less than 15 s
// remain. It is only ever handed to a request that passed the live checks.
import { importJWK, SignJWT, type JWK } from 'jose';
import type { LoadedKeys } from '../keys/store.js';
import { SIGNING_ALG } from '../keys/store.js';
import type { RegisteredClient } from '../clients/registry.js';
import type { Caller } from './caller.js';

export const ASSERTION_TYP = 'nexus-gateway+jwt';
export const ASSERTION_TTL_SECONDS = 60;
const REUSE_MARGIN_MS = 15_000;
const MAX_CACHED = 20_000;

type SigningKey = { kid: string; key: Awaited<ReturnType<typeof importJWK>> };

export class AssertionSigner {
  private signing: Promise<SigningKey> | undefined;
  private readonly cache = new Map<string, { jwt: string; expiresAt: number }>();

  constructor(private readonly issuer: string) {}

  /** Called with every key set the hub loads: the first private key signs. */
  useKeys(keys: LoadedKeys) {
    const jwk = keys.jwks.keys[0] as JWK & { kid: string };
    this.signing = importJWK(jwk, SIGNING_ALG).then((key) => ({ kid: jwk.kid, key }));
    this.signing.catch(() => {}); // reported at the first signature
    this.cache.clear(); // a rotation re-signs with the new key at once
  }

  /** The assertion for this caller and project: the reused one at once, else a new signature. */
  assertionFor(caller: Caller, project: RegisteredClient): string | Promise<string> {
    const now = Date.now();
    // The claims are part of the key: a role or plan change seen by the caller check re-signs.
    const cacheKey = `${caller.cacheKey}|${caller.role}|${caller.plan}|${caller.scopes.join(' ')}`;
    const cached = this.cache.get(cacheKey);
    if (cached && cached.expiresAt - now > Math.min(REUSE_MARGIN_MS, (caller.expiresAt - now) / 2)) return cached.jwt;
    return this.sign(caller, project, cacheKey, now);
  }

  private async sign(caller: Caller, project: RegisteredClient, cacheKey: string, now: number): Promise<string> {
    if (!this.signing) throw new Error('no signing key loaded');
    const { kid, key } = await this.signing;
    const iat = Math.floor(now / 1000);
    // Never outlives the credential it stands for.
    const exp = Math.max(iat + 1, Math.min(iat + ASSERTION_TTL_SECONDS, Math.floor(caller.expiresAt / 1000)));
    const jwt = await new SignJWT({
      email: caller.email,
      role: caller.role,
      plan: caller.plan,
      scope: caller.scopes.join(' '),
      project: project.id,
      auth_method: caller.authMethod,
      ...(caller.keyId ? { key_id: caller.keyId } : {}),
      ...(caller.clientId ? { client_id: caller.clientId } : {}),
    })
      .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: ASSERTION_TYP })
      .setIssuer(this.issuer)
      .setAudience(project.audience)
      .setSubject(caller.userId)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(key);
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(cacheKey, { jwt, expiresAt: exp * 1000 });
    return jwt;
  }
}

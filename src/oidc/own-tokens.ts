// The hub's own access tokens, checked offline against its published keys: RS256, `typ: at+jwt`,
// this issuer. Used wherever the hub itself accepts them (admin API, userinfo, billing).
import { jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';

export type OwnTokenVerifier = (token: string, options?: { audience?: string; requiredClaims?: string[] }) => Promise<JWTPayload>;

export function ownTokenVerifier(issuer: string, keys: () => JWTVerifyGetKey): OwnTokenVerifier {
  return async (token, { audience, requiredClaims = ['sub', 'exp'] } = {}) => {
    const { payload } = await jwtVerify(token, keys(), {
      issuer, algorithms: ['RS256'], typ: 'at+jwt', clockTolerance: 5, requiredClaims, ...(audience ? { audience } : {}),
    });
    return payload;
  };
}

/** The token of an `Authorization: Bearer` header (the scheme is case-insensitive, RFC 7235). */
export function bearerToken(header: string | undefined): string | undefined {
  return header ? /^Bearer\s+(\S+)$/i.exec(header)?.[1] : undefined;
}

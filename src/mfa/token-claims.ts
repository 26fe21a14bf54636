// Access tokens say how the user signed in (`amr`, `acr`), as ID tokens do, so a project that
// verifies access tokens offline can ask for a second factor. Read from the authorization code,
// refresh token or device code the token endpoint already loaded: no statement per token.
import type { KoaContextWithOIDC } from 'oidc-provider';

type ExtraClaims<Token> = (ctx: KoaContextWithOIDC, token: Token) => Promise<Record<string, unknown> | undefined>;

interface Authenticated {
  amr?: string[];
  acr?: string;
}

export function withAuthentication<Token>(extra: ExtraClaims<Token>): ExtraClaims<Token> {
  return async (ctx, token) => {
    const claims = await extra(ctx, token);
    if (!claims) return claims;
    const { AuthorizationCode, RefreshToken, DeviceCode } = ctx.oidc.entities as Record<string, Authenticated | undefined>;
    const source = AuthorizationCode ?? RefreshToken ?? DeviceCode;
    return { ...claims, ...(source?.amr ? { amr: source.amr } : {}), ...(source?.acr ? { acr: source.acr } : {}) };
  };
}

// The hub's metadata through OpenID Connect discovery (openid-client), shared by everything in
// the package that talks to the hub as a client: sign-in and the client-credentials token.
import * as oidc from 'openid-client';

export interface HubClient {
  issuer: string;
  clientId: string;
  /** Confidential clients only; without it the client authenticates as a public one. */
  clientSecret?: string;
  /** Allow an http:// issuer (local development and tests only). */
  allowHttpIssuer?: boolean;
}

/**
 * The client's openid-client Configuration, discovered at the first call and kept; a failed
 * discovery is forgotten so that the next call tries again (the hub may just be starting).
 */
export function discoverer(client: HubClient): () => Promise<oidc.Configuration> {
  let configuration: Promise<oidc.Configuration> | undefined;
  return () => {
    configuration ??= oidc.discovery(
      new URL(client.issuer),
      client.clientId,
      client.clientSecret,
      client.clientSecret ? undefined : oidc.None(),
      client.allowHttpIssuer ? { execute: [oidc.allowInsecureRequests] } : undefined,
    ).catch((error: unknown) => {
      configuration = undefined;
      throw error;
    });
    return configuration;
  };
}

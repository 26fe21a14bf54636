// The project's own access token (the client credentials grant, at the token endpoint found by
// discovery), kept until shortly before it expires. Calls made while a token is being requested
// wait for that one request instead of starting their own.
import * as oidc from 'openid-client';
import { discoverer, type HubClient } from './discovery.js';
import { NexusHubError } from './errors.js';

/** Renew this long before `expires_in` runs out, so a token never expires on its way to the hub. */
const RENEW_BEFORE_MS = 30_000;

export class ClientCredentials {
  private readonly config: () => Promise<oidc.Configuration>;
  private cached: { accessToken: string; renewAt: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(client: HubClient & { clientSecret: string }, private readonly scope: string) {
    this.config = discoverer(client);
  }

  /** A valid access token: the cached one, or the answer of one token request shared by all callers. */
  accessToken(): Promise<string> {
    if (this.cached && Date.now() < this.cached.renewAt) return Promise.resolve(this.cached.accessToken);
    this.pending ??= this.request().finally(() => { this.pending = undefined; });
    return this.pending;
  }

  /**
   * Forgets `accessToken` after the hub refused it (revoked, or the hub's keys changed). A token
   * that already replaced it is kept, so parallel refusals cause one new request, not one each.
   */
  discard(accessToken: string): void {
    if (this.cached?.accessToken === accessToken) this.cached = undefined;
  }

  private async request(): Promise<string> {
    try {
      const tokens = await oidc.clientCredentialsGrant(await this.config(), { scope: this.scope });
      const lifetimeMs = (tokens.expiresIn() ?? 0) * 1000;
      // A short-lived token is renewed at half its life rather than never cached.
      this.cached = { accessToken: tokens.access_token, renewAt: Date.now() + lifetimeMs - Math.min(RENEW_BEFORE_MS, lifetimeMs / 2) };
      return tokens.access_token;
    } catch (error) {
      throw hubError(error);
    }
  }
}

/** openid-client's errors as the package's: the hub's OAuth error code, or why there was no answer. */
function hubError(error: unknown): NexusHubError {
  if (error instanceof oidc.ResponseBodyError) {
    return new NexusHubError(error.error, error.error_description ?? error.error, error.status, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  // fetch rejects with a TypeError when there is no HTTP answer at all (refused, DNS, reset).
  const code = error instanceof TypeError ? 'hub_unreachable' : 'unexpected_response';
  return new NexusHubError(code, `the token request failed: ${message}`, undefined, { cause: error });
}

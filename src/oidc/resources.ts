// Resource indicators: every project's API is a resource server identified by its audience.
// Access tokens are RS256 JWTs (RFC 9068) for that audience; a client that names no resource
// gets its own project's audience, and it may not ask for another project's.
import { errors, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';
import type { ClientRegistry } from '../clients/registry.js';
import type { PlanEntitlements } from '../billing/entitlements.js';
import { entitlementsIn } from './user-lookups.js';
import { SIGNING_ALG } from '../keys/store.js';
import { apiScopesOf } from '../billing/scopes.js';
import { BUS_SCOPES, GATEWAY_AUDIENCE, TOKEN_EXCHANGE_GRANT } from '../clients/definition.js';

type Client = NonNullable<KoaContextWithOIDC['oidc']['client']>;

/**
 * The user a token is being issued for: the account of a code or refresh token at the token
 * endpoint, the session's account at the authorization endpoint; none for client credentials.
 */
function accountIdOf(ctx: KoaContextWithOIDC): string | undefined {
  return ctx.oidc.account?.accountId ?? ctx.oidc.session?.accountId;
}

/**
 * The API a client may get tokens for: its own project's audience, and nothing else — except
 * the gateway's audience, which first-party projects may ask for (the gateway then checks
 * access, role and plan in each target project, see src/gateway/caller.ts).
 */
async function ownProjectFor(clients: ClientRegistry, client: Client, resource: string) {
  const project = await clients.findEnabled(client.clientId);
  if (project?.firstParty && resource === GATEWAY_AUDIENCE) return project;
  if (!project || project.audience !== resource) {
    throw new errors.InvalidTarget(`client "${client.clientId}" may only request tokens for its own API (${project?.audience ?? 'none'})`);
  }
  return project;
}

/**
 * Refuses a refresh whose `resource` would be refused. oidc-provider resolves the resource only
 * after it has rotated (spent) the refresh token, so a refused request would leave the client
 * with a spent token and its next, normal refresh would be taken for reuse and revoke the grant.
 * Runs before the rotation (from `rotateRefreshToken`) with the same rules applied later.
 */
export async function refuseUnusableResource(ctx: KoaContextWithOIDC, clients: ClientRegistry) {
  const requested = ctx.oidc.params?.resource as string | string[] | undefined;
  if (requested === undefined) return;
  const [resource, ...others] = Array.isArray(requested) ? requested : [requested];
  if (others.length) throw new errors.InvalidTarget('only a single resource indicator value must be requested/resolved during Access Token Request');
  await ownProjectFor(clients, ctx.oidc.client!, resource);
  if (!ctx.oidc.entities.RefreshToken?.resourceIndicators.has(resource)) throw new errors.InvalidTarget('resource indicator not granted');
}

export function createResourceIndicators(clients: ClientRegistry, entitlements: PlanEntitlements, accessTokenTtl: number) {
  return {
    enabled: true,
    defaultResource: async (_ctx: KoaContextWithOIDC, client: Client, oneOf?: readonly string[]) => {
      if (oneOf?.length) return oneOf;
      return (await clients.findEnabled(client.clientId))?.audience;
    },
    useGrantedResource: () => true,
    // A user's tokens carry only the scopes their plan allows in the project (for projects
    // governed by plans); a client acting for itself gets all of its API's scopes.
    getResourceServerInfo: async (ctx: KoaContextWithOIDC, resource: string, client: Client): Promise<ResourceServer> => {
      const project = await ownProjectFor(clients, client, resource);
      if (resource === GATEWAY_AUDIENCE) {
        // Any project's API scopes (never billing:manage); the gateway narrows them to what the
        // user's plan allows in the project each call goes to.
        const scopes = new Set((await clients.enabledClients()).flatMap((c) => apiScopesOf(c, { billing: false })));
        return { scope: [...scopes].join(' '), audience: GATEWAY_AUDIENCE, accessTokenTTL: accessTokenTtl, accessTokenFormat: 'jwt', jwt: { sign: { alg: SIGNING_ALG } } };
      }
      const accountId = accountIdOf(ctx);
      const allowed = accountId
        ? (await entitlementsIn(ctx, entitlements, project.id, accountId)).scopes
        : undefined;
      // billing:manage goes only with a user's own sign-in, not with client credentials or API keys.
      const signedIn = accountId !== undefined && ctx.oidc.params?.grant_type !== TOKEN_EXCHANGE_GRANT;
      // A confidential project acting for itself (client credentials) may also use the event bus.
      const bus = accountId === undefined && !project.public ? BUS_SCOPES : [];
      return {
        scope: [...apiScopesOf(project, { planAllowed: allowed, billing: signedIn }), ...bus].join(' '),
        audience: project.audience,
        accessTokenTTL: accessTokenTtl,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: SIGNING_ALG } },
      };
    },
  };
}

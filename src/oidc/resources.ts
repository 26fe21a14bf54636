// Resource indicators: every project's API is a resource server identified by its audience.
// Access tokens are RS256 JWTs (RFC 9068) for that audience; a client that names no resource
// gets its own project's audience, and it may not ask for another project's.
import { errors, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';
import type { ClientRegistry } from '../clients/registry.js';
import { SIGNING_ALG } from '../keys/store.js';

type Client = NonNullable<KoaContextWithOIDC['oidc']['client']>;

export function createResourceIndicators(clients: ClientRegistry, accessTokenTtl: number) {
  return {
    enabled: true,
    defaultResource: async (_ctx: KoaContextWithOIDC, client: Client, oneOf?: readonly string[]) => {
      if (oneOf?.length) return oneOf;
      return (await clients.findEnabled(client.clientId))?.audience;
    },
    useGrantedResource: () => true,
    getResourceServerInfo: async (_ctx: KoaContextWithOIDC, resource: string, client: Client): Promise<ResourceServer> => {
      const project = await clients.findEnabled(client.clientId);
      if (!project || project.audience !== resource) {
        throw new errors.InvalidTarget(`client "${client.clientId}" may only request tokens for its own API (${project?.audience ?? 'none'})`);
      }
      return {
        scope: project.scopes.join(' '),
        audience: project.audience,
        accessTokenTTL: accessTokenTtl,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: SIGNING_ALG } },
      };
    },
  };
}

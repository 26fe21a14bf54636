// Client authentication during a secret's grace period (`nexus clients rotate-secret --grace`):
// oidc-provider's client metadata holds one secret, the current one; the replaced one is kept by
// the registry. compareClientSecret is the prototype hook oidc-provider exposes for custom
// secret checks; it serves client_secret_basic and client_secret_post, the only ways our
// confidential clients authenticate.
import type Provider from 'oidc-provider';
import type { ClientRegistry } from '../clients/registry.js';

export function acceptPreviousSecrets(provider: Provider, clients: ClientRegistry) {
  const { prototype } = provider.Client;
  const compareCurrent = prototype.compareClientSecret;
  prototype.compareClientSecret = async function compareClientSecret(this: InstanceType<Provider['Client']>, actual: string) {
    // Both comparisons always run, each in constant time: the answer's timing does not tell
    // which secret (if any) matched.
    const [current, previous] = await Promise.all([compareCurrent.call(this, actual), clients.matchesPreviousSecret(this.clientId, actual)]);
    return current || previous;
  };
}

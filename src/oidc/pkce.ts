// PKCE per client: required unless a confidential client is registered with `pkce: optional`,
// and PKCE errors that tell the client's developer how to fix the client.
import { errors, type Configuration } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { ClientRegistry } from '../clients/registry.js';
import { PKCE_VERIFIER_HELP, pkceRequiredHelp } from '../http/error-messages.js';

/** The cause oidc-provider gives a token request that lacks the code_verifier of a PKCE code. */
const MISSING_VERIFIER = 'code_verifier must be provided';

export function pkceOption(clients: ClientRegistry): NonNullable<Configuration['pkce']> {
  return {
    // oidc-provider calls this only for a code request without code_challenge. Its own error
    // ("policy requires PKCE") does not say what to change, so ours replaces it: the same
    // invalid_request, redirected to the client or shown on the error page.
    required(_ctx, client) {
      if (!clients.requiresPkce(client.clientId)) return false;
      throw new errors.InvalidRequest(pkceRequiredHelp(client.clientId, client.clientAuthMethod === 'none'));
    },
  };
}

/**
 * oidc-provider answers a token request without the code_verifier of a code requested with a
 * challenge with a bare "grant request is invalid": the description that says what to do
 * instead, for such an error (undefined for any other).
 */
export function missingVerifierHelp(error: unknown): string | undefined {
  return (error as { error_detail?: unknown } | undefined)?.error_detail === MISSING_VERIFIER ? PKCE_VERIFIER_HELP : undefined;
}

/** JSON answers: oidc-provider emits grant.error right after setting the body, so it is fixed there. */
export function explainMissingVerifier(provider: Provider) {
  provider.on('grant.error', (ctx, error) => {
    const help = missingVerifierHelp(error);
    const body = ctx.body as { error?: unknown; error_description?: unknown } | undefined;
    if (help && body && typeof body === 'object' && body.error === 'invalid_grant') body.error_description = help;
  });
}

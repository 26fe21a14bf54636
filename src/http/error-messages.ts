// Friendly words for the OAuth errors a person can meet in a browser.
const MESSAGES: Record<string, { title: string; message: string }> = {
  invalid_client: { title: 'Unknown application', message: 'The application that sent you here is not registered with Nexus.' },
  invalid_redirect_uri: {
    title: 'Unregistered return address',
    message: 'The application asked Nexus to send you back to an address it has not registered. Nothing was shared with it.',
  },
  invalid_request: { title: 'Invalid sign-in request', message: 'The application sent an incomplete or invalid sign-in request.' },
  invalid_target: { title: 'Invalid sign-in request', message: 'The application asked for access it cannot have.' },
  session_not_found: {
    title: 'This sign-in has expired',
    message: 'Your sign-in took too long or was already completed. Go back to the application and sign in again.',
  },
  server_error: { title: 'Something went wrong', message: 'An unexpected error occurred. Please try again.' },
};

// The PKCE errors are read by the developer of the client (in the error_description of the
// redirect or the token response), so they say how to fix it. RFC 6749 allows no `"` or `\` here.
const PKCE_REQUIRED = 'This application must use PKCE (S256)';
const NEXT_AUTH_HINT = "For next-auth v4 set checks: ['pkce', 'state'] on the provider";

/** The error_description of a code request without code_challenge. */
export function pkceRequiredHelp(clientId: string, isPublic: boolean): string {
  const start = `${PKCE_REQUIRED}: send code_challenge with code_challenge_method=S256 in the authorization request and code_verifier in the token request. ${NEXT_AUTH_HINT}`;
  return isPublic
    ? `${start}. A public client cannot do without PKCE.`
    : `${start}; for a library without PKCE, an operator can register the client with \`nexus clients update ${clientId} --pkce optional\` (weaker).`;
}

/** The error_description of a token request without the code_verifier of a code that has a challenge. */
export const PKCE_VERIFIER_HELP = `${PKCE_REQUIRED}: this code was requested with a code_challenge, so the token request must send its code_verifier. ${NEXT_AUTH_HINT}.`;

/** oidc-provider's description of an RP-initiated logout to an unregistered return address. */
const UNREGISTERED_LOGOUT_URI = 'post_logout_redirect_uri not registered';

/**
 * Title and message of an error page. `description` (oidc-provider's error_description) picks a
 * more precise message where a generic one would hide the cause; `application` is the name of
 * the client involved, when known.
 */
export function describeError(code: string, description?: string, application?: string) {
  if (description?.startsWith(PKCE_REQUIRED)) return { title: 'This application must use PKCE', message: description };
  if (code === 'invalid_request' && description === UNREGISTERED_LOGOUT_URI) {
    return {
      title: 'Unregistered return address',
      message: `The address to return to after signing out is not registered for ${application ?? 'that application'}, so Nexus did not sign you out. Nothing was shared with that address.`,
    };
  }
  return MESSAGES[code] ?? { title: 'Something went wrong', message: description ?? 'The request could not be completed.' };
}

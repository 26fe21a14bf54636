// Errors of the SDK, shaped for HTTP: a status, an OAuth error code (RFC 6750) and a message.

export type AuthErrorCode = 'invalid_token' | 'insufficient_scope' | 'insufficient_role' | 'insufficient_plan' | 'missing_entitlement';

export class NexusAuthError extends Error {
  constructor(
    readonly code: AuthErrorCode,
    message: string,
    readonly status: 401 | 403 = code === 'invalid_token' ? 401 : 403,
    /** The request carried no credentials at all. */
    readonly missing = false,
  ) {
    super(message);
    this.name = 'NexusAuthError';
  }

  /** The WWW-Authenticate header value for this error (RFC 6750 §3). */
  wwwAuthenticate(realm = 'nexus'): string {
    // §3.1: a request without credentials gets the challenge without an error code.
    if (this.missing) return `Bearer realm="${realm}"`;
    const error = this.code === 'invalid_token' ? 'invalid_token' : 'insufficient_scope';
    const quoted = this.message.replaceAll('"', "'");
    return `Bearer realm="${realm}", error="${error}", error_description="${quoted}"`;
  }

  toJSON() {
    return { error: this.code, error_description: this.message };
  }
}

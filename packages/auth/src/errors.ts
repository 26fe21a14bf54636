// Errors of the SDK, shaped for HTTP: a status, an OAuth error code (RFC 6750) and a message.

export type AuthErrorCode = 'invalid_token' | 'insufficient_scope' | 'insufficient_role' | 'insufficient_plan' | 'missing_entitlement' | 'insufficient_authentication';

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

/** Which check of a webhook failed (Standard Webhooks 1.0), so a receiver can log it precisely. */
export type WebhookErrorCode =
  | 'missing_header' | 'repeated_header' | 'invalid_timestamp' | 'timestamp_too_old' | 'timestamp_too_new'
  | 'no_matching_signature' | 'invalid_payload';

/** A webhook delivery that did not verify. Answer it with 400: the hub retries, a forger learns nothing. */
export class WebhookVerificationError extends Error {
  readonly status = 400;

  constructor(readonly code: WebhookErrorCode, message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }

  toJSON() {
    return { error: this.code, error_description: this.message };
  }
}

/**
 * The hub refused a request of this SDK (`code` is its OAuth-style `error`: invalid_client,
 * invalid_event, insufficient_scope…), answered something unusable (`unexpected_response`), or
 * could not be reached (`hub_unreachable`). `status` is the hub's HTTP status when it answered.
 */
export class NexusHubError extends Error {
  constructor(readonly code: string, message: string, readonly status?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NexusHubError';
  }
}

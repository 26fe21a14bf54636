// The gateway's own refusals, answered as JSON `{error, error_description}` with a stable code.
// Upstream failures are described in the gateway's words only: nothing of the upstream's
// internals (addresses, stack traces, library messages) reaches the caller.
export class GatewayError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
    this.name = 'GatewayError';
  }
}

export const unknownProject = () => new GatewayError(404, 'unknown_project', 'no project with that id is behind the gateway');
export const upstreamTimeout = () => new GatewayError(504, 'upstream_timeout', 'the project did not answer in time');
export const upstreamUnavailable = () => new GatewayError(502, 'upstream_unavailable', 'the project cannot be reached');
export const bodyTooLarge = (max: number) => new GatewayError(413, 'payload_too_large', `the request body is larger than ${max} bytes`);
export const invalidRequest = (message: string) => new GatewayError(400, 'invalid_request', message);
export const invalidToken = (message: string) => new GatewayError(401, 'invalid_token', message, { 'www-authenticate': 'Bearer realm="nexus-gateway", error="invalid_token"' });
export const accessDenied = (message: string) => new GatewayError(403, 'access_denied', message);

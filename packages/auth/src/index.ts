// @nexus/auth: what a Nexus project imports. Depends only on jose and openid-client, never on
// the hub's own code, so projects install it without the server.
export { createVerifier, type Verifier, type VerifierOptions } from './verifier.js';
export { verifyJWT, verifyToken, type VerifyTokenOptions } from './verify-token.js';
export { JwksCache, type JwksCacheOptions } from './jwks-cache.js';
export { NexusAuthError, NexusHubError, WebhookVerificationError, type AuthErrorCode, type WebhookErrorCode } from './errors.js';
export { toPrincipal, type Principal, type Role } from './principal.js';
export { requireScope, requireRole, requirePlan, requireEntitlement, requireMfa } from './guards.js';
export { TOKEN_COOKIE, extractToken, readCookie, type ProtectOptions } from './middleware/shared.js';
export { nexusKoa } from './middleware/koa.js';
export { nexusExpress, nexusErrors } from './middleware/express.js';
export { nexusNext, type NextOptions } from './middleware/next.js';
export { SignIn, SignInError, SESSION_COOKIE, serializeCookie, type SignInOptions, type SessionUser, type CookieToSet } from './sign-in.js';
export { routeSignIn, type SignInRoutes, type SignInRequest, type SignInAnswer } from './middleware/sign-in-routes.js';
export { signInKoa } from './middleware/sign-in-koa.js';
export { signInExpress } from './middleware/sign-in-express.js';
export {
  BackchannelLogout, BackchannelLogoutError, BACKCHANNEL_LOGOUT_EVENT, MAX_LOGOUT_BODY_BYTES,
  type BackchannelLogoutOptions, type BackchannelAnswer, type LogoutTokenClaims,
} from './backchannel.js';
export { MemoryLogoutStore, type LogoutStore, type LocalSession } from './logout-store.js';
export { backchannelLogoutKoa, backchannelLogoutExpress, type BackchannelRouteOptions } from './middleware/backchannel.js';
export {
  verifyGatewayAssertion, createGatewayAssertionVerifier, GATEWAY_ASSERTION_HEADER, GATEWAY_ASSERTION_TYP,
  type GatewayIdentity, type GatewayAssertionOptions, type GatewayAssertionVerifier,
} from './gateway-assertion.js';
export { gatewayKoa, gatewayExpress } from './middleware/gateway.js';
export { verifyWebhook, type WebhookHeaders, type VerifyWebhookOptions } from './webhooks.js';
export {
  emit, createEmitter, EVENTS_SCOPE, MAX_BATCH,
  type Emitter, type EmitterOptions, type EventFields, type EventInput, type StoredEvent,
} from './emit.js';

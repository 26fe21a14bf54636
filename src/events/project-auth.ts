// A project calling the bus as itself: `Authorization: Bearer <access token>` from the client
// credentials grant of that project (audience = its own API, `sub` = its client id), carrying the
// route's scope. A user's token is refused even when it is the project's: only the project
// itself may speak for its source.
import type { Context } from 'koa';
import type { ClientRegistry, RegisteredClient } from '../clients/registry.js';
import { bearerToken, type OwnTokenVerifier } from '../oidc/own-tokens.js';
import { HttpError } from '../http/errors.js';
import type { BusScope } from '../clients/definition.js';
import type { JWTPayload } from 'jose';

/**
 * Verified tokens are remembered this long (never past their own expiry, nor past a change of
 * the hub's verification keys: a retired key stops its tokens at once): a project posting events
 * sends the same token with every request, and its RS256 check was the largest part of the hub's
 * CPU per single event. The project's own state (enabled, audience) is still looked up on every
 * request, from the registry's in-memory cache.
 */
const VERIFIED_FOR_MS = 5_000;
const MAX_REMEMBERED = 1_000;

function refuse(ctx: Context, status: 401 | 403, code: string, message: string): never {
  ctx.set('WWW-Authenticate', `Bearer error="${code}", error_description="${message}"`);
  throw new HttpError(status, code, message);
}

/** `keys`: the hub's current verification keys (a new object whenever they change). */
export function projectCaller(verify: OwnTokenVerifier, clients: ClientRegistry, keys: () => object) {
  const verified = new Map<string, { payload: JWTPayload; until: number; keys: object }>();
  const check = async (token: string): Promise<JWTPayload> => {
    const now = Date.now();
    const known = verified.get(token);
    if (known && known.until > now && known.keys === keys()) return known.payload;
    const current = keys();
    const payload = await verify(token, { requiredClaims: ['sub', 'exp', 'client_id'] });
    if (verified.size >= MAX_REMEMBERED) verified.clear();
    verified.set(token, { payload, until: Math.min(now + VERIFIED_FOR_MS, (payload.exp as number) * 1000), keys: current });
    return payload;
  };
  return async (ctx: Context, scope: BusScope): Promise<RegisteredClient> => {
    const token = bearerToken(ctx.get('authorization') || undefined);
    if (!token || token.length > 8192) refuse(ctx, 401, 'invalid_token', 'a client-credentials access token of the project is required');
    let payload;
    try {
      payload = await check(token);
    } catch {
      refuse(ctx, 401, 'invalid_token', 'invalid token provided');
    }
    const clientId = typeof payload.client_id === 'string' ? payload.client_id : '';
    const project = await clients.findEnabled(clientId);
    if (!project || payload.aud !== project.audience) refuse(ctx, 401, 'invalid_token', 'the token is not a token of an enabled project for its own API');
    if (payload.sub !== clientId || payload.gid !== undefined) refuse(ctx, 403, 'insufficient_scope', 'use a client-credentials token of the project, not a user token');
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
    if (!scopes.includes(scope)) refuse(ctx, 403, 'insufficient_scope', `the token lacks the ${scope} scope`);
    return project;
  };
}

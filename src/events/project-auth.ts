// A project calling the bus as itself: `Authorization: Bearer <access token>` from the client
// credentials grant of that project (audience = its own API, `sub` = its client id), carrying the
// route's scope. A user's token is refused even when it is the project's: only the project
// itself may speak for its source.
import type { Context } from 'koa';
import type { ClientRegistry, RegisteredClient } from '../clients/registry.js';
import { bearerToken, type OwnTokenVerifier } from '../oidc/own-tokens.js';
import { HttpError } from '../http/errors.js';
import type { BusScope } from '../clients/definition.js';


function refuse(ctx: Context, status: 401 | 403, code: string, message: string): never {
  ctx.set('WWW-Authenticate', `Bearer error="${code}", error_description="${message}"`);
  throw new HttpError(status, code, message);
}

export function projectCaller(verify: OwnTokenVerifier, clients: ClientRegistry) {
  return async (ctx: Context, scope: BusScope): Promise<RegisteredClient> => {
    const token = bearerToken(ctx.get('authorization') || undefined);
    if (!token || token.length > 8192) refuse(ctx, 401, 'invalid_token', 'a client-credentials access token of the project is required');
    let payload;
    try {
      payload = await verify(token, { requiredClaims: ['sub', 'exp', 'client_id'] });
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

// The bus over HTTP for projects, each acting as itself with a client-credentials token:
//   POST /api/events                         (events:write)   record events of the project's source
//   GET  /api/events                         (events:read)    read back the project's own events
//   /api/webhooks/endpoints[/:id[/…]]        (webhooks:manage) the project's endpoints and deliveries
// Thin: authentication and input shape here, the rules in EventOperations and the libraries.
import Router from '@koa/router';
import { HttpMethodEnum, koaBody } from 'koa-body';
import type { Context, Middleware } from 'koa';
import type { ClientRegistry, RegisteredClient } from '../clients/registry.js';
import type { OwnTokenVerifier } from '../oidc/own-tokens.js';
import { HttpError } from '../http/errors.js';
import { EventInputError, parseEvents, isEventPattern, type Actor } from './event.js';
import { EndpointError } from './endpoints.js';
import type { EventOperations } from './operations.js';
import { projectCaller } from './project-auth.js';
import type { BusScope } from '../clients/definition.js';

/** A batch of 100 events of up to 64 KB each would be 6.4 MB: requests are capped lower. */
export const MAX_EVENTS_BODY = '2mb';

const eventsBody = koaBody({ json: true, urlencoded: false, multipart: false, text: false, jsonLimit: MAX_EVENTS_BODY, jsonStrict: true, parsedMethods: [HttpMethodEnum.POST] });
const endpointBody = koaBody({ json: true, urlencoded: false, multipart: false, text: false, jsonLimit: '64kb', parsedMethods: [HttpMethodEnum.POST, HttpMethodEnum.PATCH] });

function body(ctx: Context): Record<string, unknown> {
  const value = (ctx.request as { body?: unknown }).body;
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function query(ctx: Context, name: string): string | undefined {
  const value = ctx.query[name];
  if (Array.isArray(value)) throw new HttpError(400, 'invalid_request', `repeat "${name}" at most once`);
  if (value !== undefined && (value.length > 200 || /[\u0000-\u001f]/.test(value))) throw new HttpError(400, 'invalid_request', `"${name}" is not valid`);
  return value || undefined;
}

/** ISO time, or a duration back from now (`24h`, `7d`). */
export function parseSince(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const ago = /^(\d{1,6})([smhd])$/.exec(value);
  const date = ago ? new Date(Date.now() - Number(ago[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[ago[2] as 's']) : new Date(value);
  if (Number.isNaN(date.getTime()) || !/^\d{4}-|^\d+[smhd]$/.test(value)) throw new HttpError(400, 'invalid_request', '"since" must be an ISO time or a duration such as 24h');
  return date;
}

function limitOf(ctx: Context): number | undefined {
  const raw = query(ctx, 'limit');
  if (raw === undefined) return undefined;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new HttpError(400, 'invalid_request', '"limit" must be a whole number from 1 to 1000');
  return limit;
}

/** The libraries' input errors as JSON 400/404s. */
function busErrors(): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      if (error instanceof EventInputError) throw new HttpError(400, 'invalid_event', error.message);
      if (error instanceof EndpointError) throw new HttpError(error.code === 'endpoint_not_found' ? 404 : 400, error.code, error.message);
      throw error;
    }
  };
}

/** `keys`: the hub's current verification keys (verified tokens are remembered until they change). */
export function eventRoutes(deps: { ops: EventOperations; verify: OwnTokenVerifier; clients: ClientRegistry; keys: () => object }) {
  const { ops } = deps;
  const caller = projectCaller(deps.verify, deps.clients, deps.keys);
  const router = new Router();
  const actorOf = (project: RegisteredClient): Actor => ({ type: 'client', id: project.id });
  router.use(['/api/events', '/api/webhooks'], busErrors());

  const jsonOnly: Middleware = (ctx, next) => {
    if (!ctx.is('application/json')) throw new HttpError(415, 'invalid_request', 'send the events as application/json');
    return next();
  };
  // Authenticated before the body is read: an anonymous caller cannot make the hub parse 2 MB.
  const authenticated = (scope: BusScope): Middleware => async (ctx, next) => {
    ctx.state.project = await caller(ctx, scope);
    return next();
  };
  router.post('/api/events', authenticated('events:write'), jsonOnly, eventsBody, async (ctx) => {
    const project = ctx.state.project as RegisteredClient;
    const result = await ops.emit(project.id, actorOf(project), parseEvents((ctx.request as { body?: unknown }).body));
    ctx.status = result.events.some((e) => !e.duplicate) ? 202 : 200;
    ctx.body = { events: result.events };
  });

  router.get('/api/events', authenticated('events:read'), async (ctx) => {
    const project = ctx.state.project as RegisteredClient;
    const type = query(ctx, 'type');
    if (type !== undefined && !isEventPattern(type)) throw new HttpError(400, 'invalid_request', '"type" must be an event type such as deal.won, or deal.*');
    const after = query(ctx, 'after');
    if (after !== undefined && !/^\d{1,15}$/.test(after)) throw new HttpError(400, 'invalid_request', '"after" must be a sequence number');
    ctx.body = { events: await ops.listEvents({ source: project.id, type: type === '*' ? undefined : type, since: parseSince(query(ctx, 'since')), afterSequence: after === undefined ? undefined : Number(after), limit: limitOf(ctx) }) };
  });

  const endpoints = new Router({ prefix: '/api/webhooks' });
  const scoped = (handle: (ctx: Context, scope: { project: string }, project: RegisteredClient) => Promise<void>) => (ctx: Context) => {
    const project = ctx.state.project as RegisteredClient;
    return handle(ctx, { project: project.id }, project);
  };
  endpoints.use(authenticated('webhooks:manage'), endpointBody);
  endpoints.get('/endpoints', scoped(async (ctx, scope) => { ctx.body = { endpoints: await ops.listEndpoints(scope) }; }));
  endpoints.post('/endpoints', scoped(async (ctx, scope) => {
    const input = body(ctx);
    const { endpoint, secret } = await ops.addEndpoint(scope, { project: scope.project, url: input.url, eventTypes: input.events, description: input.description });
    ctx.status = 201;
    ctx.body = { endpoint, secret };
  }));
  endpoints.get('/endpoints/:id', scoped(async (ctx, scope) => { ctx.body = await ops.getEndpoint(ctx.params.id, scope); }));
  endpoints.patch('/endpoints/:id', scoped(async (ctx, scope) => {
    const input = body(ctx);
    ctx.body = await ops.updateEndpoint(ctx.params.id, { url: input.url, eventTypes: input.events, description: input.description }, scope);
  }));
  endpoints.delete('/endpoints/:id', scoped(async (ctx, scope) => {
    await ops.removeEndpoint(ctx.params.id, scope);
    ctx.status = 204;
  }));
  endpoints.post('/endpoints/:id/disable', scoped(async (ctx, scope, project) => { ctx.body = await ops.setEndpointEnabled(ctx.params.id, false, actorOf(project), scope); }));
  endpoints.post('/endpoints/:id/enable', scoped(async (ctx, scope, project) => { ctx.body = await ops.setEndpointEnabled(ctx.params.id, true, actorOf(project), scope); }));
  endpoints.post('/endpoints/:id/rotate-secret', scoped(async (ctx, scope) => { ctx.body = await ops.rotateEndpointSecret(ctx.params.id, scope); }));
  endpoints.post('/endpoints/:id/test', scoped(async (ctx, scope, project) => {
    ctx.status = 202;
    ctx.body = await ops.testEndpoint(ctx.params.id, actorOf(project), scope);
  }));
  endpoints.get('/endpoints/:id/deliveries', scoped(async (ctx, scope) => {
    const failed = query(ctx, 'failed');
    if (failed !== undefined && failed !== 'true' && failed !== 'false') throw new HttpError(400, 'invalid_request', '"failed" must be true or false');
    ctx.body = { deliveries: await ops.listDeliveries(ctx.params.id, { failed: failed === 'true', limit: limitOf(ctx) }, scope) };
  }));
  endpoints.post('/endpoints/:id/replay-failed', scoped(async (ctx, scope) => {
    const since = typeof body(ctx).since === 'string' ? parseSince(body(ctx).since as string) : undefined;
    if (!since) throw new HttpError(400, 'invalid_request', '"since" (an ISO time or a duration such as 24h) is required');
    ctx.status = 202;
    ctx.body = await ops.replayFailed(ctx.params.id, since, scope);
  }));
  endpoints.get('/deliveries/:id', scoped(async (ctx, scope) => { ctx.body = await ops.getDelivery(ctx.params.id, scope); }));
  endpoints.post('/deliveries/:id/replay', scoped(async (ctx, scope) => {
    ctx.status = 202;
    ctx.body = await ops.replayDelivery(ctx.params.id, scope);
  }));
  endpoints.all(['/', '/{*rest}'], () => { throw new HttpError(404, 'not_found', 'no such webhooks endpoint'); });

  // Nested, so that busErrors wraps the endpoints' routes too (a second router composed beside
  // this one ran them outside it: every EndpointError was a 500), and one router (its
  // routes() carries it as `.router`) holds every bus route for listings of the app's routes.
  router.use(endpoints.routes());
  // Wrong methods answered here rather than by router.allowedMethods(), which answers 501 to
  // any method it does not implement (TRACE, PROPFIND) on every path of the app that ends in 404.
  router.all('/api/events', (ctx) => {
    ctx.set('Allow', 'GET, HEAD, POST');
    throw new HttpError(405, 'method_not_allowed', 'use GET or POST');
  });
  return router.routes();
}

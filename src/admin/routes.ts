// /api/admin/*: the CLI's operations as JSON, for the admin console. Thin: parse, call
// AdminOperations, answer. Errors are JSON with a stable `error` code.
import Router from '@koa/router';
import { HttpMethodEnum, koaBody } from 'koa-body';
import type { Context, Middleware } from 'koa';
import { AdminOperations, publicUser } from './operations.js';
import { describeDomainError } from './domain-errors.js';
import { isEventPattern, type Actor } from '../events/event.js';
import { parseSince } from '../events/routes.js';

const jsonBody = koaBody({ json: true, urlencoded: false, multipart: false, text: false, jsonLimit: '64kb', parsedMethods: [HttpMethodEnum.POST, HttpMethodEnum.PUT, HttpMethodEnum.PATCH, HttpMethodEnum.DELETE] });

class BadRequest extends Error {}

function body(ctx: Context): Record<string, unknown> {
  const value = (ctx.request as { body?: unknown }).body;
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

// Neither PostgreSQL (NUL) nor Prisma's query engine (half of a UTF-16 pair) can take these.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function text(ctx: Context, name: string, required: true): string;
function text(ctx: Context, name: string, required?: false): string | undefined;
function text(ctx: Context, name: string, required = false) {
  const value = body(ctx)[name];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || value === '') throw new BadRequest(`"${name}" must be a non-empty string`);
  if (value.includes('\u0000') || LONE_SURROGATE.test(value)) throw new BadRequest(`"${name}" must not contain a NUL character or a lone surrogate`);
  return value;
}

const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/**
 * Path segments (emails, ids, kids) and query values with control characters name nothing the
 * hub stores, and PostgreSQL cannot even compare text with a NUL byte: 400 before any lookup.
 */
function refuseControlCharacters(): Middleware {
  return async (ctx, next) => {
    let path: string;
    try {
      path = decodeURIComponent(ctx.path);
    } catch {
      throw new BadRequest('the path is not valid percent-encoded UTF-8');
    }
    const values = [path, ...Object.values(ctx.query).flat()].filter((value): value is string => typeof value === 'string');
    if (values.some((value) => CONTROL_CHARACTER.test(value))) throw new BadRequest('the path and query must not contain control characters');
    return next();
  };
}

const MAX_QUERY_VALUE = 320;

function query(ctx: Context, name: string): string | undefined {
  const value = ctx.query[name];
  // Repeated, it is ambiguous; longer than an email, it names nothing the hub stores.
  if (Array.isArray(value)) throw new BadRequest(`repeat "${name}" at most once`);
  if (value !== undefined && value.length > MAX_QUERY_VALUE) throw new BadRequest(`"${name}" is longer than ${MAX_QUERY_VALUE} characters`);
  return value !== undefined && value !== '' ? value : undefined;
}

/** A body that carries only these fields (a misspelt one is refused, not silently ignored). */
function only(ctx: Context, fields: string[]): Record<string, unknown> {
  const input = body(ctx);
  const unknown = Object.keys(input).find((name) => !fields.includes(name));
  if (unknown !== undefined) throw new BadRequest(`unknown field "${unknown.slice(0, 40)}"; expected ${fields.join(', ')}`);
  return input;
}

function limitOf(ctx: Context): number | undefined {
  const raw = query(ctx, 'limit');
  if (raw === undefined) return undefined;
  if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > 1000) throw new BadRequest('"limit" must be a whole number from 1 to 1000');
  return Number(raw);
}

const SOURCE = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** JSON errors with stable codes for everything below /api/admin. */
function adminErrors(): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) ctx.body = { error: 'not_found', error_description: 'no such admin endpoint' };
    } catch (error) {
      const known = describeDomainError(error);
      if (known) {
        ctx.status = known.status;
        ctx.body = { error: known.code, error_description: known.message };
        return;
      }
      if (error instanceof BadRequest) {
        ctx.status = 400;
        ctx.body = { error: 'invalid_request', error_description: error.message };
        return;
      }
      throw error;
    }
  };
}

export function adminRoutes(ops: AdminOperations, auth: Middleware) {
  const router = new Router({ prefix: '/api/admin' });
  router.use(adminErrors(), auth, refuseControlCharacters(), jsonBody);
  // Who the events of a change name: the administrator requireHubAdmin signed in.
  const actor = (ctx: Context): Actor => ({ type: 'admin', id: String(ctx.state.adminEmail) });

  router.get('/clients', async (ctx) => { ctx.body = await ops.listClients(); });
  router.post('/clients', async (ctx) => {
    const { client, secret } = await ops.addClient(body(ctx), actor(ctx));
    ctx.status = 201;
    ctx.body = { client, secret: secret ?? null };
  });
  router.post('/clients/sync', async (ctx) => { ctx.body = await ops.syncClients(actor(ctx)); });
  router.get('/clients/:id', async (ctx) => { ctx.body = await ops.getClient(ctx.params.id); });
  router.patch('/clients/:id', async (ctx) => {
    const { client, secret } = await ops.updateClient(ctx.params.id, body(ctx), actor(ctx));
    ctx.body = { client, secret: secret ?? null };
  });
  router.post('/clients/:id/rotate-secret', async (ctx) => { ctx.body = await ops.rotateClientSecret(ctx.params.id, actor(ctx), text(ctx, 'grace')); });
  router.post('/clients/:id/disable', async (ctx) => { ctx.body = await ops.setClientEnabled(ctx.params.id, false, actor(ctx)); });
  router.post('/clients/:id/enable', async (ctx) => { ctx.body = await ops.setClientEnabled(ctx.params.id, true, actor(ctx)); });
  router.delete('/clients/:id', async (ctx) => {
    await ops.removeClient(ctx.params.id, actor(ctx));
    ctx.status = 204;
  });

  router.get('/users', async (ctx) => { ctx.body = (await ops.listUsers(query(ctx, 'search'))).map(publicUser); });
  router.post('/users', async (ctx) => {
    const { admin } = body(ctx);
    if (admin !== undefined && typeof admin !== 'boolean') throw new BadRequest('"admin" must be true or false');
    const user = await ops.createUser({
      email: text(ctx, 'email', true), password: text(ctx, 'password'), name: text(ctx, 'name'), admin: admin === true,
    }, actor(ctx));
    ctx.status = 201;
    ctx.body = publicUser(user);
  });
  router.get('/users/:email', async (ctx) => {
    const { user, access, apiKeys } = await ops.getUser(ctx.params.email);
    ctx.body = { ...publicUser(user), access, apiKeys };
  });
  router.post('/users/:email/disable', async (ctx) => { ctx.body = publicUser(await ops.disableUser(ctx.params.email, actor(ctx))); });
  router.post('/users/:email/reset-mfa', async (ctx) => {
    const { user, removed } = await ops.resetMfa(ctx.params.email, actor(ctx));
    ctx.body = { email: user.email, ...removed };
  });
  router.post('/users/:email/enable', async (ctx) => { ctx.body = publicUser(await ops.enableUser(ctx.params.email, actor(ctx))); });
  router.post('/users/:email/password', async (ctx) => { ctx.body = publicUser(await ops.setPassword(ctx.params.email, text(ctx, 'password', true), actor(ctx))); });
  router.get('/users/:email/plan', async (ctx) => { ctx.body = await ops.getPlan(ctx.params.email); });
  router.put('/users/:email/plan', async (ctx) => { ctx.body = await ops.setPlan(ctx.params.email, text(ctx, 'plan', true), actor(ctx)); });
  router.delete('/users/:email', async (ctx) => {
    await ops.deleteUser(ctx.params.email, actor(ctx));
    ctx.status = 204;
  });

  router.get('/access', async (ctx) => { ctx.body = await ops.listAccess({ email: query(ctx, 'email'), project: query(ctx, 'project') }); });
  router.post('/access', async (ctx) => {
    ctx.body = await ops.grantAccess(text(ctx, 'email', true), text(ctx, 'project', true), text(ctx, 'role', true), actor(ctx));
  });
  router.delete('/access', async (ctx) => { ctx.body = await ops.revokeAccess(text(ctx, 'email', true), text(ctx, 'project', true), actor(ctx)); });

  router.get('/keys', async (ctx) => { ctx.body = await ops.listKeys(); });
  router.post('/keys/rotate', async (ctx) => {
    ctx.status = 201;
    ctx.body = await ops.rotateKeys();
  });
  router.post('/keys/:kid/retire', async (ctx) => { ctx.body = await ops.retireKey(ctx.params.kid); });

  router.get('/apikeys', async (ctx) => { ctx.body = await ops.listApiKeys(query(ctx, 'email')); });
  router.post('/apikeys', async (ctx) => {
    const rateLimit = body(ctx).rateLimit;
    if (rateLimit !== undefined && typeof rateLimit !== 'number') throw new BadRequest('"rateLimit" must be a number');
    const { key, info } = await ops.createApiKey({
      email: text(ctx, 'email', true), name: text(ctx, 'name', true), env: text(ctx, 'env', true), rateLimit, expiresIn: text(ctx, 'expires'),
    }, actor(ctx));
    ctx.status = 201;
    ctx.body = { ...info, key };
  });
  router.post('/apikeys/:id/revoke', async (ctx) => { ctx.body = await ops.revokeApiKey(ctx.params.id, actor(ctx)); });

  // The event log and every project's webhook endpoints: the shapes of the project API
  // (/api/events, /api/webhooks/*), unscoped.
  const events = ops.events;
  router.get('/events', async (ctx) => {
    const type = query(ctx, 'type');
    if (type !== undefined && !isEventPattern(type)) throw new BadRequest('"type" must be an event type such as deal.won, or a pattern such as deal.*');
    const source = query(ctx, 'source');
    if (source !== undefined && !SOURCE.test(source)) throw new BadRequest('"source" must be a project id, or nexus for the hub\'s own events');
    ctx.body = {
      events: await ops.listEvents({
        type: type === '*' ? undefined : type, source, subject: query(ctx, 'subject'), since: parseSince(query(ctx, 'since')), limit: limitOf(ctx), newestFirst: true,
      }),
    };
  });

  // One event with every webhook delivery and automation run made of it.
  router.get('/events/:id', async (ctx) => { ctx.body = await events.showEvent(ctx.params.id); });

  const ENDPOINT_FIELDS = ['url', 'events', 'description'];
  router.get('/webhooks/endpoints', async (ctx) => {
    const project = query(ctx, 'project');
    ctx.body = { endpoints: await events.listEndpoints(project === undefined ? {} : { project }) };
  });
  router.post('/webhooks/endpoints', async (ctx) => {
    const input = only(ctx, ['project', 'all', ...ENDPOINT_FIELDS]);
    if (input.all !== undefined && input.all !== true) throw new BadRequest('"all" must be true, or left out');
    const project = text(ctx, 'project');
    if ((project === undefined) !== (input.all === true)) throw new BadRequest('give either "project" or "all": true (an administrators\' endpoint that may receive every event)');
    ctx.status = 201;
    ctx.body = await events.addEndpoint({}, { project: project ?? null, url: input.url, eventTypes: input.events, description: input.description });
  });
  router.get('/webhooks/endpoints/:id', async (ctx) => { ctx.body = await events.getEndpoint(ctx.params.id, {}); });
  router.patch('/webhooks/endpoints/:id', async (ctx) => {
    const input = only(ctx, ENDPOINT_FIELDS);
    if (Object.keys(input).length === 0) throw new BadRequest(`nothing to change: give ${ENDPOINT_FIELDS.join(', ')}`);
    ctx.body = await events.updateEndpoint(ctx.params.id, { url: input.url, eventTypes: input.events, description: input.description }, {});
  });
  router.delete('/webhooks/endpoints/:id', async (ctx) => {
    await events.removeEndpoint(ctx.params.id, {});
    ctx.status = 204;
  });
  router.post('/webhooks/endpoints/:id/disable', async (ctx) => { ctx.body = await events.setEndpointEnabled(ctx.params.id, false, actor(ctx), {}); });
  router.post('/webhooks/endpoints/:id/enable', async (ctx) => { ctx.body = await events.setEndpointEnabled(ctx.params.id, true, actor(ctx), {}); });
  router.post('/webhooks/endpoints/:id/rotate-secret', async (ctx) => { ctx.body = await events.rotateEndpointSecret(ctx.params.id, {}); });
  router.post('/webhooks/endpoints/:id/test', async (ctx) => {
    ctx.status = 202;
    ctx.body = await events.testEndpoint(ctx.params.id, actor(ctx), {});
  });
  router.get('/webhooks/endpoints/:id/deliveries', async (ctx) => {
    const failed = query(ctx, 'failed');
    if (failed !== undefined && failed !== 'true' && failed !== 'false') throw new BadRequest('"failed" must be true or false');
    ctx.body = { deliveries: await events.listDeliveries(ctx.params.id, { failed: failed === 'true', limit: limitOf(ctx) }, {}) };
  });
  router.post('/webhooks/endpoints/:id/replay-failed', async (ctx) => {
    only(ctx, ['since']);
    ctx.status = 202;
    ctx.body = await events.replayFailed(ctx.params.id, parseSince(text(ctx, 'since', true))!, {});
  });
  router.get('/webhooks/deliveries/:id', async (ctx) => { ctx.body = await events.getDelivery(ctx.params.id, {}); });
  router.post('/webhooks/deliveries/:id/replay', async (ctx) => {
    ctx.status = 202;
    ctx.body = await events.replayDelivery(ctx.params.id, {});
  });

  // Unknown paths below /api/admin answer JSON too, after authentication.
  router.all(['/', '/{*rest}'], (ctx) => {
    ctx.status = 404;
    ctx.body = { error: 'not_found', error_description: 'no such admin endpoint' };
  });
  return router;
}

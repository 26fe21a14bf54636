// The back-channel logout route for Koa and Express: POST (form-encoded) at `path`, answered by
// BackchannelLogout. Reads the body itself (at most MAX_LOGOUT_BODY_BYTES) unless a body parser
// already did. Any other method at the path is 405.
import type { IncomingMessage } from 'node:http';
import { MAX_LOGOUT_BODY_BYTES, type BackchannelAnswer, type BackchannelLogout } from '../backchannel.js';

export interface BackchannelRouteOptions {
  /** Default /auth/backchannel-logout: register it at the hub as the project's backchannelLogoutUri. */
  path?: string;
}

const DEFAULT_PATH = '/auth/backchannel-logout';

/** Form fields; a repeated field becomes a list, which no check accepts as a token. */
function formOf(text: string): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [name, value] of new URLSearchParams(text)) {
    const known = fields[name];
    fields[name] = known === undefined ? value : [...(Array.isArray(known) ? known : [known]), value];
  }
  return fields;
}

class TooLarge extends Error {}

async function readForm(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_LOGOUT_BODY_BYTES) throw new TooLarge();
    chunks.push(chunk as Buffer);
  }
  return formOf(Buffer.concat(chunks).toString('utf8'));
}

const invalid = (message: string): BackchannelAnswer => ({
  status: 400, headers: { 'cache-control': 'no-store', 'content-type': 'application/json' },
  body: JSON.stringify({ error: 'invalid_request', error_description: message }),
});

/** The answer for one request at the path (the method already POST). */
async function handle(receiver: BackchannelLogout, contentType: string | undefined, parsed: unknown, req: IncomingMessage): Promise<BackchannelAnswer> {
  if (!/^application\/x-www-form-urlencoded\b/i.test(contentType ?? '')) return invalid('the body must be application/x-www-form-urlencoded');
  let form: Record<string, unknown>;
  if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) form = parsed as Record<string, unknown>;
  else {
    try {
      form = await readForm(req);
    } catch (error) {
      if (error instanceof TooLarge) return invalid('the body is too large');
      throw error;
    }
  }
  return receiver.answer(form);
}

interface KoaLikeContext {
  path: string;
  method: string;
  req: IncomingMessage;
  request: { body?: unknown };
  status: number;
  body: unknown;
  get(name: string): string;
  set(name: string, value: string): void;
}

export function backchannelLogoutKoa(receiver: BackchannelLogout, { path = DEFAULT_PATH }: BackchannelRouteOptions = {}) {
  return async function nexusBackchannelLogout(ctx: KoaLikeContext, next: () => Promise<unknown>) {
    if (ctx.path !== path) return next();
    if (ctx.method !== 'POST') {
      ctx.set('Allow', 'POST');
      ctx.status = 405;
      return undefined;
    }
    const answer = await handle(receiver, ctx.get('content-type') || undefined, ctx.request.body, ctx.req);
    for (const [name, value] of Object.entries(answer.headers)) ctx.set(name, value);
    ctx.status = answer.status;
    ctx.body = answer.body;
    return undefined;
  };
}

interface ExpressLikeRequest extends IncomingMessage {
  path: string;
  baseUrl: string;
  body?: unknown;
}
interface ExpressLikeResponse {
  set(name: string, value: string): unknown;
  status(code: number): ExpressLikeResponse;
  send(body: string): unknown;
  end(): unknown;
}

export function backchannelLogoutExpress(receiver: BackchannelLogout, { path = DEFAULT_PATH }: BackchannelRouteOptions = {}) {
  return function nexusBackchannelLogout(req: ExpressLikeRequest, res: ExpressLikeResponse, next: (error?: unknown) => void) {
    if (`${req.baseUrl}${req.path}` !== path) return next();
    if (req.method !== 'POST') {
      res.set('Allow', 'POST');
      res.status(405).end();
      return undefined;
    }
    const contentType = req.headers['content-type'];
    handle(receiver, contentType, req.body, req).then((answer) => {
      for (const [name, value] of Object.entries(answer.headers)) res.set(name, value);
      res.status(answer.status).send(answer.body);
    }, next);
    return undefined;
  };
}

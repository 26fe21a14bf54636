// Shared parts of the gateway tests: a real upstream (a Koa app on loopback that echoes what it
// received, streams server-sent events, stalls on request), sign-ins through the real pages.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { expect } from 'vitest';
import type { TestHub } from '../support/hub.js';
import { authorize, Browser } from '../support/browser.js';
import { postForm } from '../support/oauth.js';
import { ApiKeys } from '../../src/accounts/api-keys.js';

export const PASSWORD = 'correct horse battery';
export const SALES_CALLBACK = 'http://localhost:3001/auth/callback';

export interface Upstream {
  url: string;
  server: http.Server;
  close(): Promise<void>;
}

/** Echoes method, path, headers and body as JSON; /slow waits, /sse streams, /status/N answers N. */
export async function startUpstream(): Promise<Upstream> {
  const app = new Koa();
  app.use(async (ctx) => {
    const path = ctx.path.replace(/^\/api/, '');
    if (path === '/slow') {
      await new Promise((resolve) => setTimeout(resolve, Number(ctx.query.ms ?? 3000)));
      ctx.body = { slow: true };
      return;
    }
    if (path === '/sse') {
      ctx.status = 200;
      ctx.set({ 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      ctx.respond = false;
      ctx.res.writeHead(200);
      let n = 0;
      const timer = setInterval(() => {
        ctx.res.write(`data: ${n}\n\n`);
        if (++n === 3) {
          clearInterval(timer);
          ctx.res.end();
        }
      }, 150);
      return;
    }
    const status = /^\/status\/(\d{3})$/.exec(path);
    const chunks: Buffer[] = [];
    for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
    ctx.set('set-cookie', 'upstream=1; Path=/');
    ctx.set('x-upstream', 'yes');
    ctx.status = status ? Number(status[1]) : 200;
    ctx.body = { method: ctx.method, url: ctx.url, headers: ctx.req.headers, rawHeaders: ctx.req.rawHeaders, bodyBytes: Buffer.concat(chunks).length };
  });
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api`,
    server,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** Points a project at an upstream and makes the hub see it at once. */
export async function putBehindGateway(t: TestHub, project: string, upstream: string | null, gateway?: object) {
  await t.hub.clients.update(project, { upstream, ...(gateway ? { gateway } : {}) });
  t.hub.clients.invalidate();
}

/** A user's access token through the real login pages (code + PKCE), optionally for another resource. */
export async function signIn(t: TestHub, email: string, options: { scope?: string; resource?: string; clientId?: string; redirectUri?: string } = {}) {
  const clientId = options.clientId ?? 'sales';
  const redirectUri = options.redirectUri ?? SALES_CALLBACK;
  const extra = options.resource ? { resource: options.resource } : undefined;
  const result = await authorize(new Browser(t.url), { clientId, redirectUri, scope: options.scope ?? 'openid email leads:read leads:write', email, password: PASSWORD, extra });
  expect(result.code, result.body.slice(0, 400)).toBeTruthy();
  const tokens = await postForm(t, '/token', clientId, {
    grant_type: 'authorization_code', code: result.code!, code_verifier: result.verifier, redirect_uri: redirectUri,
    ...(options.resource ? { resource: options.resource } : {}),
  });
  expect(tokens.status, tokens.text).toBe(200);
  return tokens.body.access_token;
}

export async function createUser(t: TestHub, email: string) {
  return t.hub.users.create({ email, password: PASSWORD, fullName: email.split('@')[0] });
}

export async function createApiKey(t: TestHub, userId: string, rateLimit?: number) {
  return new ApiKeys(t.hub.db.prisma).create({ userId, name: 'script', env: 'live', ...(rateLimit ? { rateLimit } : {}) });
}

export { together } from '../support/together.js';

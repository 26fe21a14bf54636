// Koa: `app.use(signInKoa(signIn))` serves GET /login, the callback and POST /logout; on every
// other request `ctx.state.user` is the signed-in user and `ctx.state.nexusAccessToken` the
// current access token (nexusKoa prefers it to the cookie, which may be the one just refreshed).
import { serializeCookie, type SignIn } from '../sign-in.js';
import { routeSignIn, type SignInRoutes } from './sign-in-routes.js';

interface KoaLikeContext {
  path: string;
  method: string;
  href: string;
  query: Record<string, unknown>;
  status: number;
  body: unknown;
  state: Record<string, unknown>;
  get(name: string): string;
  append(name: string, value: string): void;
  redirect(url: string): void;
}

export type { SignInRoutes };

export function signInKoa(signIn: SignIn, routes: SignInRoutes = {}) {
  return async function nexusSignIn(ctx: KoaLikeContext, next: () => Promise<unknown>) {
    const answer = await routeSignIn(signIn, routes, {
      method: ctx.method, path: ctx.path, href: ctx.href, returnTo: ctx.query.returnTo, cookieHeader: ctx.get('cookie') || undefined,
    });
    for (const cookie of answer.cookies) ctx.append('Set-Cookie', serializeCookie(cookie));
    if (answer.kind === 'redirect') {
      ctx.redirect(answer.location);
      return;
    }
    if (answer.kind === 'failed') {
      ctx.status = answer.status;
      ctx.body = answer.message;
      return;
    }
    ctx.state.user = answer.user;
    ctx.state.nexusAccessToken = answer.accessToken;
    await next();
  };
}

// Koa routes for SignIn: GET /login, the callback, POST /logout; on every other request the
// session is read (and silently refreshed), `ctx.state.user` is the signed-in user and
// `ctx.state.nexusAccessToken` the current access token (nexusKoa prefers it to the cookie).
import { SignIn, SignInError, type CookieToSet } from '../sign-in.js';

interface KoaLikeContext {
  path: string;
  method: string;
  href: string;
  query: Record<string, unknown>;
  status: number;
  body: unknown;
  state: Record<string, unknown>;
  get(name: string): string;
  redirect(url: string): void;
  cookies: { set(name: string, value: string, options: object): unknown };
}

export interface SignInRoutes {
  loginPath?: string;
  logoutPath?: string;
}

function apply(ctx: KoaLikeContext, cookies: CookieToSet[]) {
  for (const { name, value, maxAge, ...options } of cookies) {
    ctx.cookies.set(name, value || null as unknown as string, { ...options, maxAge: maxAge * 1000, overwrite: true, ...(maxAge === 0 ? { expires: new Date(0) } : {}) });
  }
}

export function signInKoa(signIn: SignIn, { loginPath = '/login', logoutPath = '/logout' }: SignInRoutes = {}) {
  const { callbackPath } = signIn;
  return async function nexusSignIn(ctx: KoaLikeContext, next: () => Promise<unknown>) {
    if (ctx.method === 'GET' && ctx.path === loginPath) {
      const { url, cookies } = await signIn.begin(typeof ctx.query.returnTo === 'string' ? ctx.query.returnTo : '/');
      apply(ctx, cookies);
      ctx.redirect(url);
      return;
    }
    if (ctx.method === 'GET' && ctx.path === callbackPath) {
      try {
        const { returnTo, cookies } = await signIn.complete(new URL(ctx.href), ctx.get('cookie'));
        apply(ctx, cookies);
        ctx.redirect(returnTo);
      } catch (error) {
        if (!(error instanceof SignInError)) throw error;
        ctx.status = error.code === 'access_denied' ? 403 : 400;
        ctx.body = `Sign-in failed: ${error.message}.`;
      }
      return;
    }
    // POST only: a link or image on another site must not sign the user out.
    if (ctx.method === 'POST' && ctx.path === logoutPath) {
      const { url, cookies } = await signIn.logout(ctx.get('cookie'));
      apply(ctx, cookies);
      ctx.redirect(url);
      return;
    }
    const { user, accessToken, cookies } = await signIn.current(ctx.get('cookie'));
    apply(ctx, cookies);
    ctx.state.user = user;
    ctx.state.nexusAccessToken = accessToken;
    await next();
  };
}

// Express: `app.use(signInExpress(signIn))` serves GET /login, the callback and POST /logout; on
// every other request `req.user` is the signed-in user and `req.nexusAccessToken` the current
// access token (nexusExpress prefers it to the cookie, which may be the one just refreshed).
import { serializeCookie, type SessionUser, type SignIn } from '../sign-in.js';
import { routeSignIn, type SignInRoutes } from './sign-in-routes.js';

interface ExpressLikeRequest {
  method: string;
  path: string;
  baseUrl: string;
  originalUrl: string;
  protocol: string;
  query: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
  get(name: string): string | undefined;
  user?: SessionUser;
  nexusAccessToken?: string;
}
interface ExpressLikeResponse {
  append(name: string, value: string): unknown;
  redirect(url: string): unknown;
  status(code: number): ExpressLikeResponse;
  type(type: string): ExpressLikeResponse;
  send(body: string): unknown;
}
type Next = (error?: unknown) => void;

export function signInExpress(signIn: SignIn, routes: SignInRoutes = {}) {
  return function nexusSignIn(req: ExpressLikeRequest, res: ExpressLikeResponse, next: Next) {
    const cookie = req.headers.cookie;
    routeSignIn(signIn, routes, {
      method: req.method,
      path: `${req.baseUrl}${req.path}`,
      href: `${req.protocol}://${req.get('host')}${req.originalUrl}`,
      returnTo: req.query.returnTo,
      cookieHeader: Array.isArray(cookie) ? cookie.join('; ') : cookie,
    }).then((answer) => {
      for (const set of answer.cookies) res.append('Set-Cookie', serializeCookie(set));
      if (answer.kind === 'redirect') return res.redirect(answer.location);
      if (answer.kind === 'failed') return res.status(answer.status).type('text/plain').send(answer.message);
      req.user = answer.user;
      req.nexusAccessToken = answer.accessToken;
      return next();
    }, next);
  };
}

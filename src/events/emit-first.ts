// Requests for /api/events (POST: a project's events; GET: reading them back) are answered by a
// Koa app of their own, ahead of the hub's: the same front middleware (request id and log line,
// HSTS, error bodies, the issuer-host check) and the same bus routes, without the dozen routers
// mounted before the bus's in the hub's chain, which each matched every event request against
// their routes first (~80 µs of the main thread per event; at 200 events/s that came out of token
// issuance). Other bus paths (/api/webhooks/…) stay in the hub's app, where the same routes are
// mounted too (and listed with the app's routes).
import type { RequestListener } from 'node:http';
import Koa, { type Middleware } from 'koa';
import type { eventRoutes } from './routes.js';

/** Exactly the path the bus routes answer; other spellings (a trailing slash, capitals) go the usual way. */
const isEventsUrl = (url: string) => url === '/api/events' || url.startsWith('/api/events?');

export function eventsFirst(options: { proxy: boolean; maxIpsCount: number; front: Middleware[]; routes: ReturnType<typeof eventRoutes> }, rest: RequestListener): RequestListener {
  const app = new Koa();
  app.proxy = options.proxy;
  app.maxIpsCount = options.maxIpsCount;
  app.silent = true; // as the hub's app: errors are logged by the front middleware
  for (const middleware of options.front) app.use(middleware);
  app.use(options.routes);
  const events = app.callback();
  return (req, res) => (isEventsUrl(req.url ?? '') ? events(req, res) : rest(req, res));
}

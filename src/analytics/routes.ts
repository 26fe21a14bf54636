// /api/analytics/*: AnalyticsQueries as JSON, or CSV with ?format=csv. Thin: check who asks,
// parse the parameters, run one query, answer. Errors are JSON with a stable `error` code.
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { ClientRegistry } from '../clients/registry.js';
import type { AnalyticsQueries } from './queries.js';
import { BadParameter, format, interval, oneOf, projectParam, range } from './params.js';
import { toCsv } from './csv.js';

type Endpoint = (ctx: Context, project: string | undefined) => Promise<object>;

// A year of monthly cohorts unless asked otherwise.
const RETENTION_DAYS = 365;

export function analyticsRoutes(queries: AnalyticsQueries, clients: ClientRegistry, auth: Middleware) {
  const router = new Router({ prefix: '/api/analytics' });
  const today = () => queries.today();
  const endpoints: Record<string, Endpoint> = {
    overview: (_ctx, project) => queries.overview({ project }),
    activity: (ctx, project) => queries.activity({ ...range(ctx, today()), interval: interval(ctx), project }),
    'cross-project': (ctx, project) => queries.crossProject({ to: range(ctx, today()).to, project }),
    retention: (ctx, project) => queries.retention({ ...range(ctx, today(), RETENTION_DAYS), project }),
    revenue: (ctx, project) => queries.revenue({ ...range(ctx, today()), interval: oneOf(ctx, 'interval', ['day', 'month'] as const, 'day'), project }),
    logins: (ctx, project) => queries.logins({ ...range(ctx, today()), project }),
    gateway: (ctx, project) => queries.gateway({ ...range(ctx, today()), project }),
    webhooks: (ctx, project) => queries.webhooks({ ...range(ctx, today()), project }),
  };

  router.use(auth);
  for (const [name, endpoint] of Object.entries(endpoints)) {
    router.get(`/${name}`, async (ctx) => {
      let answer: object;
      try {
        const as = format(ctx);
        const project = projectParam(ctx);
        if (project && !(await clients.get(project).then(() => true, () => false))) {
          ctx.status = 404;
          ctx.body = { error: 'not_found', error_description: 'no such project' };
          return;
        }
        answer = await endpoint(ctx, project);
        if (as === 'csv') {
          ctx.type = 'text/csv; charset=utf-8';
          ctx.set('Content-Disposition', `attachment; filename="nexus-${name}${project ? `-${project}` : ''}.csv"`);
          ctx.body = toCsv(answer);
          return;
        }
      } catch (error) {
        if (!(error instanceof BadParameter)) throw error;
        ctx.status = 400;
        ctx.body = { error: 'invalid_request', error_description: error.message };
        return;
      }
      ctx.body = answer;
    });
  }
  // Unknown paths and methods below /api/analytics answer JSON too, after authentication.
  router.all(['/', '/{*rest}'], (ctx) => {
    const known = Object.keys(endpoints).some((name) => ctx.path === `/api/analytics/${name}`);
    ctx.status = known ? 405 : 404;
    if (known) ctx.set('Allow', 'GET, HEAD');
    ctx.body = known
      ? { error: 'method_not_allowed', error_description: 'analytics endpoints answer GET only' }
      : { error: 'not_found', error_description: 'no such analytics endpoint' };
  });
  return router;
}

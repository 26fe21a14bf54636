// GET /metrics: this instance's Prometheus exposition (each instance is scraped on its own).
// Mounted before the issuer-host check, like the health routes: scrapers address instances by IP.
import Router from '@koa/router';
import { metricsAccess } from './access.js';
import type { HubMetrics } from './registry.js';

export function metricsRoutes(metrics: HubMetrics, token: string | undefined) {
  const router = new Router();
  router.all('/metrics', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.set('Allow', 'GET, HEAD');
      ctx.status = 405;
      ctx.body = 'Method Not Allowed\n';
      return;
    }
    const access = metricsAccess(ctx.req, token);
    if (access === 'unauthorized') {
      ctx.set('WWW-Authenticate', 'Bearer realm="metrics"');
      ctx.status = 401;
      ctx.body = 'A valid METRICS_TOKEN is required.\n';
      return;
    }
    if (access === 'forbidden') {
      ctx.status = 403;
      ctx.body = 'Metrics are served to this machine only (set METRICS_TOKEN to scrape from elsewhere).\n';
      return;
    }
    const { contentType, body } = await metrics.exposition();
    ctx.type = contentType;
    ctx.body = body;
  });
  return router;
}

// Counts every request the Koa app answers, by route template and status, once its status is
// final (this runs outside the error handler), and hands the metrics to the routes that count
// their own outcomes (ctx.state.metrics).
import type { Middleware } from 'koa';
import type { HubMetrics } from './registry.js';

export function countRequests(metrics: HubMetrics): Middleware {
  return async (ctx, next) => {
    ctx.state.metrics = metrics;
    try {
      await next();
    } finally {
      metrics.request(ctx);
    }
  };
}

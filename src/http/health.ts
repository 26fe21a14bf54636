// Liveness (the process answers) and readiness (the database answers) for load balancers.
import Router from '@koa/router';
import type { PrismaClient } from '../generated/prisma/client.js';

export function healthRoutes(prisma: PrismaClient) {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    try {
      await prisma.$queryRaw`SELECT 1`;
      ctx.body = { status: 'ready', database: 'ok' };
    } catch {
      ctx.status = 503;
      ctx.body = { status: 'unavailable', database: 'unreachable' };
    }
  });
  return router;
}

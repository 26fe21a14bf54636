// /console/webhooks: every endpoint (administrators' and projects'), one endpoint's delivery
// log, and replaying a finished delivery.
import Router from '@koa/router';
import type { AdminOperations } from '../admin/operations.js';
import { attempt, consoleForm, doneNotice, doneRedirect, queryText, showPage, when } from './page.js';
import type { ConsoleSession } from './session.js';

const UNSCOPED = {};
const DELIVERIES_SHOWN = 50;

export function webhooksRoutes({ session, ops }: { session: ConsoleSession; ops: AdminOperations }) {
  const router = new Router();

  router.get('/console/webhooks', async (ctx) => {
    const admin = await session.forPage(ctx);
    if (!admin) return;
    const endpoints = await ops.events.listEndpoints(UNSCOPED);
    await showPage(ctx, admin, 'webhooks', {
      title: 'Webhooks', section: 'webhooks',
      endpoints: endpoints.map((endpoint) => ({
        id: endpoint.id, project: endpoint.project, url: endpoint.url, eventTypes: endpoint.eventTypes, enabled: endpoint.enabled,
        disabledReason: endpoint.disabledReason, failingSince: when(endpoint.failingSince),
      })),
    });
  });

  router.get('/console/webhooks/:id', async (ctx) => {
    const admin = await session.forPage(ctx);
    if (!admin) return;
    const failed = queryText(ctx, 'failed') === '1';
    const endpoint = await attempt(() => ops.events.getEndpoint(ctx.params.id, UNSCOPED));
    const deliveries = await attempt(() => ops.events.listDeliveries(endpoint.id, { failed, limit: DELIVERIES_SHOWN }, UNSCOPED));
    await showPage(ctx, admin, 'webhook', {
      title: 'Deliveries', section: 'webhooks', failed,
      notice: doneNotice(ctx, { replayed: 'The delivery was queued again.' }),
      endpoint: { id: endpoint.id, project: endpoint.project, url: endpoint.url, enabled: endpoint.enabled },
      deliveries: deliveries.map((delivery) => ({
        id: delivery.id, eventType: delivery.eventType, status: delivery.status, attempts: delivery.attempts, lastStatus: delivery.lastStatus,
        lastError: delivery.lastError, created: when(delivery.createdAt), completed: when(delivery.completedAt),
      })),
    });
  });

  router.post('/console/deliveries/:id/replay', consoleForm, async (ctx) => {
    if (!(await session.forForm(ctx))) return;
    const delivery = await attempt(() => ops.events.getDelivery(ctx.params.id, UNSCOPED));
    await attempt(() => ops.events.replayDelivery(delivery.id, UNSCOPED));
    doneRedirect(ctx, `/console/webhooks/${delivery.endpointId}`, 'replayed');
  });

  return router;
}

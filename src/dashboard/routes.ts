// GET /dashboard: the signed-in user's plan (with its upgrade buttons) above one card per project
// they may use. Thin: the cards come from DashboardCards, the plan box from the billing library.
import Router from '@koa/router';
import type { Billing } from '../billing/billing.js';
import type { Subscriptions } from '../billing/subscriptions.js';
import { planBox } from '../billing/plan-box.js';
import type { AccountSession } from '../account-center/signed-in.js';
import { render } from '../http/render.js';
import type { DashboardCards } from './cards.js';

export interface DashboardRouteDeps {
  session: AccountSession;
  cards: DashboardCards;
  billing: Billing;
  subscriptions: Subscriptions;
}

export function dashboardRoutes({ session, cards, billing, subscriptions }: DashboardRouteDeps) {
  const router = new Router();
  router.get('/dashboard', async (ctx) => {
    const signedIn = await session.forPage(ctx);
    if (!signedIn) return;
    const [plan, projects] = await Promise.all([
      planBox(billing, subscriptions, signedIn.userId),
      cards.forUser(signedIn.userId, ctx.state.requestId as string),
    ]);
    // render() sends Cache-Control: no-store: the cards are the user's own figures.
    await render(ctx, 'dashboard', { title: 'Your dashboard', ...plan, cards: projects, csrfToken: session.csrfToken(signedIn) });
  });
  return router;
}

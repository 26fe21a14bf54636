// The account center's "Connected apps" page (/account/apps): every project the user has allowed,
// what it may do in plain words, since when, and "Remove access". Thin: the rules are in Consents.
import Router from '@koa/router';
import { koaBody } from 'koa-body';
import type { Consents } from '../accounts/consents.js';
import type { ClientRegistry } from '../clients/registry.js';
import { ACCOUNT_CLIENT_ID } from '../http/account-sign-in.js';
import { describeScope, inReadingOrder } from '../interactions/scopes.js';
import { render } from '../http/render.js';
import { HttpError } from '../http/errors.js';
import type { AccountSession } from './signed-in.js';

export interface AppsRouteDeps {
  session: AccountSession;
  consents: Consents;
  clients: ClientRegistry;
}

const form = koaBody({ urlencoded: true, json: false, multipart: false, text: false, formLimit: '16kb' });

const day = (date: Date | null) => date?.toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }) ?? null;

export function appsRoutes({ session, consents, clients }: AppsRouteDeps) {
  const router = new Router();

  router.get('/account/apps', async (ctx) => {
    const signedIn = await session.forPage(ctx);
    if (!signedIn) return;
    const [allowed, registered] = await Promise.all([consents.connectedApps(signedIn.userId), clients.list()]);
    const projects = new Map(registered.map((client) => [client.id, client]));
    // The account center's own sign-in is the hub itself, not an app the user connected.
    const apps = allowed.filter((app) => app.clientId !== ACCOUNT_CLIENT_ID).map((app) => ({
      clientId: app.clientId,
      name: projects.get(app.clientId)?.name ?? app.clientId,
      firstParty: projects.get(app.clientId)?.firstParty ?? false,
      since: day(app.since),
      scopes: inReadingOrder(app.scopes).map((scope) => ({ scope, description: describeScope(scope) })),
    }));
    await render(ctx, 'account-apps', {
      title: 'Connected apps', section: 'apps', csrfToken: session.csrfToken(signedIn), apps,
      notice: ctx.query.removed === '1' ? 'Access was removed. The app will ask again the next time you use it.' : null,
    });
  });

  router.post('/account/apps/:clientId/remove', form, async (ctx) => {
    const signedIn = await session.forForm(ctx);
    if (!(await consents.remove(signedIn.userId, ctx.params.clientId, { type: 'user', id: signedIn.userId }))) {
      throw new HttpError(404, 'not_found', 'This app has no access to your account (any more).', 'Not found');
    }
    ctx.status = 303;
    ctx.redirect('/account/apps?removed=1');
  });

  return router;
}

// "Your data" (/account/data): download everything the hub keeps about you as JSON, and delete
// the account. Thin over UserExport and AccountDeletion.
import Router from '@koa/router';
import { koaBody } from 'koa-body';
import type { Context } from 'koa';
import type { UserExport } from '../accounts/user-export.js';
import { render } from '../http/render.js';
import { HttpError } from '../http/errors.js';
import { AccountDeletion, DeletionRefused } from './deletion.js';
import { formField, type AccountSession, type SignedIn } from './signed-in.js';

export interface DataRouteDeps {
  session: AccountSession;
  exports: UserExport;
  deletion: AccountDeletion;
}

// oidc-provider's session cookie (and its signature): emptied once the session itself is gone.
const SESSION_COOKIE = '_session';

const form = koaBody({ urlencoded: true, json: false, multipart: false, text: false, formLimit: '8kb' });

export function dataRoutes({ session, exports, deletion }: DataRouteDeps) {
  const router = new Router();

  const show = async (ctx: Context, signedIn: SignedIn, error: string | null = null, status = 200) => {
    await render(ctx, 'account-data', {
      title: 'Your data', section: 'data', csrfToken: session.csrfToken(signedIn), needsPassword: await deletion.needsPassword(signedIn.userId), error,
    }, status);
  };

  router.get('/account/data', async (ctx) => {
    const signedIn = await session.forPage(ctx);
    if (signedIn) await show(ctx, signedIn);
  });

  // A GET (a download link), so no CSRF token: the answer is an attachment another site cannot
  // read (no CORS), and it changes nothing.
  router.get('/account/data/export', async (ctx) => {
    const signedIn = await session.forPage(ctx);
    if (!signedIn) return;
    const data = await exports.of(signedIn.userId);
    if (!data) throw new HttpError(401, 'login_required', 'Sign in to your Nexus account first.', 'Sign-in required');
    ctx.set('Cache-Control', 'no-store');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Content-Disposition', `attachment; filename="nexus-account-${new Date().toISOString().slice(0, 10)}.json"`);
    ctx.type = 'application/json';
    ctx.body = `${JSON.stringify(data, null, 2)}\n`;
  });

  router.post('/account/delete', form, async (ctx) => {
    const signedIn = await session.forForm(ctx);
    try {
      await deletion.delete(signedIn.userId, { confirmation: formField(ctx, 'confirm'), password: formField(ctx, 'password'), ip: ctx.ip });
    } catch (error) {
      if (!(error instanceof DeletionRefused)) throw error;
      if (error.cause) ctx.state.log?.warn({ event: 'account_deletion_billing_failed', err: (error.cause as Error).message }, 'account not deleted: Stripe subscriptions could not be canceled');
      if (error.retryAfterSeconds) ctx.set('Retry-After', String(error.retryAfterSeconds));
      await show(ctx, signedIn, error.message, error.status);
      return;
    }
    // Deleted now or by a parallel request: either way this browser is signed out.
    ctx.cookies.set(SESSION_COOKIE, null, { signed: true, secure: ctx.secure, httpOnly: true, sameSite: 'lax' });
    await render(ctx, 'account-deleted', { title: 'Account deleted' });
  });

  return router;
}

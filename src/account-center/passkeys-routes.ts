// The user's passkeys (/account/passkeys): add one (the browser script asks the authenticator;
// JSON in and out, CSRF in the body), list, rename and remove. Thin over Passkeys.
import Router from '@koa/router';
import { koaBody } from 'koa-body';
import type { Context } from 'koa';
import type { Users } from '../accounts/users.js';
import { PasskeyError, type PasskeyInfo, type Passkeys, MAX_NAME_LENGTH } from '../mfa/passkeys.js';
import { render } from '../http/render.js';
import { HttpError } from '../http/errors.js';
import { formField, type AccountSession, type SignedIn } from './signed-in.js';

export interface PasskeysRouteDeps {
  session: AccountSession;
  passkeys: Passkeys;
  users: Users;
}

const form = koaBody({ urlencoded: true, json: false, multipart: false, text: false, formLimit: '8kb' });
// The registration answer travels as JSON; a `none` attestation is a few hundred bytes.
const json = koaBody({ urlencoded: true, json: true, multipart: false, text: false, jsonLimit: '32kb', formLimit: '8kb' });

const day = (date: Date | null) => date?.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' }) ?? null;

const NOTICES: Record<string, string> = {
  added: 'Your passkey was added: use it on the sign-in page.',
  renamed: 'The passkey was renamed.',
  removed: 'The passkey was removed: it no longer signs you in.',
};

const row = (passkey: PasskeyInfo) => ({ ...passkey, created: day(passkey.createdAt), lastUsed: day(passkey.lastUsedAt) });

/** A JSON answer the script reads: `{ error }` with the status, never a page. */
function jsonError(ctx: Context, status: number, error: string) {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error };
}

export function passkeysRoutes({ session, passkeys, users }: PasskeysRouteDeps) {
  const router = new Router();

  const show = async (ctx: Context, signedIn: SignedIn, extra: { error?: string; notice?: string } = {}, status = 200) => {
    await render(ctx, 'account-passkeys', {
      title: 'Passkeys', section: 'passkeys', csrfToken: session.csrfToken(signedIn), passkeys: (await passkeys.list(signedIn.userId)).map(row),
      maxName: MAX_NAME_LENGTH, error: extra.error ?? null, notice: extra.notice ?? null,
    }, status);
  };

  /** The passkey named in the path, as a 404 when it is not this user's. */
  const refused = (error: unknown): never => {
    if (error instanceof PasskeyError && error.code === 'not_found') throw new HttpError(404, 'not_found', error.message, 'Not found');
    throw error;
  };

  router.get('/account/passkeys', async (ctx) => {
    const signedIn = await session.forPage(ctx);
    if (!signedIn) return;
    await show(ctx, signedIn, { notice: NOTICES[String(ctx.query.done)] });
  });

  router.post('/account/passkeys/options', json, async (ctx) => {
    const signedIn = await session.forForm(ctx);
    const user = await users.findById(signedIn.userId);
    if (!user) throw new HttpError(401, 'login_required', 'Sign in to your Nexus account first.', 'Sign-in required');
    try {
      const options = await passkeys.registrationOptions(user);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = options;
    } catch (error) {
      if (!(error instanceof PasskeyError)) throw error;
      jsonError(ctx, 409, error.message);
    }
  });

  // Without the script a browser posts the plain form here: it is told why nothing happened.
  router.post('/account/passkeys', json, async (ctx) => {
    const signedIn = await session.forForm(ctx);
    const credential = (ctx.request as { body?: Record<string, unknown> }).body?.credential;
    if (!ctx.is('application/json')) {
      await show(ctx, signedIn, { error: 'Adding a passkey needs JavaScript turned on in your browser (the page loads one script, from Nexus itself).' }, 400);
      return;
    }
    try {
      const added = await passkeys.register(signedIn.userId, formField(ctx, 'name'), credential, { type: 'user', id: signedIn.userId });
      ctx.state.log.info({ event: 'passkey_added', accountId: signedIn.userId }, 'passkey added');
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { added: { id: added.id, name: added.name }, redirect: '/account/passkeys?done=added' };
    } catch (error) {
      if (!(error instanceof PasskeyError)) throw error;
      jsonError(ctx, error.code === 'too_many' || error.code === 'already_registered' ? 409 : 400, error.message);
    }
  });

  router.post('/account/passkeys/:id/rename', form, async (ctx) => {
    const signedIn = await session.forForm(ctx);
    try {
      await passkeys.rename(signedIn.userId, ctx.params.id, formField(ctx, 'name'));
    } catch (error) {
      if (error instanceof PasskeyError && error.code === 'invalid_name') {
        await show(ctx, signedIn, { error: error.message }, 400);
        return;
      }
      refused(error);
    }
    ctx.status = 303;
    ctx.redirect('/account/passkeys?done=renamed');
  });

  // Asks for nothing more than the session and its CSRF token, like revoking a key: a second
  // factor removed here can be added again at once, and a project that requires one asks for it.
  router.post('/account/passkeys/:id/remove', form, async (ctx) => {
    const signedIn = await session.forForm(ctx);
    await passkeys.remove(signedIn.userId, ctx.params.id, { type: 'user', id: signedIn.userId }).catch(refused);
    ctx.state.log.info({ event: 'passkey_removed', accountId: signedIn.userId }, 'passkey removed');
    ctx.status = 303;
    ctx.redirect('/account/passkeys?done=removed');
  });

  return router;
}

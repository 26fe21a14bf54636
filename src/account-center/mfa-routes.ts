// The account center's "Two-step sign-in" page (/account/mfa): turn TOTP on (QR code rendered
// here as inline SVG, the secret as text, confirmed by one code; then the recovery codes, shown
// once), get new recovery codes, turn it off. Changing or removing the factor asks for a current
// code or a recovery code (never the session alone), under the sign-in's wrong-code limit.
import Router from '@koa/router';
import { koaBody } from 'koa-body';
import type { Context } from 'koa';
import QRCode from 'qrcode';
import type { Users } from '../accounts/users.js';
import { render } from '../http/render.js';
import { HttpError } from '../http/errors.js';
import { formField, type AccountSession, type SignedIn } from './signed-in.js';
import { cleanCode, isTotpCode, type TotpFactors } from '../mfa/totp.js';
import type { RecoveryCodes } from '../mfa/recovery-codes.js';
import { tooManyCodes, type CodeLimit } from '../mfa/code-limit.js';

export interface MfaRouteDeps {
  session: AccountSession;
  users: Users;
  totp: TotpFactors;
  recoveryCodes: RecoveryCodes;
  limit: CodeLimit;
}

const form = koaBody({ urlencoded: true, json: false, multipart: false, text: false, formLimit: '8kb' });

const NOTICES: Record<string, string> = {
  disabled: 'Two-step sign-in is off. You sign in with your password alone.',
};

/** Where enrolment may send the browser back: only a sign-in in progress (no open redirect). */
const RETURN_TO = /^\/interaction\/[A-Za-z0-9_-]{1,64}$/;
const returnToOf = (value: unknown) => (typeof value === 'string' && RETURN_TO.test(value) ? value : null);

/** The secret in groups of four, as authenticator apps ask to type it. */
const grouped = (secret: string) => secret.match(/.{1,4}/g)!.join(' ');

export function mfaRoutes({ session, users, totp, recoveryCodes, limit }: MfaRouteDeps) {
  const router = new Router();

  const show = async (ctx: Context, signedIn: SignedIn, extra: { error?: string; notice?: string | null; codes?: string[]; returnTo?: string | null } = {}, status = 200) => {
    const user = await users.findById(signedIn.userId);
    if (!user) throw new HttpError(401, 'login_required', 'Sign in to your Nexus account first.', 'Sign-in required');
    const enrolment = extra.codes ? undefined : await totp.pendingEnrolment(user.id, user.email);
    const enabled = !enrolment;
    await render(ctx, 'account-mfa', {
      title: 'Two-step sign-in', section: 'mfa', csrfToken: session.csrfToken(signedIn), error: extra.error ?? null, notice: extra.notice ?? null,
      enabled, codes: extra.codes ?? null, returnTo: extra.returnTo ?? null,
      remaining: enabled && !extra.codes ? await recoveryCodes.remaining(user.id) : null,
      enrolment: enrolment ? {
        secret: grouped(enrolment.secret), uri: enrolment.uri,
        qrSvg: await QRCode.toString(enrolment.uri, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' }),
      } : null,
    }, status);
  };

  /** A current TOTP code or an unused recovery code of the user, under the wrong-code limit. */
  const proven = async (ctx: Context, signedIn: SignedIn): Promise<boolean> => {
    const code = cleanCode(formField(ctx, 'code').slice(0, 64));
    if (!code) {
      await show(ctx, signedIn, { error: 'Enter a code from your authenticator app or a recovery code.' }, 400);
      return false;
    }
    const admission = await limit.admit(signedIn.userId);
    if (!admission.admitted) {
      ctx.set('Retry-After', String(admission.retryAfterSeconds));
      await show(ctx, signedIn, { error: tooManyCodes(admission.retryAfterSeconds) }, 429);
      return false;
    }
    const right = isTotpCode(code) ? await totp.verify(signedIn.userId, code) : await recoveryCodes.spend(signedIn.userId, code);
    if (!right) {
      ctx.state.log.info({ event: 'second_factor_failed', accountId: signedIn.userId }, 'account center: code refused');
      await show(ctx, signedIn, { error: 'That code is not right, or it was already used.' }, 401);
      return false;
    }
    await admission.succeeded();
    return true;
  };

  router.get('/account/mfa', async (ctx) => {
    const signedIn = await session.forPage(ctx);
    if (!signedIn) return;
    const done = typeof ctx.query.done === 'string' && Object.hasOwn(NOTICES, ctx.query.done) ? NOTICES[ctx.query.done] : null;
    await show(ctx, signedIn, { notice: done, returnTo: returnToOf(ctx.query.returnTo) });
  });

  router.post('/account/mfa/confirm', form, async (ctx) => {
    const signedIn = await session.forForm(ctx);
    const returnTo = returnToOf(formField(ctx, 'returnTo'));
    const code = cleanCode(formField(ctx, 'code').slice(0, 64));
    if (!isTotpCode(code)) {
      await show(ctx, signedIn, { error: 'Enter the 6-digit code your app shows.', returnTo }, 400);
      return;
    }
    const admission = await limit.admit(signedIn.userId);
    if (!admission.admitted) {
      ctx.set('Retry-After', String(admission.retryAfterSeconds));
      await show(ctx, signedIn, { error: tooManyCodes(admission.retryAfterSeconds), returnTo }, 429);
      return;
    }
    const codes = await totp.confirm(signedIn.userId, code);
    if (!codes) {
      await show(ctx, signedIn, { error: 'That code is not right. Check the time on your phone, and try the next code.', returnTo }, 400);
      return;
    }
    await admission.succeeded();
    ctx.state.log.info({ event: 'mfa_enabled', accountId: signedIn.userId }, 'two-step sign-in turned on');
    await show(ctx, signedIn, { codes, returnTo, notice: 'Two-step sign-in is on.' });
  });

  router.post('/account/mfa/recovery-codes', form, async (ctx) => {
    const signedIn = await session.forForm(ctx);
    if (!(await proven(ctx, signedIn))) return;
    const codes = await recoveryCodes.regenerate(signedIn.userId);
    if (!codes) throw new HttpError(409, 'mfa_not_enabled', 'Two-step sign-in is not on.', 'Not enabled');
    await show(ctx, signedIn, { codes, notice: 'New recovery codes: the old ones no longer work.' });
  });

  router.post('/account/mfa/disable', form, async (ctx) => {
    const signedIn = await session.forForm(ctx);
    if (!(await proven(ctx, signedIn))) return;
    await totp.disable(signedIn.userId);
    ctx.state.log.info({ event: 'mfa_disabled', accountId: signedIn.userId }, 'two-step sign-in turned off');
    ctx.status = 303;
    ctx.redirect('/account/mfa?done=disabled');
  });

  return router;
}

// The pages of the mailed links and the forms that send them: verifying the address, "forgot
// password" and the reset, moving the account to a new address. Thin: the rules are in
// email-flows.ts. A link's GET only shows a button (mail scanners fetch links); its POST spends
// it, with a CSRF token derived from the link, so only a page the hub rendered for that link
// can post it.
import { randomBytes } from 'node:crypto';
import Router from '@koa/router';
import { koaBody } from 'koa-body';
import type { Context } from 'koa';
import type { Csrf } from '../interactions/csrf.js';
import { AccountLinks, type LinkPurpose } from '../accounts/account-links.js';
import { MAX_EMAIL_LENGTH } from '../accounts/email.js';
import { render } from '../http/render.js';
import { HttpError } from '../http/errors.js';
import { formField, type AccountSession } from './signed-in.js';
import type { EmailFlows } from './email-flows.js';
import { tooManyMails, type EmailLimits, type MailForm } from './email-limits.js';

export interface EmailRouteDeps {
  flows: EmailFlows;
  limits: EmailLimits;
  session: AccountSession;
  csrf: Csrf;
  secureCookies: boolean;
}

const formBody = koaBody({ urlencoded: true, json: false, multipart: false, text: false, formLimit: '16kb' });

// The same page for every link that does not work: it does not say whether it was used, expired
// or never issued, nor whose it was.
const invalidLink = () => new HttpError(400, 'invalid_link', 'This link has expired or has already been used. Ask for a new one and use the latest mail.', 'This link no longer works');

// The anonymous "forgot password" form is bound to a random cookie of this browser (SameSite=Lax:
// another site's form post does not carry it).
const FORGOT_COOKIE = 'nexus_forgot';

/** Back to the sign-in a person came from (an interaction's login page), else the hub's own sign-in. */
function signInPage(value: unknown): string {
  return typeof value === 'string' && /^\/interaction\/[A-Za-z0-9_-]{1,64}$/.test(value) ? value : '/account/login';
}

const queryToken = (ctx: Context) => ctx.query.token;

export function emailRoutes({ flows, limits, session, csrf, secureCookies }: EmailRouteDeps) {
  const router = new Router();
  const cookie = { httpOnly: true, sameSite: 'lax' as const, secure: secureCookies, signed: true, maxAge: 60 * 60_000, overwrite: true };

  /** Takes a point from the form's budgets; answers 429 (Retry-After, a readable page) when spent. */
  const admit = async (ctx: Context, form: MailForm, subject: string) => {
    const wait = await limits.wait(form, subject, ctx.ip);
    if (wait === 0) return;
    ctx.set('Retry-After', String(wait));
    throw new HttpError(429, 'too_many_requests', tooManyMails(wait), 'Please wait a little');
  };

  /** A link's page: its button, or the invalid-link page. */
  const linkPage = async (ctx: Context, purpose: LinkPurpose, view: string, locals: Record<string, unknown>) => {
    const token = queryToken(ctx);
    if (!(await flows.linkIsLive(purpose, token))) throw invalidLink();
    await render(ctx, view, { ...locals, token, csrfToken: csrf.token(AccountLinks.formSubject(token)) });
  };

  /** A link's form post: the token it carries, once its CSRF token matches that link. */
  const postedToken = (ctx: Context): string => {
    const token = formField(ctx, 'token');
    if (!csrf.verify(AccountLinks.formSubject(token), formField(ctx, 'csrf'))) throw invalidLink();
    return token;
  };

  // --- verification ---------------------------------------------------------------------------

  router.get('/account/verify', (ctx) => linkPage(ctx, 'verify_email', 'email-step', {
    title: 'Verify your email', heading: 'Verify your email address', lead: 'Confirm that this address is yours to finish setting up your Nexus account.',
    action: '/account/verify', button: 'Verify my email address',
  }));

  router.post('/account/verify', formBody, async (ctx) => {
    const user = await flows.verifyEmail(postedToken(ctx));
    if (!user) throw invalidLink();
    ctx.state.log.info({ event: 'email_verified', accountId: user.id }, 'email address verified');
    await render(ctx, 'email-step', {
      title: 'Email verified', heading: 'Your email address is verified', lead: `${user.email} is confirmed. You can close this page or go back to the application.`,
      status: 'ok', next: { href: '/account', label: 'Go to your account' },
    });
  });

  router.post('/account/verification/resend', formBody, async (ctx) => {
    const signedIn = await session.forForm(ctx);
    await admit(ctx, 'resend', signedIn.userId);
    const email = await flows.resendVerification(signedIn.userId);
    await render(ctx, 'email-step', email
      ? { title: 'Check your mail', heading: 'Check your mail', lead: `We sent a new verification link to ${email}. It works for 24 hours.`, next: { href: '/account', label: 'Back to your account' } }
      : { title: 'Nothing to verify', heading: 'Nothing to verify', lead: 'Your email address is already verified.', status: 'ok', next: { href: '/account', label: 'Back to your account' } });
  });

  // --- forgotten password ---------------------------------------------------------------------

  const forgotBinding = (ctx: Context) => ctx.cookies.get(FORGOT_COOKIE, { signed: true });
  const forgotCsrf = (ctx: Context): string => {
    let binding = forgotBinding(ctx);
    if (!binding) {
      binding = randomBytes(16).toString('base64url');
      ctx.cookies.set(FORGOT_COOKIE, binding, cookie);
    }
    return csrf.token(`forgot:${binding}`);
  };

  const renderForgot = (ctx: Context, locals: { email?: string; error?: string; notice?: string }, status = 200) => render(ctx, 'forgot-password', {
    title: 'Reset your password', action: '/account/forgot', csrfToken: forgotCsrf(ctx), returnTo: signInPage(ctx.query.returnTo ?? formField(ctx, 'returnTo')),
    email: locals.email ?? '', error: locals.error ?? null, notice: locals.notice ?? null,
  }, status);

  router.get('/account/forgot', (ctx) => renderForgot(ctx, {}));

  router.post('/account/forgot', formBody, async (ctx) => {
    const binding = forgotBinding(ctx);
    if (!binding || !csrf.verify(`forgot:${binding}`, formField(ctx, 'csrf'))) {
      throw new HttpError(403, 'invalid_csrf', 'This form has expired. Go back and try again.', 'Form expired');
    }
    const email = formField(ctx, 'email').trim();
    if (!email || email.length > MAX_EMAIL_LENGTH) {
      await renderForgot(ctx, { email: email.slice(0, MAX_EMAIL_LENGTH), error: 'Enter the email address of your account.' }, 400);
      return;
    }
    const wait = await limits.wait('forgot', email, ctx.ip);
    if (wait > 0) {
      ctx.set('Retry-After', String(wait));
      await renderForgot(ctx, { email, error: tooManyMails(wait) }, 429);
      return;
    }
    await flows.forgotPassword(email);
    // The same answer whether or not the address has an account.
    await renderForgot(ctx, { email, notice: `If ${email} belongs to a Nexus account, a link to choose a new password is on its way. It works for 30 minutes.` });
  });

  router.get('/account/reset', (ctx) => linkPage(ctx, 'reset_password', 'reset-password', { title: 'Choose a new password', action: '/account/reset', error: null }));

  router.post('/account/reset', formBody, async (ctx) => {
    const token = postedToken(ctx);
    const result = await flows.resetPassword(token, formField(ctx, 'password'));
    if (!result) throw invalidLink();
    if ('problem' in result) {
      await render(ctx, 'reset-password', { title: 'Choose a new password', action: '/account/reset', token, csrfToken: csrf.token(AccountLinks.formSubject(token)), error: result.problem }, 400);
      return;
    }
    ctx.state.log.info({ event: 'password_reset', accountId: result.user.id }, 'password reset: every session and grant ended');
    await render(ctx, 'email-step', {
      title: 'Password changed', heading: 'Your password is changed', lead: 'You were signed out everywhere. Sign in with your new password.',
      status: 'ok', next: { href: '/account/login', label: 'Sign in' },
    });
  });

  // --- change of address ----------------------------------------------------------------------

  router.post('/account/email', formBody, async (ctx) => {
    const signedIn = await session.forForm(ctx);
    await admit(ctx, 'change', signedIn.userId);
    const result = await flows.requestEmailChange(signedIn.userId, formField(ctx, 'email').slice(0, 1024), formField(ctx, 'password').slice(0, 1024));
    await render(ctx, 'email-step', result.sent
      ? { title: 'Check your mail', heading: 'Confirm your new address', lead: `We sent a link to ${result.email}. Your address changes when you open it (within 24 hours).`, next: { href: '/account', label: 'Back to your account' } }
      : { title: 'Address not changed', heading: 'Your address was not changed', error: result.problem, next: { href: '/account', label: 'Back to your account' } }, result.sent ? 200 : 400);
  });

  router.get('/account/email/confirm', (ctx) => linkPage(ctx, 'change_email', 'email-step', {
    title: 'Confirm your new address', heading: 'Confirm your new email address', lead: 'Your Nexus account will use this address from now on.',
    action: '/account/email/confirm', button: 'Use this address',
  }));

  router.post('/account/email/confirm', formBody, async (ctx) => {
    const result = await flows.confirmEmailChange(postedToken(ctx));
    if (!result) throw invalidLink();
    if (result === 'taken') {
      await render(ctx, 'email-step', {
        title: 'Address in use', heading: 'This address is already in use', lead: 'Another Nexus account uses this address now, so yours kept its address.',
        status: 'warn', next: { href: '/account', label: 'Go to your account' },
      }, 409);
      return;
    }
    ctx.state.log.info({ event: 'email_changed', accountId: result.id }, 'email address changed');
    await render(ctx, 'email-step', {
      title: 'Address changed', heading: 'Your email address is changed', lead: `Your Nexus account now uses ${result.email}.`,
      status: 'ok', next: { href: '/account', label: 'Go to your account' },
    });
  });

  return router;
}

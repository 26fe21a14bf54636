// The account center's "Password & sessions" page (/account/security): change the password, see
// every browser signed in to the account, sign one out or all the others. Thin: the rules are in
// Users and HubSessions; the login throttle counts a wrong current password like a failed login.
import Router from '@koa/router';
import { koaBody } from 'koa-body';
import type { Context } from 'koa';
import type { Users } from '../accounts/users.js';
import type { HubSessions } from '../accounts/hub-sessions.js';
import { passwordProblem } from '../accounts/passwords.js';
import type { LoginThrottle } from '../security/login-throttle.js';
import { render } from '../http/render.js';
import { HttpError } from '../http/errors.js';
import { formField, type AccountSession, type SignedIn } from './signed-in.js';

export interface SecurityRouteDeps {
  session: AccountSession;
  users: Users;
  sessions: HubSessions;
  throttle: LoginThrottle;
}

/** What the page says after a redirect (a query value, never text from the URL itself). */
const NOTICES: Record<string, string> = {
  password: 'Your password was changed. Every other browser was signed out.',
  'signed-out': 'That browser was signed out.',
  'signed-out-others': 'Every other browser was signed out.',
};

const form = koaBody({ urlencoded: true, json: false, multipart: false, text: false, formLimit: '16kb' });

const when = (date: Date | null) => date?.toLocaleString('en-GB', {
  day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC', timeZoneName: 'short',
}) ?? null;

export function securityRoutes({ session, users, sessions, throttle }: SecurityRouteDeps) {
  const router = new Router();

  const show = async (ctx: Context, signedIn: SignedIn, messages: { error?: string; notice?: string | null } = {}, status = 200) => {
    // This browser first, then the others as the list has them (most recently active first).
    const browsers = (await sessions.list(signedIn.userId)).sort((a, b) => Number(b.sessionId === signedIn.sessionId) - Number(a.sessionId === signedIn.sessionId));
    await render(ctx, 'account-security', {
      title: 'Password & sessions',
      section: 'security',
      csrfToken: session.csrfToken(signedIn),
      error: messages.error ?? null,
      notice: messages.notice ?? null,
      browsers: browsers.map((b) => ({
        uid: b.uid, device: b.device, ip: b.ip, signedIn: when(b.signedInAt), lastSeen: when(b.lastSeenAt), current: b.sessionId === signedIn.sessionId,
      })),
    }, status);
  };

  router.get('/account/security', async (ctx) => {
    const signedIn = await session.forPage(ctx);
    if (!signedIn) return;
    const done = typeof ctx.query.done === 'string' && Object.hasOwn(NOTICES, ctx.query.done) ? NOTICES[ctx.query.done] : null;
    await show(ctx, signedIn, { notice: done });
  });

  router.post('/account/password', form, async (ctx) => {
    const signedIn = await session.forForm(ctx);
    const user = await users.findById(signedIn.userId);
    if (!user) throw new HttpError(401, 'login_required', 'Sign in to your Nexus account first.', 'Sign-in required');
    const current = formField(ctx, 'current').slice(0, 1024);
    const next = formField(ctx, 'password');
    // Refused before the throttle and bcrypt: a form error is no guess at the current password.
    const problem = !current ? 'Enter your current password.' : passwordProblem(next);
    if (problem) {
      await show(ctx, signedIn, { error: problem }, 400);
      return;
    }
    const admission = await throttle.admitLogin(user.email, ctx.ip);
    if (!admission.admitted) {
      const wait = admission.retryAfterSeconds;
      ctx.set('Retry-After', String(wait));
      await show(ctx, signedIn, { error: `Too many wrong passwords. Try again in ${Math.ceil(wait / 60)} minute(s).` }, 429);
      return;
    }
    let changed;
    try {
      changed = await users.changePassword(user.id, current, next, signedIn.sessionId);
    } catch (error) {
      // Not a wrong guess (e.g. the password workers are saturated): not counted against the user.
      await admission.withdraw();
      throw error;
    }
    if (!changed) {
      ctx.state.log.info({ event: 'password_change_failed', accountId: user.id }, 'password change refused: wrong current password');
      await show(ctx, signedIn, { error: 'Your current password is not right.' }, 401);
      return;
    }
    await admission.succeeded();
    ctx.state.log.info({ event: 'password_changed', accountId: user.id }, 'password changed');
    ctx.status = 303;
    ctx.redirect('/account/security?done=password');
  });

  router.post('/account/sessions/revoke-others', form, async (ctx) => {
    const signedIn = await session.forForm(ctx);
    await sessions.revokeOthers(signedIn.userId, signedIn.sessionId, { type: 'user', id: signedIn.userId });
    ctx.status = 303;
    ctx.redirect('/account/security?done=signed-out-others');
  });

  router.post('/account/sessions/:uid/revoke', form, async (ctx) => {
    const signedIn = await session.forForm(ctx);
    // Someone else's session is answered like one that does not exist.
    if (!(await sessions.revoke(signedIn.userId, ctx.params.uid, { type: 'user', id: signedIn.userId }))) {
      throw new HttpError(404, 'not_found', 'This browser is not signed in to your account (any more).', 'Not found');
    }
    ctx.status = 303;
    ctx.redirect('/account/security?done=signed-out');
  });

  return router;
}

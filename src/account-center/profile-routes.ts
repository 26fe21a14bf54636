// The account center's front page (/account): the profile (name, avatar URL), the email block
// and the plan box. Thin: the rules are in Users and the billing library.
import Router from '@koa/router';
import { koaBody } from 'koa-body';
import type { Context } from 'koa';
import { UserError, type Users } from '../accounts/users.js';
import type { Billing } from '../billing/billing.js';
import type { Subscriptions } from '../billing/subscriptions.js';
import { planBox } from '../billing/plan-box.js';
import { render } from '../http/render.js';
import { HttpError } from '../http/errors.js';
import { formFields, type AccountSession, type SignedIn } from './signed-in.js';

export interface ProfileRouteDeps {
  session: AccountSession;
  users: Users;
  billing: Billing;
  subscriptions: Subscriptions;
}

/** What the page says after a redirect back to it: fixed texts, nothing of the URL is shown. */
function noticeOf(query: Context['query']): string | null {
  if (query.saved === 'profile') return 'Your profile was saved.';
  if (query.checkout === 'success') return 'Thanks! Your plan will update in a moment.';
  if (query.checkout === 'changed') return 'Your plan was changed.';
  return null;
}

// Large enough for a refused 10 KB avatar URL to get its own message, not a bare 413.
const form = koaBody({ urlencoded: true, json: false, multipart: false, text: false, formLimit: '32kb' });

interface ProfileMessages {
  error?: string | null;
  notice?: string | null;
  /** What the user typed, shown again with an error. */
  typed?: { name: string; avatarUrl: string };
}

/** Renders /account for the signed-in user. */
function profilePage({ users, billing, subscriptions, session }: ProfileRouteDeps) {
  return async (ctx: Context, signedIn: SignedIn, messages: ProfileMessages = {}, status = 200) => {
    const user = await users.findById(signedIn.userId);
    if (!user) {
      ctx.redirect('/account/login');
      return;
    }
    await render(ctx, 'account', {
      title: 'Your account',
      section: 'profile',
      user: { email: user.email, emailVerified: user.emailVerified, name: user.fullName, avatarUrl: user.avatarUrl },
      typed: messages.typed ?? { name: user.fullName ?? '', avatarUrl: user.avatarUrl ?? '' },
      csrfToken: session.csrfToken(signedIn),
      error: messages.error ?? null,
      notice: messages.notice ?? null,
      ...await planBox(billing, subscriptions, user.id),
      logoutUrl: '/session/end',
    }, status);
  };
}

export function profileRoutes(deps: ProfileRouteDeps) {
  const { session, users } = deps;
  const show = profilePage(deps);
  const router = new Router();

  router.get('/account', async (ctx) => {
    const signedIn = await session.forPage(ctx);
    if (!signedIn) return;
    await show(ctx, signedIn, { notice: noticeOf(ctx.query) });
  });

  router.post('/account/profile', form, async (ctx) => {
    const signedIn = await session.forForm(ctx);
    // The page always sends both: a missing or repeated field must not read as "clear it".
    const typed = formFields(ctx, ['name', 'avatarUrl'] as const);
    if (!typed) throw new HttpError(400, 'invalid_request', 'Send the profile form with one name and one avatar URL.', 'Bad request');
    try {
      await users.updateProfile(signedIn.userId, { fullName: typed.name, avatarUrl: typed.avatarUrl });
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      if (error.code === 'not_found') throw new HttpError(401, 'login_required', 'Sign in to your Nexus account first.', 'Sign-in required');
      await show(ctx, signedIn, { error: error.message, typed }, 400);
      return;
    }
    ctx.status = 303;
    ctx.redirect('/account?saved=profile');
  });

  return router;
}

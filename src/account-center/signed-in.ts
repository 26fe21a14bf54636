// Who is using the account center: the person signed in to the hub itself (oidc-provider's
// session cookie), and the CSRF token that binds every form of these pages to that session.
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Csrf } from '../interactions/csrf.js';
import { HttpError } from '../http/errors.js';
import { hubAccountId, hubSessionId } from '../http/hub-session.js';

export interface SignedIn {
  userId: string;
  /** oidc-provider's Session id (the cookie value): the CSRF binding. */
  sessionId: string;
}

/** A string field of a parsed form, or '' (absent, repeated or not text). */
export function formField(ctx: Context, name: string): string {
  const value = (ctx.request as { body?: Record<string, unknown> }).body?.[name];
  return typeof value === 'string' ? value : '';
}

/**
 * Several fields a form always sends, each exactly once as text; undefined when one is missing
 * or repeated, so a hostile post cannot turn a field into its default ('' often means "none").
 */
export function formFields<Name extends string>(ctx: Context, names: readonly Name[]): Record<Name, string> | undefined {
  const body = (ctx.request as { body?: Record<string, unknown> }).body ?? {};
  if (!names.every((name) => typeof body[name] === 'string')) return undefined;
  return Object.fromEntries(names.map((name) => [name, body[name]])) as Record<Name, string>;
}

export class AccountSession {
  constructor(private readonly provider: () => Provider, private readonly csrf: Csrf) {}

  async current(ctx: Context): Promise<SignedIn | undefined> {
    const sessionId = hubSessionId(ctx);
    const userId = sessionId ? await hubAccountId(ctx, this.provider()) : undefined;
    return sessionId && userId ? { sessionId, userId } : undefined;
  }

  /** The signed-in user of a page, or a redirect to the hub's sign-in that comes back here. */
  async forPage(ctx: Context): Promise<SignedIn | undefined> {
    const signedIn = await this.current(ctx);
    if (!signedIn) ctx.redirect(`/account/login?returnTo=${encodeURIComponent(ctx.url)}`);
    return signedIn;
  }

  csrfToken(signedIn: SignedIn): string {
    return this.csrf.token(`account:${signedIn.sessionId}`);
  }

  /** A form post of these pages: signed in, with this session's CSRF token in the `csrf` field. */
  async forForm(ctx: Context): Promise<SignedIn> {
    const signedIn = await this.current(ctx);
    if (!signedIn) throw new HttpError(401, 'login_required', 'Sign in to your Nexus account first.', 'Sign-in required');
    if (!this.csrf.verify(`account:${signedIn.sessionId}`, formField(ctx, 'csrf'))) {
      throw new HttpError(403, 'invalid_csrf', 'This form has expired. Go back and try again.', 'Form expired');
    }
    return signedIn;
  }
}

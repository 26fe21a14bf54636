// Who may use the console: a person signed in to the hub (the same session the account pages
// read) who holds the admin role in the hub project (the client with the hub audience,
// `nexus-console`), checked against the database on every request like requireHubAdmin does.
// Signing in runs an ordinary authorization request of the `nexus-console` client through the
// login page; its forms carry a CSRF token bound to the hub session and to the console.
import type { Context } from 'koa';
import { ClientError, type ClientRegistry } from '../clients/registry.js';
import type { AdminOperations } from '../admin/operations.js';
import { SYSTEM_ACTOR } from '../accounts/identity-events.js';
import { HUB_AUDIENCE, redirectUriProblem } from '../clients/definition.js';
import type { ProjectAccess } from '../accounts/access.js';
import type { Users, User } from '../accounts/users.js';
import type { Csrf } from '../interactions/csrf.js';
import { formField, type AccountSession } from '../account-center/signed-in.js';
import type { Actor } from '../events/event.js';
import { HttpError } from '../http/errors.js';
import { render } from '../http/render.js';
import { selfSignInRoutes } from '../http/self-sign-in.js';

export const CONSOLE_CLIENT_ID = 'nexus-console';
const STATE_COOKIE = 'nexus_console_signin';
const MAX_RETURN_TO = 2048;

export interface ConsoleAdmin {
  user: User;
  sessionId: string;
  /** How the console's changes name their author in events and the audit log. */
  actor: Actor;
  csrfToken: string;
}

/**
 * The console's own callback joins the redirect URIs of `nexus-console` (clients.json holds the
 * CLI's loopback one). Checked at each console sign-in rather than once at start: `nexus clients
 * sync` puts the file's URIs back, and the next sign-in adds the callback again. Through
 * AdminOperations, so every instance reloads the client at once.
 */
async function ensureConsoleCallback(ops: AdminOperations, callback: string): Promise<void> {
  if (redirectUriProblem(callback)) {
    throw new HttpError(503, 'console_unavailable', 'The console needs an https issuer (or localhost).', 'Console unavailable');
  }
  const client = await ops.getClient(CONSOLE_CLIENT_ID).catch((error) => {
    if (error instanceof ClientError && error.code === 'not_found') {
      throw new HttpError(503, 'console_unavailable', 'The console client (nexus-console) is not registered: run `nexus clients sync`.', 'Console unavailable');
    }
    throw error;
  });
  if (!client.redirectUris.includes(callback)) await ops.updateClient(CONSOLE_CLIENT_ID, { redirectUris: [...client.redirectUris, callback] }, SYSTEM_ACTOR);
}

/** A console path to come back to after signing in; anything else is the dashboard. */
function safeReturnTo(value: unknown): string {
  return typeof value === 'string' && value.length <= MAX_RETURN_TO && /^\/console(?:[/?][^\x00-\x1f\x7f\\]*)?$/.test(value) && !value.includes('//') ? value : '/console';
}

export class ConsoleSession {
  constructor(
    private readonly deps: { account: AccountSession; csrf: Csrf; access: ProjectAccess; users: Users; clients: ClientRegistry },
  ) {}

  private async admin(ctx: Context): Promise<ConsoleAdmin | 'anonymous' | 'refused'> {
    const signedIn = await this.deps.account.current(ctx);
    if (!signedIn) return 'anonymous';
    const [user, hub] = await Promise.all([
      this.deps.users.findById(signedIn.userId),
      this.deps.clients.list().then((clients) => clients.find((client) => client.audience === HUB_AUDIENCE)),
    ]);
    if (!user || user.disabledAt || !hub || (await this.deps.access.roleFor(user.id, hub)) !== 'admin') return 'refused';
    return {
      user, sessionId: signedIn.sessionId, actor: { type: 'admin', id: user.email },
      csrfToken: this.deps.csrf.token(`console:${signedIn.sessionId}`),
    };
  }

  /** A page's administrator; otherwise the sign-in (anonymous) or a 403 page, and undefined. */
  async forPage(ctx: Context): Promise<ConsoleAdmin | undefined> {
    const admin = await this.admin(ctx);
    if (admin === 'anonymous') ctx.redirect(`/console/login?returnTo=${encodeURIComponent(ctx.url)}`);
    else if (admin === 'refused') await refuse(ctx);
    else return admin;
    return undefined;
  }

  /** A form post: an administrator, with this session's console CSRF token in `csrf`. */
  async forForm(ctx: Context): Promise<ConsoleAdmin | undefined> {
    const admin = await this.admin(ctx);
    if (admin === 'anonymous') throw new HttpError(401, 'login_required', 'Sign in to the console first.', 'Sign-in required');
    if (admin === 'refused') {
      await refuse(ctx);
      return undefined;
    }
    if (!this.deps.csrf.verify(`console:${admin.sessionId}`, formField(ctx, 'csrf'))) {
      throw new HttpError(403, 'invalid_csrf', 'This form has expired. Go back and try again.', 'Form expired');
    }
    return admin;
  }
}

async function refuse(ctx: Context) {
  await render(ctx, 'console/refused', { title: 'Administrators only' }, 403);
}

/** /console/login and /console/callback: the sign-in through the `nexus-console` client. */
export function consoleSignInRoutes(issuer: string, secureCookies: boolean, ops: AdminOperations) {
  return selfSignInRoutes(issuer, secureCookies, {
    base: '/console', clientId: CONSOLE_CLIENT_ID, stateCookie: STATE_COOKIE, safeReturnTo,
    beforeSignIn: () => ensureConsoleCallback(ops, `${issuer}/console/callback`),
    deniedCode: () => 'access_denied',
  });
}

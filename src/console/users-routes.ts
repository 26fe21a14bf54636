// /console/users: search, one user's page (access, plan, sessions, API keys, second factors) and
// its actions: disable/enable, password reset mail, second factors reset, grant/revoke, plan.
import Router from '@koa/router';
import type { AdminOperations } from '../admin/operations.js';
import type { HubSessions } from '../accounts/hub-sessions.js';
import type { Actor } from '../events/event.js';
import { PLAN_ORDER } from '../billing/plans.js';
import { formFields } from '../account-center/signed-in.js';
import { attempt, consoleForm, doneNotice, doneRedirect, PAGE_SIZE, queryText, showPage, when } from './page.js';
import type { ConsoleSession } from './session.js';

export interface UsersRouteDeps {
  session: ConsoleSession;
  ops: AdminOperations;
  sessions: HubSessions;
}

const DONE = {
  disabled: 'The user is disabled: their sessions and tokens have ended.',
  enabled: 'The user can sign in again.',
  'reset-mail': 'A password reset link is on its way to the user.',
  'mfa-reset': 'The user’s second factors were removed; they were told by mail.',
  granted: 'Access granted.',
  revoked: 'Access revoked.',
  plan: 'The plan was set.',
};

const userPath = (email: string) => `/console/users/${encodeURIComponent(email)}`;

export function usersRoutes({ session, ops, sessions }: UsersRouteDeps) {
  const router = new Router();

  router.get('/console/users', async (ctx) => {
    const admin = await session.forPage(ctx);
    if (!admin) return;
    const search = queryText(ctx, 'q').slice(0, 200);
    const users = await attempt(() => ops.listUsers(search || undefined));
    await showPage(ctx, admin, 'users', {
      title: 'Users', section: 'users', search, total: users.length,
      users: users.slice(0, PAGE_SIZE).map((user) => ({ email: user.email, name: user.fullName, disabled: Boolean(user.disabledAt), created: when(user.createdAt) })),
    });
  });

  router.get('/console/users/:email', async (ctx) => {
    const admin = await session.forPage(ctx);
    if (!admin) return;
    const { user, access, apiKeys } = await attempt(() => ops.getUser(ctx.params.email));
    const [plan, browsers, projects] = await Promise.all([
      ops.getPlan(user.email), sessions.list(user.id), ops.listClients(),
    ]);
    await showPage(ctx, admin, 'user', {
      title: user.email, section: 'users', notice: doneNotice(ctx, DONE), path: userPath(user.email),
      user: {
        email: user.email, name: user.fullName, disabled: Boolean(user.disabledAt), verified: Boolean(user.emailVerified),
        created: when(user.createdAt), totp: user.hasTotp === true, passkeys: user.hasPasskeys === true,
      },
      access: access.map((grant) => ({ project: grant.project, role: grant.role, source: grant.source })),
      plan: { id: plan.plan, status: plan.status },
      sessions: browsers.map((browser) => ({ device: browser.device, ip: browser.ip, signedIn: when(browser.signedInAt), lastSeen: when(browser.lastSeenAt) })),
      apiKeys: apiKeys.map((key) => ({ id: key.id, name: key.name, prefix: key.prefix, revoked: Boolean(key.revokedAt), lastUsed: when(key.lastUsedAt) })),
      projects: projects.map((project) => project.id), plans: PLAN_ORDER,
    });
  });

  // One form per action, posting only its own fields, each exactly once; back to the user's page
  // with what was done (`done`), under the address the operation answers (it may normalise it).
  type Work = (email: string, values: Record<string, string>, actor: Actor) => Promise<{ email?: string } | unknown>;
  const action = (name: string, done: keyof typeof DONE, fields: readonly string[], work: Work) => {
    router.post(`/console/users/:email/${name}`, consoleForm, async (ctx) => {
      const admin = await session.forForm(ctx);
      if (!admin) return;
      const values = formFields(ctx, fields);
      if (!values) {
        await showPage(ctx, admin, 'invalid', { title: 'Not done', section: 'users', back: userPath(ctx.params.email) }, 400);
        return;
      }
      const result = await attempt(() => work(ctx.params.email, values, admin.actor));
      doneRedirect(ctx, userPath((result as { email?: string } | undefined)?.email ?? ctx.params.email), done);
    });
  };
  action('disabled', 'disabled', [], (email, _values, actor) => ops.disableUser(email, actor));
  action('enabled', 'enabled', [], (email, _values, actor) => ops.enableUser(email, actor));
  action('reset-mail', 'reset-mail', [], (email) => ops.mailPasswordReset(email));
  action('mfa-reset', 'mfa-reset', [], async (email, _values, actor) => (await ops.resetMfa(email, actor)).user);
  action('access', 'granted', ['project', 'role'], (email, { project, role }, actor) => ops.grantAccess(email, project, role, actor).then(() => undefined));
  action('revoked', 'revoked', ['project'], (email, { project }, actor) => ops.revokeAccess(email, project, actor));
  action('plan', 'plan', ['plan'], (email, { plan }, actor) => ops.setPlan(email, plan, actor));

  return router;
}

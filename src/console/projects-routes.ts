// /console/projects: the registered clients (redirect URIs, upstream, state), enable/disable,
// and secret rotation with a grace period. The new secret is shown once, on the answer page
// (render sends it no-store), never in a URL or a log.
import Router from '@koa/router';
import type { AdminOperations } from '../admin/operations.js';
import { formFields } from '../account-center/signed-in.js';
import { attempt, consoleForm, doneNotice, doneRedirect, showPage, when } from './page.js';
import type { ConsoleSession } from './session.js';

/** The grace periods the rotation form offers (parseGrace's syntax). */
export const GRACES = [
  { value: '0', label: 'None: the old secret stops at once' },
  { value: '1h', label: '1 hour' },
  { value: '24h', label: '24 hours' },
  { value: '7d', label: '7 days' },
];

const DONE: Record<string, string> = { enabled: 'The project is enabled.', disabled: 'The project is disabled: its tokens no longer work.' };

export function projectsRoutes({ session, ops }: { session: ConsoleSession; ops: AdminOperations }) {
  const router = new Router();

  router.get('/console/projects', async (ctx) => {
    const admin = await session.forPage(ctx);
    if (!admin) return;
    const clients = await ops.listClients();
    await showPage(ctx, admin, 'projects', {
      title: 'Projects', section: 'projects', notice: doneNotice(ctx, DONE), graces: GRACES, rotated: null,
      projects: clients.map((client) => ({
        id: client.id, name: client.name, enabled: client.enabled, public: client.public, redirectUris: client.redirectUris,
        upstream: client.upstream ?? null, access: client.access, graceUntil: when(client.rotationGraceUntil),
      })),
    });
  });

  for (const [name, enabled] of [['enable', true], ['disable', false]] as const) {
    router.post(`/console/projects/:id/${name}`, consoleForm, async (ctx) => {
      const admin = await session.forForm(ctx);
      if (!admin) return;
      const { id } = await attempt(() => ops.getClient(ctx.params.id));
      await attempt(() => ops.setClientEnabled(id, enabled, admin.actor));
      doneRedirect(ctx, '/console/projects', enabled ? 'enabled' : 'disabled');
    });
  }

  router.post('/console/projects/:id/rotate-secret', consoleForm, async (ctx) => {
    const admin = await session.forForm(ctx);
    if (!admin) return;
    const typed = formFields(ctx, ['grace'] as const);
    if (!typed || !GRACES.some((grace) => grace.value === typed.grace)) {
      await showPage(ctx, admin, 'invalid', { title: 'Not done', section: 'projects', back: '/console/projects' }, 400);
      return;
    }
    // Looked up first: a path that names no project (a NUL byte…) is a 404 before any lock is taken.
    const project = await attempt(() => ops.getClient(ctx.params.id));
    const { id, secret, rotationGraceUntil } = await attempt(() => ops.rotateClientSecret(project.id, admin.actor, typed.grace));
    await showPage(ctx, admin, 'secret', { title: 'New client secret', section: 'projects', id, secret, graceUntil: when(rotationGraceUntil) });
  });

  return router;
}

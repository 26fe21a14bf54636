// /console/keys (the hub's signing keys: rotate, retire) and /console/api-keys (every user's
// API keys: search by owner, revoke).
import Router from '@koa/router';
import type { AdminOperations } from '../admin/operations.js';
import { attempt, consoleForm, doneNotice, doneRedirect, PAGE_SIZE, queryText, showPage, when } from './page.js';
import type { ConsoleSession } from './session.js';

const KEY_DONE: Record<string, string> = {
  rotated: 'A new signing key signs from now on; the previous one still verifies.',
  retired: 'The key is retired: tokens it signed no longer verify.',
};

export function keysRoutes({ session, ops }: { session: ConsoleSession; ops: AdminOperations }) {
  const router = new Router();

  router.get('/console/keys', async (ctx) => {
    const admin = await session.forPage(ctx);
    if (!admin) return;
    const keys = await ops.listKeys();
    await showPage(ctx, admin, 'keys', {
      title: 'Signing keys', section: 'keys', notice: doneNotice(ctx, KEY_DONE),
      keys: keys.map((key) => ({ kid: key.kid, use: key.use, alg: key.alg, current: key.current, created: when(key.createdAt), retired: when(key.retiredAt) })),
    });
  });

  router.post('/console/keys/rotate', consoleForm, async (ctx) => {
    if (!(await session.forForm(ctx))) return;
    await attempt(() => ops.rotateKeys());
    doneRedirect(ctx, '/console/keys', 'rotated');
  });

  router.post('/console/keys/:kid/retire', consoleForm, async (ctx) => {
    if (!(await session.forForm(ctx))) return;
    await attempt(() => ops.retireKey(ctx.params.kid));
    doneRedirect(ctx, '/console/keys', 'retired');
  });

  router.get('/console/api-keys', async (ctx) => {
    const admin = await session.forPage(ctx);
    if (!admin) return;
    const owner = queryText(ctx, 'email').slice(0, 320);
    const keys = (await attempt(() => ops.listApiKeys(owner || undefined))).reverse();
    await showPage(ctx, admin, 'api-keys', {
      title: 'API keys', section: 'api-keys', owner, total: keys.length,
      notice: doneNotice(ctx, { revoked: 'The key was revoked: it no longer works anywhere.' }),
      keys: keys.slice(0, PAGE_SIZE).map((key) => ({
        id: key.id, email: key.email, name: key.name, env: key.env, prefix: key.prefix, revoked: Boolean(key.revokedAt),
        lastUsed: when(key.lastUsedAt), expires: when(key.expiresAt),
      })),
    });
  });

  router.post('/console/api-keys/:id/revoke', consoleForm, async (ctx) => {
    const admin = await session.forForm(ctx);
    if (!admin) return;
    await attempt(() => ops.revokeApiKey(ctx.params.id, admin.actor));
    doneRedirect(ctx, '/console/api-keys', 'revoked');
  });

  return router;
}

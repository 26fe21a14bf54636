// The user's own API keys (/account/keys): list, create (the key is shown once, on the answer
// page only: never in a URL, never logged) and revoke. Thin over ApiKeys, like `nexus apikeys`.
import Router from '@koa/router';
import { koaBody } from 'koa-body';
import type { Context } from 'koa';
import { API_KEY_ENVIRONMENTS, ApiKeyError, type ApiKeyInfo, type ApiKeys } from '../accounts/api-keys.js';
import { render } from '../http/render.js';
import { HttpError } from '../http/errors.js';
import { formFields, type AccountSession, type SignedIn } from './signed-in.js';

export interface KeysRouteDeps {
  session: AccountSession;
  apiKeys: ApiKeys;
}

/** Usable (neither revoked nor expired) keys one user may hold: a leaked session cannot mint thousands. */
export const MAX_USABLE_KEYS = 25;

/** The lifetimes the page offers; '' never expires. */
const EXPIRIES = [
  { value: '7d', label: '7 days' },
  { value: '30d', label: '30 days' },
  { value: '90d', label: '90 days' },
  { value: '365d', label: '1 year' },
  { value: '', label: 'Never' },
];
const DEFAULT_EXPIRY = '90d';

const form = koaBody({ urlencoded: true, json: false, multipart: false, text: false, formLimit: '8kb' });

const day = (date: Date | null) => date?.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' }) ?? null;

function row(key: ApiKeyInfo, now: Date) {
  const status = key.revokedAt ? 'revoked' : key.expiresAt && key.expiresAt <= now ? 'expired' : 'active';
  return {
    id: key.id, name: key.name, env: key.env, prefix: key.prefix, status,
    created: day(key.createdAt), lastUsed: day(key.lastUsedAt), expires: day(key.expiresAt), revoked: day(key.revokedAt),
  };
}

export function keysRoutes({ session, apiKeys }: KeysRouteDeps) {
  const router = new Router();

  const show = async (ctx: Context, signedIn: SignedIn, extra: { error?: string; notice?: string; created?: { key: string; name: string }; typed?: Record<string, string> } = {}, status = 200) => {
    const now = new Date();
    const keys = (await apiKeys.list(signedIn.userId)).map((key) => row(key, now)).reverse();
    await render(ctx, 'account-keys', {
      title: 'API keys', section: 'keys', csrfToken: session.csrfToken(signedIn), keys, environments: API_KEY_ENVIRONMENTS, expiries: EXPIRIES,
      typed: extra.typed ?? { name: '', env: 'live', expires: DEFAULT_EXPIRY }, error: extra.error ?? null, notice: extra.notice ?? null,
      created: extra.created ?? null, maxKeys: MAX_USABLE_KEYS,
    }, status);
  };

  router.get('/account/keys', async (ctx) => {
    const signedIn = await session.forPage(ctx);
    if (!signedIn) return;
    await show(ctx, signedIn, { notice: ctx.query.revoked === '1' ? 'The key was revoked: it no longer works anywhere.' : undefined });
  });

  router.post('/account/keys', form, async (ctx) => {
    const signedIn = await session.forForm(ctx);
    // Each field once: a repeated `expires` must not read as '' (never expires).
    const typed = formFields(ctx, ['name', 'env', 'expires'] as const);
    if (!typed || !EXPIRIES.some((expiry) => expiry.value === typed.expires)) {
      await show(ctx, signedIn, { error: 'Give the key a name, an environment and one of the lifetimes offered.', typed: typed ?? undefined }, 400);
      return;
    }
    try {
      const { key, info } = await apiKeys.create(
        { userId: signedIn.userId, name: typed.name, env: typed.env, expiresIn: typed.expires || undefined, maxUsable: MAX_USABLE_KEYS },
        { type: 'user', id: signedIn.userId },
      );
      // The answer page is the one place the key is shown: render sends it with no-store.
      await show(ctx, signedIn, { created: { key, name: info.name } });
    } catch (error) {
      if (!(error instanceof ApiKeyError)) throw error;
      const message = error.message[0].toUpperCase() + error.message.slice(1);
      await show(ctx, signedIn, { error: message.endsWith('.') ? message : `${message}.`, typed }, error.code === 'too_many_keys' ? 409 : 400);
    }
  });

  router.post('/account/keys/:id/revoke', form, async (ctx) => {
    const signedIn = await session.forForm(ctx);
    try {
      await apiKeys.revoke(ctx.params.id, { type: 'user', id: signedIn.userId }, signedIn.userId);
    } catch (error) {
      if (error instanceof ApiKeyError && error.code === 'not_found') throw new HttpError(404, 'not_found', 'There is no such API key in your account.', 'Not found');
      throw error;
    }
    ctx.status = 303;
    ctx.redirect('/account/keys?revoked=1');
  });

  return router;
}

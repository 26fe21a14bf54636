// The person signed in to the hub itself (oidc-provider's session cookie), for the hub's own
// pages such as /account. The cookie is signed with the hub's cookie keys.
import type { Context } from 'koa';
import type Provider from 'oidc-provider';

const SESSION_COOKIE = '_session';

export async function hubAccountId(ctx: Context, provider: Provider): Promise<string | undefined> {
  const id = ctx.cookies.get(SESSION_COOKIE, { signed: true });
  if (!id) return undefined;
  const session = await provider.Session.find(id);
  return session?.accountId ?? undefined;
}

/** The id of the hub session itself, for binding CSRF tokens of the hub's own forms. */
export function hubSessionId(ctx: Context): string | undefined {
  return ctx.cookies.get(SESSION_COOKIE, { signed: true }) ?? undefined;
}

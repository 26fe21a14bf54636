// Koa: `app.use(nexusKoa({ issuer, audience }))`, then `ctx.state.nexus` is the Principal.
// Guards thrown inside later middleware (requireScope, ...) are answered here too.
import { NexusAuthError } from '../errors.js';
import type { Principal } from '../principal.js';
import { denial, extractToken, toVerifier, type ProtectOptions, type VerifierInput } from './shared.js';

interface KoaLikeContext {
  path: string;
  url: string;
  method: string;
  status: number;
  body: unknown;
  state: Record<string, unknown>;
  get(name: string): string;
  set(name: string, value: string): void;
}

export function nexusKoa(verifier: VerifierInput, options: ProtectOptions = {}) {
  const v = toVerifier(verifier);
  return async function nexusAuth(ctx: KoaLikeContext, next: () => Promise<unknown>) {
    try {
      // A token just refreshed by signInKoa is newer than the one in the request's cookie.
      const refreshed = typeof ctx.state.nexusAccessToken === 'string' ? ctx.state.nexusAccessToken : undefined;
      const token = extractToken(ctx.get('authorization'), undefined) ?? refreshed ?? extractToken(undefined, ctx.get('cookie'));
      ctx.state.nexus = await v.verify(token ?? '') satisfies Principal;
      await next();
    } catch (error) {
      if (!(error instanceof NexusAuthError)) throw error;
      const answer = denial(error, ctx, options);
      ctx.status = answer.status;
      for (const [name, value] of Object.entries(answer.headers)) ctx.set(name, value);
      // Assigning undefined would turn the redirect into a 204.
      if (answer.body !== undefined) ctx.body = answer.body;
    }
  };
}

// Signing in with a passkey during an authorization: passwordless from the sign-in page, or as
// the second factor after a password (SecondFactorStep). JSON for /assets/passkeys.js: the
// interaction's CSRF token in the body, and the URL to go on to in the answer (a redirect would be
// followed by fetch itself, across origins, to the project).
import Router from '@koa/router';
import { koaBody } from 'koa-body';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Users } from '../accounts/users.js';
import { PasskeyError, passwordlessAuthentication, type Passkeys } from '../mfa/passkeys.js';
import type { SecondFactorStep } from '../mfa/second-factor.js';
import { HttpError } from '../http/errors.js';
import type { Csrf } from './csrf.js';

export interface PasskeyRouteDeps {
  provider: () => Provider;
  users: Users;
  csrf: Csrf;
  passkeys: Passkeys;
  secondFactor: SecondFactorStep;
}

const json = koaBody({ urlencoded: false, json: true, multipart: false, text: false, jsonLimit: '32kb' });

const body = (ctx: Context) => {
  const value = (ctx.request as { body?: unknown }).body;
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : {};
};

/** A refusal the script shows as it is; never a 5xx for what the browser sent. */
function refuse(ctx: Context, status: number, error: string) {
  ctx.status = status;
  ctx.body = { error };
}

export function passkeyRoutes({ provider, users, csrf, passkeys, secondFactor }: PasskeyRouteDeps) {
  const router = new Router({ prefix: '/interaction/:uid/passkey' });

  /** The interaction of this browser, with the CSRF token of its page checked. */
  const interactionOf = async (ctx: Context) => {
    if (!csrf.verify(ctx.params.uid, body(ctx).csrf)) throw new HttpError(403, 'invalid_csrf', 'This page has expired. Reload it and try again.', 'Form expired');
    const interaction = await provider().interactionDetails(ctx.req, ctx.res);
    if (interaction.uid !== ctx.params.uid) throw new HttpError(400, 'session_not_found', 'This sign-in does not belong to this browser. Go back to the application and sign in again.', 'This sign-in has expired');
    if (interaction.prompt.name !== 'login') throw new HttpError(400, 'invalid_request', 'You are already signed in. Go back to the application.', 'Already signed in');
    ctx.set('Cache-Control', 'no-store');
    return interaction;
  };

  // Passwordless on the sign-in page (any passkey of this site), or only the passkeys of the
  // account whose password was just verified.
  router.post('/options', json, async (ctx) => {
    const interaction = await interactionOf(ctx);
    ctx.body = await passkeys.authenticationOptions(secondFactor.signingIn(interaction)?.accountId ?? null);
  });

  router.post('/login', json, async (ctx) => {
    const interaction = await interactionOf(ctx);
    let signIn;
    try {
      signIn = await passkeys.authenticate(body(ctx).credential, null);
    } catch (error) {
      if (!(error instanceof PasskeyError)) throw error;
      ctx.state.log.info({ event: 'passkey_login_failed', reason: error.code }, 'passkey sign-in refused');
      refuse(ctx, 400, error.message);
      return;
    }
    const user = await users.findById(signIn.userId);
    if (!user || user.disabledAt) {
      refuse(ctx, 400, 'This account cannot sign in.');
      return;
    }
    ctx.state.log.info({ event: 'login', accountId: user.id, method: signIn.factor }, 'login succeeded with a passkey');
    await users.signedIn(user.id, String(interaction.params.client_id));
    const redirect = await provider().interactionResult(ctx.req, ctx.res, {
      login: { accountId: user.id, ...passwordlessAuthentication(signIn) },
    }, { mergeWithLastSubmission: false });
    ctx.body = { redirect };
  });

  router.post('/second-factor', json, async (ctx) => {
    const interaction = await interactionOf(ctx);
    const signingIn = secondFactor.signingIn(interaction);
    if (!signingIn) {
      refuse(ctx, 400, 'Sign in with your password first.');
      return;
    }
    let signIn;
    try {
      signIn = await passkeys.authenticate(body(ctx).credential, signingIn.accountId);
    } catch (error) {
      if (!(error instanceof PasskeyError)) throw error;
      ctx.state.log.info({ event: 'passkey_second_factor_failed', accountId: signingIn.accountId, reason: error.code }, 'passkey second factor refused');
      refuse(ctx, 400, error.message);
      return;
    }
    // The step's own hook finishes the login and answers a redirect; the script wants its URL.
    await secondFactor.complete(ctx, interaction, signingIn, signIn.factor);
    const redirect = ctx.response.get('Location');
    ctx.remove('Location');
    ctx.status = 200;
    ctx.body = { redirect };
  });

  return router;
}

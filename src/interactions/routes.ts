// Login, sign-up and consent: the pages oidc-provider sends a browser to during authorization.
// Thin: reads the form, asks the account libraries, hands the result back to oidc-provider.
import Router from '@koa/router';
import { koaBody } from 'koa-body';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import type { Users } from '../accounts/users.js';
import { UserError } from '../accounts/users.js';
import type { ClientRegistry } from '../clients/registry.js';
import type { LoginThrottle } from '../security/login-throttle.js';
import { render } from '../http/render.js';
import { HttpError } from '../http/errors.js';
import type { Csrf } from './csrf.js';
import { describeScope } from './scopes.js';
import { EMAIL_NOT_VERIFIED, NO_PROJECT_ACCESS } from '../oidc/project-access.js';
import type { EmailFlows } from '../account-center/email-flows.js';
import { tooManyMails, type EmailLimits } from '../account-center/email-limits.js';
import { addConsent, type MissingConsent } from '../oidc/first-party-grant.js';
import type { Consents } from '../accounts/consents.js';
import { hasSecondFactor, type SecondFactorStep } from '../mfa/second-factor.js';
import type { SecondFactorPages } from '../mfa/sign-in-routes.js';
import { authentication } from '../mfa/amr.js';

export interface InteractionDeps {
  provider: () => Provider;
  users: Users;
  clients: ClientRegistry;
  throttle: LoginThrottle;
  csrf: Csrf;
  /** The verification mail of sign-up and of the verify-required page, and its limits. */
  emailFlows: EmailFlows;
  emailLimits: EmailLimits;
  consents: Consents;
  /** The second step of a sign-in (src/mfa): its page and the state between the two steps. */
  secondFactor: { step: SecondFactorStep; pages: SecondFactorPages };
}

const INVALID_CREDENTIALS = 'Incorrect email or password.';
// What sign-up answers for every address, registered or not (no enumeration). Sign-up never
// signs in by itself: an existing address cannot be signed in, so a new one is not either.
const SIGNED_UP = 'If this address can be used, its Nexus account is ready: sign in with it below, and open the link we mailed to it to verify it. If you already had an account with this address, sign in with your password.';

const formBody = koaBody({ urlencoded: true, json: false, multipart: false, text: false, formLimit: '16kb' });

/** A string field of the parsed form, or '' (absent, repeated or not text). */
function field(ctx: Context, name: string): string {
  const value = (ctx.request as { body?: Record<string, unknown> }).body?.[name];
  return typeof value === 'string' ? value : '';
}

export function interactionRoutes({ provider, users, clients, throttle, csrf, emailFlows, emailLimits, consents, secondFactor }: InteractionDeps) {
  const router = new Router({ prefix: '/interaction/:uid' });

  const details = async (ctx: Context) => {
    const interaction = await provider().interactionDetails(ctx.req, ctx.res);
    // The URL must name the interaction bound to this browser's cookie.
    if (interaction.uid !== ctx.params.uid) throw new HttpError(400, 'session_not_found', 'This sign-in link does not belong to this browser. Go back to the application and sign in again.', 'This sign-in has expired');
    const clientId = String(interaction.params.client_id);
    const client = await clients.findEnabled(clientId);
    return { interaction, client: client ? { clientId, name: client.name, firstParty: client.firstParty } : null };
  };

  const finish = async (ctx: Context, result: InteractionResults) => {
    const redirectTo = await provider().interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(redirectTo);
  };

  const requireCsrf = (ctx: Context) => {
    if (!csrf.verify(ctx.params.uid, field(ctx, 'csrf'))) {
      throw new HttpError(403, 'invalid_csrf', 'This form has expired. Go back and try again.', 'Form expired');
    }
  };

  const urls = (uid: string) => ({
    login: `/interaction/${uid}`,
    loginAction: `/interaction/${uid}/login`,
    signup: `/interaction/${uid}/signup`,
    signedUp: `/interaction/${uid}/signed-up`,
    verification: `/interaction/${uid}/verification`,
    forgot: `/account/forgot?returnTo=${encodeURIComponent(`/interaction/${uid}`)}`,
    consentAction: `/interaction/${uid}/consent`,
    abort: `/interaction/${uid}/abort`,
  });

  const renderLogin = (ctx: Context, client: unknown, locals: { email?: string; error?: string | null; notice?: string | null; heading?: string }, status = 200) => {
    const { uid } = ctx.params;
    const u = urls(uid);
    return render(ctx, 'login', {
      title: locals.heading ?? 'Sign in', heading: locals.heading ?? 'Sign in', action: u.loginAction, csrfToken: csrf.token(uid), client, signupUrl: u.signup, forgotUrl: u.forgot, abortUrl: u.abort,
      email: locals.email ?? '', error: locals.error ?? null, notice: locals.notice ?? null,
    }, status);
  };

  const renderSignup = (ctx: Context, client: unknown, locals: { email?: string; name?: string; error?: string | null }, status = 200) => {
    const { uid } = ctx.params;
    const u = urls(uid);
    return render(ctx, 'signup', {
      title: 'Create your account', action: u.signup, csrfToken: csrf.token(uid), client, loginUrl: u.login, abortUrl: u.abort,
      email: locals.email ?? '', name: locals.name ?? '', error: locals.error ?? null,
    }, status);
  };

  const renderNoAccess = async (ctx: Context, interaction: Awaited<ReturnType<Provider['interactionDetails']>>, client: { name: string } | null) => {
    const user = await users.findById(String(interaction.session?.accountId));
    ctx.state.log.info({ event: 'no_project_access', accountId: user?.id, clientId: interaction.params.client_id }, 'sign-in refused: no project access');
    await render(ctx, 'no-access', {
      title: 'No access', projectName: client?.name ?? String(interaction.params.client_id), email: user?.email ?? '', abortUrl: urls(ctx.params.uid).abort,
    }, 403);
  };

  const renderVerifyRequired = async (ctx: Context, interaction: Awaited<ReturnType<Provider['interactionDetails']>>, client: { name: string } | null, locals: { error?: string; notice?: string } = {}, status = 200) => {
    const { uid } = ctx.params;
    const user = await users.findById(String(interaction.session?.accountId));
    await render(ctx, 'verify-required', {
      title: 'Verify your email', projectName: client?.name ?? String(interaction.params.client_id), email: user?.email ?? '',
      // Back through /auth: oidc-provider checks the address again and goes on if it is verified.
      continueUrl: interaction.returnTo, resendAction: urls(uid).verification, csrfToken: csrf.token(uid), abortUrl: urls(uid).abort,
      error: locals.error ?? null, notice: locals.notice ?? null,
    }, status);
  };

  const grantConsent = async (ctx: Context, interaction: Awaited<ReturnType<Provider['interactionDetails']>>) => {
    const { prompt, params, session, grantId } = interaction;
    const accountId = session?.accountId;
    if (!accountId) throw new HttpError(400, 'session_not_found', 'Sign in first.', 'This sign-in has expired');
    const op = provider();
    const grant = grantId ? await op.Grant.find(grantId) : new op.Grant({ accountId, clientId: String(params.client_id) });
    if (!grant) throw new HttpError(400, 'session_not_found', 'The sign-in could not be completed. Try again.', 'This sign-in has expired');
    const project = await clients.findEnabled(String(params.client_id));
    addConsent(grant, prompt.details as MissingConsent, project, String(params.scope ?? ''));
    const savedId = await grant.save();
    // What a person approved on the consent page is remembered for their other browsers too
    // (first-party projects never ask: nothing to remember).
    if (project && !project.firstParty) await consents.remember(grant);
    await finish(ctx, { consent: { grantId: savedId } });
  };

  router.get('/', async (ctx) => {
    const { interaction, client } = await details(ctx);
    const { uid } = ctx.params;
    if (interaction.prompt.name === 'login') {
      // Between the password and the second factor, or a project requiring one: src/mfa.
      if (await secondFactor.pages.show(ctx, interaction, client)) return;
      await renderLogin(ctx, client, {});
      return;
    }
    if (interaction.prompt.name === 'consent' && interaction.prompt.reasons.includes(NO_PROJECT_ACCESS)) {
      await renderNoAccess(ctx, interaction, client);
      return;
    }
    if (interaction.prompt.name === 'consent' && interaction.prompt.reasons.includes(EMAIL_NOT_VERIFIED)) {
      await renderVerifyRequired(ctx, interaction, client);
      return;
    }
    if (interaction.prompt.name === 'consent') {
      // First-party projects are part of Nexus itself: the user already trusts them. Their grant
      // is usually completed before this step (first-party-grant.ts); what oidc-provider still
      // sends here (prompt=consent, native clients) is granted without a page.
      if (client?.firstParty) {
        await grantConsent(ctx, interaction);
        return;
      }
      const missing = interaction.prompt.details as { missingOIDCScope?: string[]; missingResourceScopes?: Record<string, string[]> };
      const missingScopes = [...(missing.missingOIDCScope ?? []), ...Object.values(missing.missingResourceScopes ?? {}).flat()];
      // Nothing new (the project asked with prompt=consent, and the user allowed it all before):
      // the page says what approving allows all the same.
      const requested = new Set(missingScopes.length ? missingScopes : String(interaction.params.scope ?? '').split(' ').filter(Boolean));
      const user = await users.findById(String(interaction.session?.accountId));
      await render(ctx, 'consent', {
        title: 'Allow access',
        action: urls(uid).consentAction,
        csrfToken: csrf.token(uid),
        client,
        user: { email: user?.email ?? '', name: user?.fullName ?? null },
        scopes: [...requested].map((scope) => ({ scope, description: describeScope(scope) })),
        abortUrl: urls(uid).abort,
      });
      return;
    }
    throw new HttpError(400, 'invalid_request', 'This sign-in step is not supported.', 'Invalid sign-in request');
  });

  router.post('/login', formBody, async (ctx) => {
    requireCsrf(ctx);
    const { interaction, client } = await details(ctx);
    if (interaction.prompt.name !== 'login') throw new HttpError(400, 'invalid_request', 'You are already signed in. Go back to the application.', 'Already signed in');
    const email = field(ctx, 'email').trim().slice(0, 254);
    const password = field(ctx, 'password').slice(0, 1024);
    if (!email || !password) {
      ctx.state.metrics?.login('incomplete');
      await renderLogin(ctx, client, { email, error: 'Enter your email and password.' }, 400);
      return;
    }
    // The attempt is counted before the password is checked: see login-throttle.ts.
    const admission = await throttle.admitLogin(email, ctx.ip);
    if (!admission.admitted) {
      ctx.state.metrics?.login('throttled');
      ctx.state.analytics?.login('locked', client?.clientId); // daily_counts (src/analytics): in memory
      const wait = admission.retryAfterSeconds;
      ctx.set('Retry-After', String(wait));
      await renderLogin(ctx, client, { email, error: `Too many failed attempts. Try again in ${Math.ceil(wait / 60)} minute(s).` }, 429);
      return;
    }
    let user;
    try {
      user = await users.authenticate(email, password);
    } catch (error) {
      // Not a failed guess (e.g. the password workers are saturated): do not count it against the user.
      await admission.withdraw();
      throw error;
    }
    if (!user) {
      ctx.state.log.info({ event: 'login_failed' }, 'login failed');
      ctx.state.metrics?.login('wrong_password');
      ctx.state.analytics?.login('wrong_password', client?.clientId); // daily_counts (src/analytics): in memory
      await renderLogin(ctx, client, { email, error: INVALID_CREDENTIALS }, 401);
      return;
    }
    await admission.succeeded();
    // Known from the user read itself (no statement more): the password alone does not sign in.
    if (hasSecondFactor(user)) {
      ctx.state.log.info({ event: 'password_verified', accountId: user.id }, 'password right: second factor next');
      ctx.state.metrics?.login('second_factor');
      ctx.state.analytics?.login('mfa', client?.clientId); // daily_counts (src/analytics): in memory
      await secondFactor.step.passwordVerified(ctx, interaction, user.id);
      return;
    }
    ctx.state.log.info({ event: 'login', accountId: user.id }, 'login succeeded');
    ctx.state.metrics?.login('success');
    ctx.state.analytics?.login('success', client?.clientId); // daily_counts (src/analytics): in memory
    await users.signedIn(user.id, String(interaction.params.client_id));
    await finish(ctx, { login: { accountId: user.id, ...authentication(['pwd']) } });
  });

  router.get('/signup', async (ctx) => {
    const { client } = await details(ctx);
    await renderSignup(ctx, client, {});
  });

  router.post('/signup', formBody, async (ctx) => {
    requireCsrf(ctx);
    const { interaction, client } = await details(ctx);
    if (interaction.prompt.name !== 'login') throw new HttpError(400, 'invalid_request', 'You are already signed in. Go back to the application.', 'Already signed in');
    // Not truncated: an address cut short is another address. Users refuses what is too long.
    const email = field(ctx, 'email').trim();
    const name = field(ctx, 'name').trim();
    const password = field(ctx, 'password');
    const wait = await throttle.signupWait(ctx.ip);
    if (wait > 0) {
      ctx.set('Retry-After', String(wait));
      await renderSignup(ctx, client, { email, name, error: `Too many accounts were created from your network. Try again in ${Math.ceil(wait / 60)} minute(s).` }, 429);
      return;
    }
    try {
      const user = await users.register({ email, password, fullName: name }, emailFlows.signUpMail);
      if (user) ctx.state.log.info({ event: 'signup', accountId: user.id }, 'account created');
      else ctx.state.log.info({ event: 'signup_existing_address' }, 'sign-up for a registered address: nothing changed');
    } catch (error) {
      // Only problems of the form itself (address, name, password), never "already registered".
      if (!(error instanceof UserError)) throw error;
      await renderSignup(ctx, client, { email, name, error: error.message }, 400);
      return;
    }
    ctx.status = 303;
    ctx.redirect(urls(ctx.params.uid).signedUp);
  });

  router.get('/signed-up', async (ctx) => {
    const { client } = await details(ctx);
    await renderLogin(ctx, client, { heading: 'Now sign in', notice: SIGNED_UP });
  });

  router.post('/consent', formBody, async (ctx) => {
    requireCsrf(ctx);
    const { interaction, client } = await details(ctx);
    if (interaction.prompt.name !== 'consent') throw new HttpError(400, 'invalid_request', 'There is nothing to approve. Go back to the application.', 'Invalid sign-in request');
    if (interaction.prompt.reasons.includes(NO_PROJECT_ACCESS)) {
      await renderNoAccess(ctx, interaction, client);
      return;
    }
    await grantConsent(ctx, interaction);
  });

  router.post('/verification', formBody, async (ctx) => {
    requireCsrf(ctx);
    const { interaction, client } = await details(ctx);
    const accountId = interaction.session?.accountId;
    if (!accountId || interaction.prompt.name !== 'consent' || !interaction.prompt.reasons.includes(EMAIL_NOT_VERIFIED)) {
      throw new HttpError(400, 'invalid_request', 'There is no address to verify here. Go back to the application.', 'Invalid sign-in request');
    }
    const wait = await emailLimits.wait('resend', accountId, ctx.ip);
    if (wait > 0) {
      ctx.set('Retry-After', String(wait));
      await renderVerifyRequired(ctx, interaction, client, { error: tooManyMails(wait) }, 429);
      return;
    }
    const email = await emailFlows.resendVerification(accountId);
    await renderVerifyRequired(ctx, interaction, client, { notice: email ? `We sent a new link to ${email}. It works for 24 hours.` : 'Your address is verified: continue.' });
  });

  router.get('/abort', async (ctx) => {
    await details(ctx);
    await finish(ctx, { error: 'access_denied', error_description: 'The user cancelled the sign-in.' });
  });

  return router;
}

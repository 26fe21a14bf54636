// Billing over HTTP: the Stripe webhook, checkout and portal for a signed-in user, the pricing
// page and the plan-change confirmation (the account page's plan box: plan-box.ts). Thin:
// authentication and formatting here, rules in the libraries.
import Router from '@koa/router';
import { koaBody } from 'koa-body';
import type { Context } from 'koa';
import getRawBody from 'raw-body';
import type Provider from 'oidc-provider';
import type { Users } from '../accounts/users.js';
import type { ClientRegistry } from '../clients/registry.js';
import type { Csrf } from '../interactions/csrf.js';
import { render } from '../http/render.js';
import { HttpError } from '../http/errors.js';
import { hubAccountId, hubSessionId } from '../http/hub-session.js';
import { Billing, BillingUnavailable } from './billing.js';
import type { StripeGateway } from './stripe-gateway.js';
import type { StripeWebhooks } from './webhooks.js';
import type { Subscriptions } from './subscriptions.js';
import { PLAN_ORDER } from './plans.js';
import { money } from './plan-box.js';
import { bearerToken } from '../oidc/own-tokens.js';
import { TokenRefused, type LiveTokenCheck } from '../oidc/live-token.js';
import { BILLING_SCOPE, mayManageBilling } from './scopes.js';
import { CONFIRM_PATH, type PlanChangeLinks } from './plan-change-links.js';

export interface BillingRouteDeps {
  billing: Billing;
  subscriptions: Subscriptions;
  webhooks: StripeWebhooks | undefined;
  stripe: StripeGateway | undefined;
  users: Users;
  clients: ClientRegistry;
  csrf: Csrf;
  provider: () => Provider;
  checkLive: LiveTokenCheck;
  links: PlanChangeLinks;
}

const form = koaBody({ urlencoded: true, json: true, multipart: false, text: false, formLimit: '8kb', jsonLimit: '8kb' });
const NOT_CONFIGURED = 'Online billing is not configured on this hub. An administrator can set your plan.';

function field(ctx: Context, name: string): string {
  const value = (ctx.request as { body?: Record<string, unknown> }).body?.[name];
  return typeof value === 'string' ? value : '';
}

export function billingRoutes(deps: BillingRouteDeps) {
  const { billing, subscriptions, webhooks, stripe, users, clients, csrf, provider, checkLive, links } = deps;
  const router = new Router();
  const csrfFor = (sessionId: string) => csrf.token(`account:${sessionId}`);

  /** The user signed in to the hub itself (its session cookie), with the session's id for CSRF tokens. */
  const signedInUser = async (ctx: Context) => {
    const sessionId = hubSessionId(ctx);
    const userId = sessionId ? await hubAccountId(ctx, provider()) : undefined;
    return sessionId && userId ? { sessionId, userId } : undefined;
  };

  /** A form of the hub's own pages: the signed-in user, with the page's CSRF token. */
  const formCaller = async (ctx: Context): Promise<string> => {
    const signedIn = await signedInUser(ctx);
    if (!signedIn) throw new HttpError(401, 'login_required', 'Sign in to your Nexus account first.', 'Sign-in required');
    if (!csrf.verify(`account:${signedIn.sessionId}`, field(ctx, 'csrf'))) throw new HttpError(403, 'invalid_csrf', 'This form has expired. Go back and try again.', 'Form expired');
    return signedIn.userId;
  };

  /**
   * Who is asking: a first-party project calling with the user's access token carrying
   * billing:manage, from a sign-in that is still alive (JSON answers), or the user's browser on
   * the hub's own pages (session cookie + CSRF token, redirect answers).
   */
  const caller = async (ctx: Context): Promise<{ userId: string; api: boolean }> => {
    const bearer = bearerToken(ctx.get('authorization'));
    if (!bearer) return { userId: await formCaller(ctx), api: false };
    let live;
    try {
      live = await checkLive(bearer);
    } catch (error) {
      if (!(error instanceof TokenRefused)) throw error;
      ctx.set('WWW-Authenticate', 'Bearer error="invalid_token"');
      throw new HttpError(401, 'invalid_token', 'A valid access token of a signed-in user is required.', 'Sign-in required');
    }
    if (!mayManageBilling(live.project, live.scopes)) {
      ctx.set('WWW-Authenticate', `Bearer error="insufficient_scope", scope="${BILLING_SCOPE}"`);
      throw new HttpError(403, 'insufficient_scope', `Billing needs an access token of a Nexus project with the ${BILLING_SCOPE} scope.`, 'Not allowed');
    }
    return { userId: live.user.id, api: true };
  };

  const answer = (ctx: Context, api: boolean, url: string) => {
    if (api) ctx.body = { url };
    else {
      ctx.status = 303;
      ctx.redirect(url);
    }
  };

  const asHttpError = (error: unknown) => {
    if (!(error instanceof BillingUnavailable)) return error;
    const status = error.code === 'not_configured' ? 503 : error.code === 'not_found' ? 404 : 400;
    return new HttpError(status, error.code, error.code === 'not_configured' ? NOT_CONFIGURED : `${error.message[0].toUpperCase()}${error.message.slice(1)}.`, 'Billing');
  };

  router.post('/api/billing/checkout', form, async (ctx) => {
    const { userId, api } = await caller(ctx);
    const plan = field(ctx, 'plan');
    if (!(PLAN_ORDER as readonly string[]).includes(plan)) throw new HttpError(400, 'invalid_plan', `Choose one of the plans: ${PLAN_ORDER.join(', ')}.`, 'Billing');
    try {
      // A project may start a first purchase (Stripe Checkout asks the user anyway), but a change
      // of a live subscription is confirmed by the user on the hub: the project gets that page.
      answer(ctx, api, await billing.checkoutUrl(userId, plan, api ? (to) => links.url(userId, to) : undefined));
    } catch (error) {
      throw asHttpError(error);
    }
  });

  router.post('/api/billing/portal', form, async (ctx) => {
    const { userId, api } = await caller(ctx);
    try {
      answer(ctx, api, await billing.portalUrl(userId));
    } catch (error) {
      throw asHttpError(error);
    }
  });

  // The user confirms a plan change a project asked for: old and new plan and price, one button.
  router.get(CONFIRM_PATH, async (ctx) => {
    const signedIn = await signedInUser(ctx);
    if (!signedIn) {
      ctx.redirect(`/account/login?returnTo=${encodeURIComponent(ctx.url)}`);
      return;
    }
    const to = links.verify(signedIn.userId, ctx.query);
    if (!to) throw new HttpError(400, 'invalid_link', 'This confirmation link is invalid or has expired. Start the change again from the application.', 'Link expired');
    const current = billing.plans.get((await subscriptions.stateOf(signedIn.userId)).plan)!;
    const next = billing.plans.get(to)!;
    const plan = (p: typeof current) => ({ name: p.name, price: money(p.monthlyPriceCents), period: p.monthlyPriceCents === null ? '' : '/month' });
    await render(ctx, 'billing-confirm', {
      title: 'Change your plan', from: plan(current), to: plan(next), action: CONFIRM_PATH, csrfToken: csrfFor(signedIn.sessionId),
      link: { plan: to, expires: String(ctx.query.expires), sig: String(ctx.query.sig) }, cancelUrl: '/account',
    });
  });

  router.post(CONFIRM_PATH, form, async (ctx) => {
    const userId = await formCaller(ctx);
    const to = links.verify(userId, { plan: field(ctx, 'plan'), expires: field(ctx, 'expires'), sig: field(ctx, 'sig') });
    if (!to) throw new HttpError(400, 'invalid_link', 'This confirmation link is invalid or has expired. Start the change again from the application.', 'Link expired');
    try {
      answer(ctx, false, await billing.checkoutUrl(userId, to));
    } catch (error) {
      throw asHttpError(error);
    }
  });

  // Stripe signs the exact bytes it sent: read the raw body, never a parsed one.
  router.post('/api/webhooks/stripe', async (ctx) => {
    if (!stripe || !webhooks || !stripe.webhooksConfigured) {
      ctx.status = 503;
      ctx.body = { error: 'not_configured', error_description: 'STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET are not set' };
      return;
    }
    const raw = await getRawBody(ctx.req, { limit: '1mb' });
    let event;
    try {
      event = stripe.verifyWebhook(raw, ctx.get('stripe-signature'));
    } catch {
      ctx.state.log.warn({ event: 'stripe_signature_rejected' }, 'Stripe webhook with a bad or stale signature refused');
      ctx.status = 400;
      ctx.body = { error: 'invalid_signature', error_description: 'the Stripe-Signature header does not match this body' };
      return;
    }
    const outcome = await webhooks.handle(event);
    ctx.body = { received: true, outcome };
  });

  router.get('/pricing', async (ctx) => {
    const signedIn = await signedInUser(ctx);
    const [user, state] = signedIn ? await Promise.all([users.findById(signedIn.userId), subscriptions.stateOf(signedIn.userId)]) : [null, undefined];
    const projectNames = new Map((await clients.list()).map((c) => [c.id, c.name]));
    const plans = billing.plans.all().map((plan) => {
      const purchasable = plan.stripePriceIds.length > 0 && billing.configured;
      let action: 'checkout' | 'signin' | 'current' | 'contact' | 'none';
      if (state?.plan === plan.id) action = 'current';
      else if (plan.monthlyPriceCents === null) action = 'contact';
      else if (!purchasable) action = 'none';
      else action = user ? 'checkout' : 'signin';
      return {
        id: plan.id, name: plan.name, price: money(plan.monthlyPriceCents), period: plan.monthlyPriceCents === null ? null : '/month',
        highlight: plan.id === 'pro', action,
        projects: Object.keys(plan.projects).map((project) => ({ name: projectNames.get(project) ?? project, features: billing.plans.features(plan.id, project) })),
      };
    });
    await render(ctx, 'pricing', {
      title: 'Plans', wide: true, configured: billing.configured, plans, checkoutAction: '/api/billing/checkout', signInUrl: '/account/login?returnTo=/pricing',
      signedInEmail: user?.email ?? null, csrfToken: signedIn && user ? csrfFor(signedIn.sessionId) : null,
      notice: ctx.query.checkout === 'canceled' ? 'Checkout was canceled; nothing was charged.' : null,
    });
  });

  return router;
}

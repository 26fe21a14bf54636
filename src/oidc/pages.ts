// The pages oidc-provider renders itself (logout, device flow, errors), drawn with our views.
import type { KoaContextWithOIDC } from 'oidc-provider';
import { render } from '../http/render.js';
import { describeError } from '../http/error-messages.js';
import { missingVerifierHelp } from './pkce.js';
import { noteWrongUserCode } from './device-code-guard.js';

export async function renderError(ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }, error?: Error) {
  const client = ctx.oidc?.client;
  const reason = missingVerifierHelp(error) ?? out.error_description;
  // The page speaks to a person; the log keeps oidc-provider's exact reason for the operator
  // (its descriptions name parameters and rules, never tokens or secrets).
  ctx.state.log?.info({ route: ctx.oidc?.route, client: client?.clientId, error: out.error, reason }, 'oidc request refused');
  const { title, message } = describeError(out.error, reason, client ? client.clientName ?? client.clientId : undefined);
  await render(ctx, 'error', { title, message, requestId: ctx.state.requestId }, ctx.status >= 400 ? ctx.status : 400);
}

const clientName = (ctx: KoaContextWithOIDC) => ctx.oidc.client?.clientName ?? null;

export async function logoutSource(ctx: KoaContextWithOIDC, form: string) {
  await render(ctx, 'logout', { title: 'Sign out', clientName: clientName(ctx), form });
}

export async function postLogoutSuccessSource(ctx: KoaContextWithOIDC) {
  await render(ctx, 'logged-out', { title: 'Signed out', clientName: clientName(ctx) });
}

// oidc-provider's input form carries its own text field with an inline script handler, which
// our CSP forbids; the view draws its own field, so keep only the form and its CSRF input.
function withoutUserCodeField(form: string) {
  return form.replace(/<input(?:(?!<\/?input)[\s\S])*?name="user_code"[\s\S]*?(?:<\/input>|>)/, '');
}

function deviceErrorMessage(error: Error | undefined) {
  if (!error) return null;
  const { name, userCode } = error as Error & { userCode?: string };
  if (userCode || name === 'NoCodeError') return 'That code is not valid or has expired. Check your device and try again.';
  if (name === 'AbortedError') return 'The sign-in was cancelled.';
  return 'The code could not be checked. Please try again.';
}

/**
 * oidc-provider answers a failed device-page request by drawing a fresh form into the request's
 * session, then stores that session as an existing one, which fails (a 500) when the request came
 * without one (no cookie: a form not from us, or an expired session). Such a session is left
 * unstored, as its own middleware would for an untouched one, and the page offers a form that
 * starts over with a GET, which makes a session properly.
 */
function formWithoutStoredSession(ctx: KoaContextWithOIDC): string | undefined {
  const session = ctx.oidc.session as (typeof ctx.oidc.session & { exp?: number; touched?: boolean }) | undefined;
  if (!session || typeof session.exp === 'number') return undefined;
  session.touched = false;
  return `<form id="op.deviceInputForm" method="get" action="${ctx.oidc.urlFor('code_verification')}"></form>`;
}

export const deviceFlowPages = {
  async userCodeInputSource(ctx: KoaContextWithOIDC, form: string, _out: unknown, error?: Error) {
    if (error?.name === 'NotFoundError') noteWrongUserCode(ctx);
    const restart = error ? formWithoutStoredSession(ctx) : undefined;
    const message = restart ? 'This page has expired. Enter the code again.' : deviceErrorMessage(error);
    await render(ctx, 'device-input', { title: 'Connect a device', form: restart ?? withoutUserCodeField(form), error: message }, error && ctx.status >= 400 ? ctx.status : 200);
  },
  async userCodeConfirmSource(ctx: KoaContextWithOIDC, form: string, client: { clientName?: string; clientId: string }, _info: unknown, userCode: string) {
    await render(ctx, 'device-confirm', { title: 'Confirm this device', form, clientName: client.clientName ?? client.clientId, userCode });
  },
  async successSource(ctx: KoaContextWithOIDC) {
    await render(ctx, 'device-success', { title: 'Device connected', clientName: clientName(ctx) ?? 'The application' });
  },
};

// What every console page and form shares: the layout's locals (the admin, the CSRF token, the
// section for the navigation), the form parser, and the libraries' refusals as a 4xx page.
import type { Context } from 'koa';
import { koaBody } from 'koa-body';
import { describeDomainError } from '../admin/domain-errors.js';
import { HttpError } from '../http/errors.js';
import { render } from '../http/render.js';
import type { ConsoleAdmin } from './session.js';

// Annotated through koaBody itself: its middleware type comes from its own copy of @types/koa.
export const consoleForm: ReturnType<typeof koaBody> = koaBody({ urlencoded: true, json: false, multipart: false, text: false, formLimit: '16kb' });

/** Rows a list page shows at most (the search narrows the rest). */
export const PAGE_SIZE = 50;

export function showPage(ctx: Context, admin: ConsoleAdmin, view: string, locals: Record<string, unknown>, status = 200) {
  return render(ctx, `console/${view}`, { wide: true, admin: admin.user.email, csrfToken: admin.csrfToken, error: null, notice: null, ...locals }, status);
}

/** A query parameter given once as text, else ''. */
export function queryText(ctx: Context, name: string): string {
  const value = ctx.query[name];
  return typeof value === 'string' ? value : '';
}

/** Runs an AdminOperations call; a refusal of the libraries (unknown user, bad grace…) is a 4xx page. */
export async function attempt<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const failure = describeDomainError(error);
    if (!failure) throw error;
    const message = failure.message[0].toUpperCase() + failure.message.slice(1);
    throw new HttpError(failure.status, failure.code, message.endsWith('.') ? message : `${message}.`, 'Not done');
  }
}

/** The page's message for `?done=` (one of its own, never the parameter's text), or null. */
export function doneNotice(ctx: Context, messages: Record<string, string>): string | null {
  const done = queryText(ctx, 'done');
  return Object.hasOwn(messages, done) ? messages[done] : null;
}

/** After a form: back to the page with what was done (Post/Redirect/Get). */
export function doneRedirect(ctx: Context, path: string, done: string) {
  ctx.status = 303;
  ctx.redirect(`${path}${path.includes('?') ? '&' : '?'}done=${encodeURIComponent(done)}`);
}

export const when = (date: Date | null | undefined) =>
  date ? date.toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : null;

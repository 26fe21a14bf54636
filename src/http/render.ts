// Renders EJS pages from views/ with the security headers every HTML page gets.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';
import type { Context } from 'koa';

export const VIEWS_DIR = fileURLToPath(new URL('../../views', import.meta.url));

// No scripts at all; styles only from our own stylesheet. form-action is left out on purpose:
// browsers apply it to the redirects after a form post, which end at the projects' own URLs.
const CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";
// The pages that use passkeys load one script, /assets/passkeys.js: only scripts from the hub
// itself, nothing inline, and its fetches to the hub's own JSON routes.
const CSP_WITH_SCRIPT = `${CSP}; script-src 'self'; connect-src 'self'`;
/** The views that carry the passkey script (WebAuthn has no HTML-only form). */
const SCRIPTED_VIEWS = new Set(['login', 'account-passkeys', 'second-factor']);

export function setPageSecurityHeaders(ctx: Context, withScript = false) {
  ctx.set('Content-Security-Policy', withScript ? CSP_WITH_SCRIPT : CSP);
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('Cache-Control', 'no-store');
}

export async function render(ctx: Context, view: string, locals: Record<string, unknown>, status = 200) {
  const html = await ejs.renderFile(path.join(VIEWS_DIR, `${view}.ejs`), locals, { cache: process.env.NODE_ENV !== 'development' });
  setPageSecurityHeaders(ctx, SCRIPTED_VIEWS.has(view));
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = html;
}

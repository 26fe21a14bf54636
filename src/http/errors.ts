// Last line of defence for our own routes: no stack trace or internal message ever reaches a
// client. Pages get a friendly error page, API callers a JSON error with a stable code.
import type { Context, Middleware } from 'koa';
import { render } from './render.js';
import { describeError } from './error-messages.js';
import { databaseInputErrorCode } from './database-input-errors.js';

export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly title = 'Something went wrong') {
    super(message);
    this.name = 'HttpError';
  }
}

function wantsJson(ctx: Context) {
  return ctx.path.startsWith('/api/') || (ctx.accepts('html', 'json') === 'json');
}

export async function respondWithError(ctx: Context, status: number, code: string, title: string, message: string) {
  if (wantsJson(ctx)) {
    ctx.status = status;
    ctx.body = { error: code, error_description: message, request_id: ctx.state.requestId };
    return;
  }
  await render(ctx, 'error', { title, message, requestId: ctx.state.requestId }, status);
}

export function errorHandler(): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const err = error as Error & { status?: number; expose?: boolean; type?: string };
      if (error instanceof HttpError) {
        await respondWithError(ctx, error.status, error.code, error.title, error.message);
        return;
      }
      // oidc-provider errors (expired interaction, ...) carry an OAuth error code.
      const oauth = err as { error?: unknown; error_description?: string };
      if (typeof oauth.error === 'string' && err.status && err.status < 500) {
        const code = err.name === 'SessionNotFound' ? 'session_not_found' : oauth.error;
        const { title, message } = describeError(code, oauth.error_description);
        await respondWithError(ctx, err.status, code, title, message);
        return;
      }
      // Temporarily out of capacity (the password pool's queue is full): say when to come back.
      const busy = err as { retryAfter?: unknown };
      if (err.status === 503 && err.expose && typeof busy.retryAfter === 'number') {
        ctx.set('Retry-After', String(busy.retryAfter));
        await respondWithError(ctx, 503, 'temporarily_unavailable', 'Please try again', err.message);
        return;
      }
      // Body-parser and koa errors with a 4xx status are the caller's fault and safe to describe.
      if (err.status && err.status >= 400 && err.status < 500) {
        const message = err.status === 413 ? 'The request body is too large.' : 'The request could not be understood.';
        await respondWithError(ctx, err.status, 'invalid_request', 'Bad request', message);
        return;
      }
      // Input the database cannot take (a NUL byte, a malformed UUID, ...) is the caller's fault.
      const inputError = databaseInputErrorCode(error);
      if (inputError) {
        // Only the code: the driver's message may quote the input.
        ctx.state.log?.info({ event: 'database_input_refused', code: inputError }, 'request refused: input the database cannot store');
        await respondWithError(ctx, 400, 'invalid_request', 'Bad request', 'The request contains characters or values that are not accepted.');
        return;
      }
      ctx.state.log?.error({ err }, 'unhandled error');
      await respondWithError(ctx, 500, 'server_error', 'Something went wrong', 'An unexpected error occurred. Please try again.');
    }
  };
}

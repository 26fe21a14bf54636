// Gives every request an id (kept from X-Request-Id when it looks safe) and logs one line per
// request. Only the path is logged: query strings carry codes, states and tokens.
import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from '../logger.js';

const SAFE_ID = /^[A-Za-z0-9._-]{8,128}$/;

declare module 'koa' {
  interface DefaultState {
    requestId: string;
    log: Logger;
    /** Set by routes that write their own line (the gateway), so a request is logged once. */
    skipRequestLog?: boolean;
  }
}

/** The id of a request: its X-Request-Id when that looks safe, else a new one. */
export function requestIdOf(incoming: string | string[] | undefined): string {
  return typeof incoming === 'string' && SAFE_ID.test(incoming) ? incoming : randomUUID();
}

export function requestLog(log: Logger): Middleware {
  return async (ctx, next) => {
    const requestId = requestIdOf(ctx.get('X-Request-Id'));
    ctx.state.requestId = requestId;
    // Created on first use: most requests log nothing but their closing line.
    let child: Logger | undefined;
    Object.defineProperty(ctx.state, 'log', { get: () => (child ??= log.child({ requestId })), configurable: true, enumerable: true });
    ctx.set('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const level = ctx.status >= 500 ? 'error' : 'info';
      if (!ctx.state.skipRequestLog && log.isLevelEnabled(level)) {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        log[level]({ requestId, method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10, ip: ctx.ip }, 'request');
      }
    }
  };
}

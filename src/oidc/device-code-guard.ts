// A user code (8 letters of 20) is all it takes to attach one's account to someone's pending
// device sign-in, so wrong codes typed on the device page are limited per IP. A wrong code
// matches no device code, so there is nothing else to count it against.
import type { Context, Middleware } from 'koa';
import { HttpError } from '../http/errors.js';
import { createLimiter, type LimiterStore } from '../security/limiter.js';
import { givePointBack, takePoint } from '../security/take-point.js';

export interface DeviceCodeLimits {
  wrongCodesPerIp: number;
  windowSeconds: number;
}

// The device page's renderer notes here that the code it was asked to show an error for was not
// found; a submission without that note did not spend a guess.
const wrongCodes = new WeakSet<Context>();

export function noteWrongUserCode(ctx: Context) {
  wrongCodes.add(ctx);
}

/** Guards POST /device (oidc-provider's code verification route). */
export function deviceCodeGuard(store: LimiterStore, { wrongCodesPerIp, windowSeconds }: DeviceCodeLimits): Middleware {
  const limiter = createLimiter(store, { name: 'device_code_ip', points: wrongCodesPerIp, durationSeconds: windowSeconds, blockSeconds: windowSeconds });
  return async (ctx, next) => {
    if (ctx.path !== '/device' || ctx.method !== 'POST') return next();
    // Taken before the code is looked up, so parallel guesses cannot all be checked; given back
    // when the submission was not a wrong code.
    const wait = await takePoint(limiter, ctx.ip);
    if (wait) {
      ctx.set('Retry-After', String(wait));
      throw new HttpError(429, 'too_many_attempts', `Too many wrong codes were entered from your network. Try again in ${Math.ceil(wait / 60)} minutes.`, 'Too many attempts');
    }
    try {
      await next();
    } finally {
      if (!wrongCodes.has(ctx)) await givePointBack(limiter, ctx.ip);
    }
  };
}

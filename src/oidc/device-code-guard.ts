// A user code (8 letters of 20) is all it takes to attach one's account to someone's pending
// device sign-in, so wrong codes typed on the device page are limited per IP, and across the
// whole hub: a wrong code matches no device code, so the odds of hitting any pending code are
// bounded only by the total number of guesses, which a guesser spread over many IPs would
// otherwise not meet.
import type { Context, Middleware } from 'koa';
import { HttpError } from '../http/errors.js';
import { createLimiter, type LimiterStore } from '../security/limiter.js';
import { givePointBack, takePoint } from '../security/take-point.js';

export interface DeviceCodeLimits {
  wrongCodesPerIp: number;
  /** Wrong codes from everyone together per window: 20^8 codes make 1,000 guesses a 1 in 25 million chance per pending code. */
  wrongCodesHubWide: number;
  windowSeconds: number;
}

const HUB_WIDE = 'all';

// The device page's renderer notes here that the code it was asked to show an error for was not
// found; a submission without that note did not spend a guess.
const wrongCodes = new WeakSet<Context>();

export function noteWrongUserCode(ctx: Context) {
  wrongCodes.add(ctx);
}

/** Guards POST /device (oidc-provider's code verification route). */
export function deviceCodeGuard(store: LimiterStore, { wrongCodesPerIp, wrongCodesHubWide, windowSeconds }: DeviceCodeLimits): Middleware {
  const window = { durationSeconds: windowSeconds, blockSeconds: windowSeconds };
  const perIp = createLimiter(store, { name: 'device_code_ip', points: wrongCodesPerIp, ...window });
  // No block: once the hub-wide budget refills, honest users are not kept out for a whole window.
  const hubWide = createLimiter(store, { name: 'device_code_all', points: wrongCodesHubWide, durationSeconds: windowSeconds });
  const refuse = (ctx: Context, wait: number, who: string) => {
    ctx.set('Retry-After', String(wait));
    throw new HttpError(429, 'too_many_attempts', `Too many wrong codes were entered ${who}. Try again in ${Math.ceil(wait / 60)} minutes.`, 'Too many attempts');
  };
  return async (ctx, next) => {
    if (ctx.path !== '/device' || ctx.method !== 'POST') return next();
    // Taken before the code is looked up, so parallel guesses cannot all be checked; given back
    // when the submission was not a wrong code.
    const ipWait = await takePoint(perIp, ctx.ip);
    if (ipWait) refuse(ctx, ipWait, 'from your network');
    const hubWait = await takePoint(hubWide, HUB_WIDE);
    if (hubWait) {
      await givePointBack(perIp, ctx.ip);
      refuse(ctx, hubWait, 'on this service recently');
    }
    try {
      await next();
    } finally {
      if (!wrongCodes.has(ctx)) await Promise.all([givePointBack(perIp, ctx.ip), givePointBack(hubWide, HUB_WIDE)]);
    }
  };
}

// One attempt counted against a limiter, before the work it guards: concurrent attempts each
// take their point atomically in the shared store, so a burst cannot all slip under the limit.
import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';

/** Takes a point for `key`: 0 when the attempt may proceed, else the seconds until one may. */
export async function takePoint(limiter: RateLimiterAbstract, key: string): Promise<number> {
  try {
    await limiter.consume(key);
    return 0;
  } catch (rejected) {
    if (rejected instanceof Error) throw rejected;
    return Math.max(1, Math.ceil((rejected as RateLimiterRes).msBeforeNext / 1000));
  }
}

/** Gives back the point of an attempt that turned out not to count (a store failure is not the caller's). */
export async function givePointBack(limiter: RateLimiterAbstract, key: string): Promise<void> {
  await limiter.reward(key, 1).catch(() => undefined);
}

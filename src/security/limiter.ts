// Rate-limit counters in shared storage (Redis when configured, PostgreSQL otherwise), so every
// hub instance counts the same requests. Built on rate-limiter-flexible.
import type pg from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RedisLink } from './redis.js';

export type LimiterStore = { redis: RedisLink; prefix: string } | { pool: pg.Pool };

export interface LimiterOptions {
  name: string;
  points: number;
  durationSeconds: number;
  blockSeconds?: number;
}

// The three calls through which RateLimiterRedis reaches Redis (every public method uses them).
type StoreCall = (...args: unknown[]) => Promise<unknown>;
const viaRedis = RateLimiterRedis.prototype as unknown as Record<'_upsert' | '_get' | '_delete', StoreCall>;

/**
 * Asks Redis only through the link: while Redis is unreachable a call fails at once instead of
 * waiting, and rate-limiter-flexible answers it from the insurance limiter (this process's
 * memory) — counting per instance until Redis is back.
 */
class LinkedRedisLimiter extends RateLimiterRedis {
  constructor(options: ConstructorParameters<typeof RateLimiterRedis>[0], private readonly link: RedisLink) {
    super(options);
  }

  _upsert(...args: unknown[]) {
    return this.link.run(() => viaRedis._upsert.apply(this, args));
  }

  _get(...args: unknown[]) {
    return this.link.run(() => viaRedis._get.apply(this, args));
  }

  _delete(...args: unknown[]) {
    return this.link.run(() => viaRedis._delete.apply(this, args));
  }
}

export function createLimiter(store: LimiterStore, { name, points, durationSeconds, blockSeconds = 0 }: LimiterOptions): RateLimiterAbstract {
  const options = { points, duration: durationSeconds, blockDuration: blockSeconds };
  return 'redis' in store
    ? new LinkedRedisLimiter({
      ...options, keyPrefix: `${store.prefix}${name}`, storeClient: store.redis.client, useRedisPackage: false,
      insuranceLimiter: new RateLimiterMemory({ ...options, keyPrefix: name }),
    }, store.redis)
    : new RateLimiterPostgres({ ...options, keyPrefix: name, storeClient: store.pool, storeType: 'pool', tableName: 'rate_limits', tableCreated: true });
}

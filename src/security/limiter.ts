// Rate-limit counters in shared storage (Redis when configured, PostgreSQL otherwise), so every
// hub instance counts the same requests. Built on rate-limiter-flexible.
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';

export type LimiterStore = { redis: Redis; prefix: string } | { pool: pg.Pool };

export interface LimiterOptions {
  name: string;
  points: number;
  durationSeconds: number;
  blockSeconds?: number;
}

export function createLimiter(store: LimiterStore, { name, points, durationSeconds, blockSeconds = 0 }: LimiterOptions): RateLimiterAbstract {
  const options = { points, duration: durationSeconds, blockDuration: blockSeconds };
  return 'redis' in store
    ? new RateLimiterRedis({
      ...options, keyPrefix: `${store.prefix}${name}`, storeClient: store.redis, useRedisPackage: false,
      // While Redis is unreachable, count in this process rather than failing the login.
      insuranceLimiter: new RateLimiterMemory({ ...options, keyPrefix: name }),
    })
    : new RateLimiterPostgres({ ...options, keyPrefix: name, storeClient: store.pool, storeType: 'pool', tableName: 'rate_limits', tableCreated: true });
}

// Failed-login limits per account and per IP, in shared storage (Redis when configured,
// PostgreSQL otherwise) so that every hub instance counts the same attempts.
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { RateLimiterPostgres, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { sha256Hex } from '../secrets/tokens.js';

export interface ThrottleLimits {
  perAccount: number;
  perIp: number;
  windowSeconds: number;
}

export type ThrottleStore = { redis: Redis; prefix: string } | { pool: pg.Pool };

export class LoginThrottle {
  private readonly byAccount: RateLimiterAbstract;
  private readonly byIp: RateLimiterAbstract;

  constructor(store: ThrottleStore, limits: ThrottleLimits) {
    const make = (name: string, points: number) => {
      const keyPrefix = 'redis' in store ? `${store.prefix}${name}` : name;
      const options = { keyPrefix, points, duration: limits.windowSeconds, blockDuration: limits.windowSeconds };
      return 'redis' in store
        ? new RateLimiterRedis({ ...options, storeClient: store.redis, useRedisPackage: false })
        : new RateLimiterPostgres({ ...options, storeClient: store.pool, storeType: 'pool', tableName: 'rate_limits', tableCreated: true });
    };
    this.byAccount = make('login_account', limits.perAccount);
    this.byIp = make('login_ip', limits.perIp);
  }

  // Emails are hashed in keys: a dump of the store must not list who tried to sign in.
  private accountKey(email: string) {
    return sha256Hex(email.trim().toLowerCase());
  }

  /** Seconds until another attempt is allowed, or 0 when this attempt may proceed. */
  async retryAfter(email: string, ip: string): Promise<number> {
    const [account, address] = await Promise.all([this.byAccount.get(this.accountKey(email)), this.byIp.get(ip)]);
    const blocked = (res: RateLimiterRes | null, limit: number) => (res && res.consumedPoints >= limit ? Math.ceil(res.msBeforeNext / 1000) : 0);
    return Math.max(blocked(account, this.byAccount.points), blocked(address, this.byIp.points));
  }

  async recordFailure(email: string, ip: string): Promise<void> {
    // consume() rejects once the limit is passed; that is the signal retryAfter() reads later.
    await Promise.allSettled([this.byAccount.consume(this.accountKey(email)), this.byIp.consume(ip)]);
  }

  async recordSuccess(email: string): Promise<void> {
    await this.byAccount.delete(this.accountKey(email));
  }
}

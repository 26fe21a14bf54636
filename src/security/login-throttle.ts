// Failed-login limits per account and per IP (only failures count; a success clears the
// account's counter), and a limit on accounts created per IP.
import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { sha256Hex } from '../secrets/tokens.js';
import { createLimiter, type LimiterStore } from './limiter.js';

export interface ThrottleLimits {
  perAccount: number;
  perIp: number;
  windowSeconds: number;
}

export class LoginThrottle {
  private readonly byAccount: RateLimiterAbstract;
  private readonly byIp: RateLimiterAbstract;
  private readonly signups: RateLimiterAbstract;

  constructor(store: LimiterStore, limits: ThrottleLimits, signupsPerIpPerHour: number) {
    const window = { durationSeconds: limits.windowSeconds, blockSeconds: limits.windowSeconds };
    this.byAccount = createLimiter(store, { name: 'login_account', points: limits.perAccount, ...window });
    this.byIp = createLimiter(store, { name: 'login_ip', points: limits.perIp, ...window });
    this.signups = createLimiter(store, { name: 'signup_ip', points: signupsPerIpPerHour, durationSeconds: 3600 });
  }

  /** Counts an account creation from `ip`; seconds to wait when the hourly limit is reached, else 0. */
  async signupWait(ip: string): Promise<number> {
    try {
      await this.signups.consume(ip);
      return 0;
    } catch (rejected) {
      if (rejected instanceof Error) throw rejected;
      return Math.ceil((rejected as RateLimiterRes).msBeforeNext / 1000);
    }
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

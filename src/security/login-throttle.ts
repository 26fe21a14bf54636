// Login limits per account and per IP, and a limit on sign-ups per IP.
//
// A login takes its point from both budgets *before* the password is checked, in one atomic
// step of the store (an increment), so parallel guesses cannot all pass a check made before
// any of them is counted. A wrong password keeps its point; a right one gives back only its
// own point, so a success in the middle of a burst neither resets the count nor lets the
// other guesses through. An attempt that is refused or never evaluated gives its points back.
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { sha256Hex } from '../secrets/tokens.js';
import { normalizeEmail } from '../accounts/email.js';
import { createLimiter, type LimiterStore } from './limiter.js';
import { givePointBack, takePoint } from './take-point.js';

export interface ThrottleLimits {
  perAccount: number;
  perIp: number;
  windowSeconds: number;
}

export type LoginAdmission =
  | { admitted: false; retryAfterSeconds: number }
  | {
    admitted: true;
    /** The password was right: the attempt gives its points back. */
    succeeded(): Promise<void>;
    /** The password was never checked (the server could not): the attempt gives its points back. */
    withdraw(): Promise<void>;
  };

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
  signupWait(ip: string): Promise<number> {
    return takePoint(this.signups, ip);
  }

  // Emails are hashed in keys: a dump of the store must not list who tried to sign in. The
  // same normalisation as the accounts table, so look-alike spellings share one budget.
  private accountKey(email: string) {
    return sha256Hex(normalizeEmail(email));
  }

  /** Takes this login attempt's point from the account's and the IP's budgets. */
  async admitLogin(email: string, ip: string): Promise<LoginAdmission> {
    const account = this.accountKey(email);
    const [accountWait, ipWait] = await Promise.all([takePoint(this.byAccount, account), takePoint(this.byIp, ip)]);
    if (accountWait > 0 || ipWait > 0) {
      // Not evaluated: the budget that did admit it gets its point back for a real attempt.
      await Promise.all([accountWait === 0 && givePointBack(this.byAccount, account), ipWait === 0 && givePointBack(this.byIp, ip)]);
      return { admitted: false, retryAfterSeconds: Math.max(accountWait, ipWait) };
    }
    const giveBoth = async () => {
      await Promise.all([givePointBack(this.byAccount, account), givePointBack(this.byIp, ip)]);
    };
    return { admitted: true, succeeded: giveBoth, withdraw: giveBoth };
  }
}

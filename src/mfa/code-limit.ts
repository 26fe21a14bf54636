// The limit on wrong second-factor codes (TOTP and recovery codes), per account: stricter than
// the password limit and counted apart from it, so a stolen password plus guessed codes locks
// only the second step, never the password of the owner.
//
// The point is taken atomically *before* the code is checked (take-point.ts), so parallel
// guesses are serialised by the store: a burst of 8 gets exactly the limit evaluated. A right
// code gives its own point back.
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { createLimiter, type LimiterStore } from '../security/limiter.js';
import { givePointBack, takePoint } from '../security/take-point.js';

export const WRONG_CODES_PER_WINDOW = 5;
export const CODE_WINDOW_SECONDS = 15 * 60;

export type CodeAdmission = { admitted: false; retryAfterSeconds: number } | { admitted: true; succeeded(): Promise<void> };

export class CodeLimit {
  private readonly byAccount: RateLimiterAbstract;

  constructor(store: LimiterStore) {
    this.byAccount = createLimiter(store, { name: 'mfa_account', points: WRONG_CODES_PER_WINDOW, durationSeconds: CODE_WINDOW_SECONDS, blockSeconds: CODE_WINDOW_SECONDS });
  }

  async admit(userId: string): Promise<CodeAdmission> {
    const wait = await takePoint(this.byAccount, userId);
    if (wait > 0) return { admitted: false, retryAfterSeconds: wait };
    return { admitted: true, succeeded: () => givePointBack(this.byAccount, userId) };
  }
}

export const tooManyCodes = (seconds: number) => `Too many wrong codes. Try again in ${Math.ceil(seconds / 60)} minute(s).`;

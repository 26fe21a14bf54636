// How often the mail-sending forms may be used: each mail costs a stranger's inbox (a reset
// request names any address) and the hub's sending reputation. Counted in the shared limiter
// store, a point taken before the work, like the login limits (login-throttle.ts).
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { sha256Hex } from '../secrets/tokens.js';
import { normalizeEmail } from '../accounts/email.js';
import { createLimiter, type LimiterStore } from '../security/limiter.js';
import { givePointBack, takePoint } from '../security/take-point.js';

const HOUR = 3600;

/** Per hour: for one address or account, and for one client IP. */
export const EMAIL_LIMITS = {
  resend: { perSubject: 5, perIp: 20 },
  forgot: { perSubject: 5, perIp: 20 },
  change: { perSubject: 5, perIp: 20 },
} as const;
export type MailForm = keyof typeof EMAIL_LIMITS;

export class EmailLimits {
  private readonly limiters: Record<MailForm, { subject: RateLimiterAbstract; ip: RateLimiterAbstract }>;

  constructor(store: LimiterStore) {
    const pair = (form: MailForm) => ({
      subject: createLimiter(store, { name: `mail_${form}_subject`, points: EMAIL_LIMITS[form].perSubject, durationSeconds: HOUR }),
      ip: createLimiter(store, { name: `mail_${form}_ip`, points: EMAIL_LIMITS[form].perIp, durationSeconds: HOUR }),
    });
    this.limiters = { resend: pair('resend'), forgot: pair('forgot'), change: pair('change') };
  }

  /**
   * Counts one use of `form` for `subject` (a user id, or an address as typed: hashed, and in
   * its one spelling, so look-alikes share a budget) from `ip`. 0 when it may go ahead, else the
   * seconds to wait; a refused use gives back the point the other budget took.
   */
  async wait(form: MailForm, subject: string, ip: string): Promise<number> {
    const { subject: bySubject, ip: byIp } = this.limiters[form];
    const key = sha256Hex(normalizeEmail(subject));
    const [subjectWait, ipWait] = await Promise.all([takePoint(bySubject, key), takePoint(byIp, ip)]);
    if (subjectWait > 0 || ipWait > 0) {
      await Promise.all([subjectWait === 0 && givePointBack(bySubject, key), ipWait === 0 && givePointBack(byIp, ip)]);
    }
    return Math.max(subjectWait, ipWait);
  }
}

/** What a page says when a mail form's budget is spent. */
export const tooManyMails = (waitSeconds: number) => `Too many mails were asked for. Try again in ${Math.ceil(waitSeconds / 60)} minute(s).`;

// Links to the hub page where a user confirms a change of their live subscription's plan. A
// project may ask for a plan change with the user's token, but only the user, signed in to the
// hub, can make it: the project gets this link, never the change. The link is signed (an HMAC
// under the hub's form key, bound to the user, the plan and an expiry), so nobody can make one
// for another user or plan, and it stops working after LINK_TTL_SECONDS.
import type { Csrf } from '../interactions/csrf.js';
import { isPlanId, type PlanId } from './plans.js';

export const CONFIRM_PATH = '/billing/confirm';
const LINK_TTL_SECONDS = 15 * 60;

export interface PlanChangeRequest {
  plan: string;
  expires: string;
  sig: string;
}

export class PlanChangeLinks {
  constructor(private readonly signer: Csrf, private readonly issuer: string, private readonly now: () => number = Date.now) {}

  private subject(userId: string, plan: string, expires: string) {
    return `billing-confirm:${userId}:${plan}:${expires}`;
  }

  /** The confirmation page's URL for `userId` moving to `plan`. */
  url(userId: string, plan: PlanId): string {
    const expires = String(Math.floor(this.now() / 1000) + LINK_TTL_SECONDS);
    const params = new URLSearchParams({ plan, expires, sig: this.signer.token(this.subject(userId, plan, expires)) });
    return `${this.issuer}${CONFIRM_PATH}?${params}`;
  }

  /** The plan a link asks for, when it was made for this user and has not expired. */
  verify(userId: string, request: Partial<Record<keyof PlanChangeRequest, unknown>>): PlanId | undefined {
    const { plan, expires, sig } = request;
    if (typeof plan !== 'string' || !isPlanId(plan) || typeof expires !== 'string' || !/^\d{1,12}$/.test(expires)) return undefined;
    if (Number(expires) * 1000 < this.now()) return undefined;
    return this.signer.verify(this.subject(userId, plan, expires), sig) ? plan : undefined;
  }
}

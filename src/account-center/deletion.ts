// "Delete my account": the person proves it is them and means it (their email address typed
// out, and their password when the account has one), every Stripe subscription is canceled, then
// Users.delete removes the user with what cascades from it (grants, sessions, keys, access,
// consents, mailed links) and publishes `user.deleted`.
import { Prisma } from '../generated/prisma/client.js';
import { normalizeEmail, UserError, type Users } from '../accounts/users.js';
import { verifyPassword } from '../accounts/passwords.js';
import type { Billing } from '../billing/billing.js';
import type { LoginThrottle } from '../security/login-throttle.js';

export class DeletionRefused extends Error {
  constructor(readonly status: number, message: string, readonly retryAfterSeconds?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DeletionRefused';
  }
}

export interface DeletionRequest {
  confirmation: string;
  password: string;
  /** The client's address: a password guessed here counts against the login limits too. */
  ip: string;
}

export class AccountDeletion {
  constructor(private readonly users: Users, private readonly billing: Billing, private readonly throttle: LoginThrottle) {}

  /** Whether deleting `userId` asks for a password (the account has one). */
  async needsPassword(userId: string): Promise<boolean> {
    return Boolean((await this.users.findById(userId))?.passwordHash);
  }

  /**
   * 'deleted' when this call deleted the account, 'gone' when it was not there any more (a
   * parallel request won); DeletionRefused when the checks fail or Stripe cannot be reached
   * (then nothing is deleted).
   */
  async delete(userId: string, request: DeletionRequest): Promise<'deleted' | 'gone'> {
    const user = await this.users.findById(userId);
    if (!user) return 'gone';
    if (normalizeEmail(request.confirmation) !== user.email) {
      throw new DeletionRefused(400, `Type your email address, ${user.email}, to confirm.`);
    }
    if (user.passwordHash) await this.checkPassword(user.email, user.passwordHash, request);
    try {
      await this.billing.cancelEverything(user.id);
    } catch (error) {
      throw new DeletionRefused(503, 'Your subscription could not be canceled with our payment provider, so nothing was deleted. Please try again in a moment.', undefined, { cause: error });
    }
    try {
      await this.users.delete(user.email, { type: 'user', id: user.id });
      return 'deleted';
    } catch (error) {
      // Deleted meanwhile: by a parallel request of the same person, or an operator.
      if (error instanceof UserError && error.code === 'not_found') return 'gone';
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2025') return 'gone';
      throw error;
    }
  }

  private async checkPassword(email: string, hash: string, request: DeletionRequest) {
    const admission = await this.throttle.admitLogin(email, request.ip);
    if (!admission.admitted) {
      throw new DeletionRefused(429, 'Too many wrong passwords. Wait a while, then try again.', admission.retryAfterSeconds);
    }
    let valid;
    try {
      valid = await verifyPassword(request.password, hash);
    } catch (error) {
      await admission.withdraw();
      throw error;
    }
    if (!valid) throw new DeletionRefused(400, 'That is not your current password.');
    await admission.succeeded();
  }
}

// The flows that go through the user's mailbox: verifying the address, resetting a forgotten
// password, moving the account to a new address. Each link and its mail are written in the
// transaction of the change that sends them; each link is spent in the transaction of the change
// it allows, so a rolled-back change leaves the link usable and a spent link changed something.
import type { Prisma, PrismaClient } from '../generated/prisma/client.js';
import { UserError, type SignUpMail, type User, type Users } from '../accounts/users.js';
import { isUsableEmail, normalizeEmail } from '../accounts/email.js';
import { hashPassword, passwordProblem, verifyPassword } from '../accounts/passwords.js';
import type { AccountLinks, LinkPurpose } from '../accounts/account-links.js';
import { MailError, type Mailer, type OutgoingMail } from '../mail/mailer.js';

export interface EmailFlowDeps {
  prisma: PrismaClient;
  users: Users;
  links: AccountLinks;
  mail: Pick<Mailer, 'send'>;
  issuer: string;
}

export type EmailChange =
  | { sent: true; email: string }
  | { sent: false; problem: string };

export class EmailFlows {
  constructor(private readonly deps: EmailFlowDeps) {}

  /**
   * Queues a mail. An account created before addresses had to suit a mail header (quotes,
   * semicolons; see email.ts) has nowhere to go: nothing is sent, and the answer stays the same.
   */
  private async send(mail: OutgoingMail, tx?: Prisma.TransactionClient): Promise<void> {
    try {
      await this.deps.mail.send(mail, tx);
    } catch (error) {
      // Refused before any statement: the transaction is still good.
      if (!(error instanceof MailError)) throw error;
    }
  }

  private async mailVerification(tx: Prisma.TransactionClient, user: User): Promise<void> {
    const link = await this.deps.links.issue(tx, 'verify_email', user.id, user.email);
    await this.send({ to: user.email, template: 'verify-email', data: { link, name: user.fullName ?? '' } }, tx);
  }

  /** What a public sign-up mails: the new address its link, a registered one a notice (see Users.register). */
  readonly signUpMail: SignUpMail = {
    created: (tx, user) => this.mailVerification(tx, user),
    existing: async (email) => {
      const user = await this.deps.users.findByEmail(email);
      if (!user || user.disabledAt) return;
      const { issuer } = this.deps;
      await this.send({ to: user.email, template: 'signup-existing', data: { signInLink: `${issuer}/account/login`, forgotLink: `${issuer}/account/forgot` } });
    },
  };

  /** A new verification link for a signed-in user: the address it went to, or undefined when there is nothing to verify. */
  async resendVerification(userId: string): Promise<string | undefined> {
    const user = await this.deps.users.findById(userId);
    if (!user || user.disabledAt || user.emailVerified) return undefined;
    await this.deps.prisma.$transaction((tx) => this.mailVerification(tx, user));
    return user.email;
  }

  /** Whether the link would work now (its page shows the button, or says it does not work). */
  linkIsLive(purpose: LinkPurpose, token: unknown): Promise<boolean> {
    return this.deps.links.isLive(this.deps.prisma, purpose, token);
  }

  /** Spends a verification link: the verified user, or undefined (unknown, used, expired, or for an address no longer theirs). */
  verifyEmail(token: unknown): Promise<User | undefined> {
    return this.deps.prisma.$transaction(async (tx) => {
      const holder = await this.deps.links.spend(tx, 'verify_email', token);
      return holder && this.deps.users.confirmEmail(tx, holder.userId, holder.email);
    });
  }

  /**
   * "Forgot password": a reset link if the address belongs to an enabled account, else nothing.
   * The caller answers the same either way.
   */
  async forgotPassword(email: string): Promise<void> {
    const user = await this.deps.users.findByEmail(email);
    if (!user || user.disabledAt) return;
    await this.deps.prisma.$transaction(async (tx) => {
      const link = await this.deps.links.issue(tx, 'reset_password', user.id, user.email);
      await this.send({ to: user.email, template: 'reset-password', data: { link, name: user.fullName ?? '' } }, tx);
    });
  }

  /**
   * Spends a reset link and sets the new password: every session and grant of the user ends,
   * the address is verified (the link proved it), and the address hears of the change.
   * `problem` when the password breaks the rules (the link stays usable); undefined when the
   * link does not work.
   */
  async resetPassword(token: unknown, password: string): Promise<{ user: User } | { problem: string } | undefined> {
    const problem = passwordProblem(password);
    if (problem) return { problem };
    // A dead link costs no bcrypt; a live one is still spent below with a compare-and-set.
    if (!(await this.linkIsLive('reset_password', token))) return undefined;
    const passwordHash = await hashPassword(password);
    const user = await this.deps.prisma.$transaction(async (tx) => {
      const holder = await this.deps.links.spend(tx, 'reset_password', token);
      if (!holder) return undefined;
      const reset = await this.deps.users.resetPassword(tx, holder.userId, passwordHash);
      if (!reset) return undefined;
      await this.deps.users.confirmEmail(tx, reset.id, holder.email);
      await this.send({ to: reset.email, template: 'password-changed', data: { forgotLink: `${this.deps.issuer}/account/forgot` } }, tx);
      return reset;
    });
    return user && { user };
  }

  /**
   * A signed-in user asks to move their account to `newEmail`, proving it is them with their
   * password: the new address gets the link, the current one a notice. Whether the new address
   * already has an account is not said here (that would tell who is registered): its link
   * answers that, to the owner of that mailbox.
   */
  async requestEmailChange(userId: string, newEmail: string, password: string): Promise<EmailChange> {
    const user = await this.deps.users.findById(userId);
    if (!user || user.disabledAt) return { sent: false, problem: 'Sign in to your Nexus account first.' };
    if (!(await verifyPassword(password, user.passwordHash))) return { sent: false, problem: 'Your current password is not correct.' };
    const email = normalizeEmail(newEmail);
    if (!isUsableEmail(email)) return { sent: false, problem: 'Enter a valid email address.' };
    if (email === user.email) return { sent: false, problem: 'This is already the address of your account.' };
    await this.deps.prisma.$transaction(async (tx) => {
      const link = await this.deps.links.issue(tx, 'change_email', user.id, email);
      await this.send({ to: email, template: 'change-email', data: { link, previousEmail: user.email } }, tx);
      await this.send({ to: user.email, template: 'email-change-notice', data: { newEmail: email, securityLink: `${this.deps.issuer}/account/security` } }, tx);
    });
    return { sent: true, email };
  }

  /**
   * Spends a change-of-email link: the moved account, `taken` when the address got an account of
   * its own meanwhile (nothing changes, the link still works), undefined when the link does not.
   * Every other unused link of the user stops: they were mailed to the address it left.
   */
  async confirmEmailChange(token: unknown): Promise<User | 'taken' | undefined> {
    try {
      return await this.deps.prisma.$transaction(async (tx) => {
        const holder = await this.deps.links.spend(tx, 'change_email', token);
        if (!holder) return undefined;
        const user = await this.deps.users.moveEmail(tx, holder.userId, holder.email);
        await this.deps.links.retireAll(tx, user.id);
        return user;
      });
    } catch (error) {
      if (error instanceof UserError && error.code === 'email_taken') return 'taken';
      throw error;
    }
  }
}

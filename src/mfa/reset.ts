// An operator's reset of a user's second factors (`nexus users reset-mfa`): TOTP, recovery codes
// and passkeys go, in one transaction with the `mfa.reset` event and the mail that tells the user.
import type { PrismaClient } from '../generated/prisma/client.js';
import type { Mailer } from '../mail/mailer.js';
import type { Actor, HubEvents } from '../accounts/identity-events.js';

export interface ResetReport {
  totp: boolean;
  recoveryCodes: number;
  passkeys: number;
}

export class SecondFactorReset {
  constructor(private readonly prisma: PrismaClient, private readonly mail: Pick<Mailer, 'send'>, private readonly events: HubEvents) {}

  async reset(user: { id: string; email: string }, actor: Actor): Promise<ResetReport> {
    return this.prisma.$transaction(async (tx) => {
      const totp = await tx.totpFactor.deleteMany({ where: { userId: user.id } });
      const recoveryCodes = await tx.recoveryCode.deleteMany({ where: { userId: user.id } });
      const passkeys = await tx.passkey.deleteMany({ where: { userId: user.id } });
      const report = { totp: totp.count > 0, recoveryCodes: recoveryCodes.count, passkeys: passkeys.count };
      await this.events.inTransaction(tx, actor, [{ type: 'mfa.reset', subject: user.id, data: report }]);
      await this.mail.send({ to: user.email, template: 'mfa-reset', data: { passkeys: report.passkeys, totp: report.totp } }, tx);
      return report;
    });
  }
}

// The second-factor libraries of one hub (or of the CLI), on one database and one event bus.
import type { PrismaClient } from '../generated/prisma/client.js';
import type { SecretBox } from '../secrets/box.js';
import type { Mailer } from '../mail/mailer.js';
import { HubEvents, type EventPublisher } from '../accounts/identity-events.js';
import { TotpFactors } from './totp.js';
import { RecoveryCodes } from './recovery-codes.js';
import { SecondFactorReset } from './reset.js';

export function createSecondFactors(prisma: PrismaClient, box: SecretBox, mail: Pick<Mailer, 'send'>, bus: EventPublisher) {
  const events = new HubEvents(prisma, bus);
  return {
    totp: new TotpFactors(prisma, box, events),
    recoveryCodes: new RecoveryCodes(prisma, events),
    reset: new SecondFactorReset(prisma, mail, events),
  };
}

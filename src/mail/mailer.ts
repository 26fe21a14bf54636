// Queues the hub's mail durably: one row in mail_outbox, written in the caller's transaction so a
// mail exists exactly when the change that sends it does, and never waits for SMTP (the worker,
// worker.ts, renders and sends it off the request path). The template data (links with tokens in
// them) is sealed at rest and dropped once the mail is sent or has failed.
import { randomUUID } from 'node:crypto';
import type { Prisma, PrismaClient } from '../generated/prisma/client.js';
import type { SecretBox } from '../secrets/box.js';
import { isUsableEmail } from '../accounts/email.js';
import { publishChange } from '../db/changes.js';

export interface OutgoingMail {
  /** One plain address (no display name, no list). */
  to: string;
  /**
   * views/mail/<template>.text.ejs (first line the subject, a blank line, the text body) and
   * views/mail/<template>.html.ejs (the HTML body, inside views/mail/layout.html.ejs).
   */
  template: string;
  /**
   * The templates' locals (JSON values), beside `product` and `issuer`, which the hub sets:
   * `{ link: '…' }` is `<%= link %>` in the template.
   */
  data: Record<string, unknown>;
}

export class MailError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MailError';
  }
}

/** Lower-case names; `layout` and a leading `_` are kept for the layout and its partials. */
const TEMPLATE_NAME = /^(?!layout$)[a-z0-9][a-z0-9_-]{0,63}$/;

/** The context that binds a mail's sealed data to its row. */
export const sealContext = (id: string) => `mail:${id}`;

export class Mailer {
  constructor(private readonly prisma: PrismaClient, private readonly box: SecretBox) {}

  /**
   * Queues `mail` (inside `tx` when given: it is sent only if that commits) and wakes the mail
   * workers of every instance. Refuses an address or template name that cannot be sent.
   */
  async send(mail: OutgoingMail, tx?: Prisma.TransactionClient): Promise<void> {
    if (typeof mail.to !== 'string' || !isUsableEmail(mail.to)) {
      throw new MailError('the recipient is not one plain email address');
    }
    if (typeof mail.template !== 'string' || !TEMPLATE_NAME.test(mail.template)) {
      throw new MailError('the mail template name must be lower-case letters, digits, - and _');
    }
    const id = randomUUID();
    const sealed = this.box.seal(JSON.stringify(mail.data ?? {}), sealContext(id));
    const db = tx ?? this.prisma;
    await db.mailMessage.create({ data: { id, to: mail.to, template: mail.template, sealed } });
    await publishChange(db, 'mail');
  }
}

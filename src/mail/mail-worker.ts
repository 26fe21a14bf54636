// Builds this instance's mail worker from the configuration: SMTP when SMTP_URL is set, the
// outbox folder otherwise; the operator's templates (MAIL_TEMPLATES_DIR) before the hub's.
import path from 'node:path';
import type { Config } from '../config.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { Logger } from '../logger.js';
import type { SecretBox } from '../secrets/box.js';
import { Outbox } from './outbox.js';
import { MAIL_VIEWS_DIR, MailTemplates } from './templates.js';
import { outboxTransport, smtpTransport } from './transport.js';
import { MailWorker } from './worker.js';

export const PRODUCT = 'Nexus';

/** Undefined when this instance sends no mail (MAIL_WORKER=false): other instances do. */
export async function createMailWorker(config: Config, prisma: PrismaClient, box: SecretBox, log: Logger): Promise<MailWorker | undefined> {
  if (!config.mail.worker) return undefined;
  const outboxDir = path.join(config.dataDir, 'outbox');
  if (!config.mail.smtpUrl) log.warn({ dir: outboxDir }, 'SMTP_URL is not set: mails are written to the outbox folder instead of being sent');
  const transport = config.mail.smtpUrl ? await smtpTransport(config.mail) : outboxTransport(config.mail.from, outboxDir);
  const templates = new MailTemplates(
    config.mail.templatesDir ? [config.mail.templatesDir, MAIL_VIEWS_DIR] : [MAIL_VIEWS_DIR],
    { product: PRODUCT, issuer: config.issuer },
  );
  return new MailWorker({ outbox: new Outbox(prisma), box, templates, transport, log }, config.mail);
}

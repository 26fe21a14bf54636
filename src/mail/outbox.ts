// mail_outbox as a queue: workers claim due mails with `FOR UPDATE SKIP LOCKED` and a lease
// (`locked_until`), so instances never take the same mail at once and a killed process's claim
// lapses (the mail is then sent by whoever claims it next). Each claim counts an attempt; an
// outcome is written only by the claim it belongs to (its attempt number), so a worker whose
// lease lapsed cannot overwrite what the next claim found.
import type { PrismaClient } from '../generated/prisma/client.js';

export interface ClaimedMail {
  id: string;
  to: string;
  template: string;
  /** Null only for a row no longer pending (it is then skipped). */
  sealed: string | null;
  /** This attempt's number, from 1. */
  attempt: number;
}

export type MailOutcome =
  | { sent: true }
  /** `retryAt` null: the mail has failed for good. */
  | { sent: false; error: string; retryAt: Date | null };

export class Outbox {
  constructor(private readonly prisma: PrismaClient) {}

  claim(limit: number, leaseMs: number): Promise<ClaimedMail[]> {
    return this.prisma.$queryRaw<ClaimedMail[]>`
      WITH due AS (
        SELECT id FROM mail_outbox
        WHERE status = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now())
        ORDER BY next_attempt_at LIMIT ${limit} FOR UPDATE SKIP LOCKED
      )
      UPDATE mail_outbox m SET locked_until = now() + ${leaseMs} * interval '1 millisecond', attempts = m.attempts + 1
      FROM due WHERE m.id = due.id
      RETURNING m.id, m.to_address AS "to", m.template, m.sealed, m.attempts AS attempt`;
  }

  /** Forgets sent and failed mails (their recipients and templates) older than `keepMs`; answers how many. */
  sweep(keepMs: number): Promise<number> {
    return this.prisma.mailMessage.deleteMany({ where: { status: { not: 'pending' }, createdAt: { lt: new Date(Date.now() - keepMs) } } }).then((r) => r.count);
  }

  /** The data is dropped once the mail is sent or has failed: only a pending mail keeps it. */
  async record(mail: ClaimedMail, outcome: MailOutcome): Promise<void> {
    const mine = { id: mail.id, status: 'pending', attempts: mail.attempt };
    if (outcome.sent) {
      await this.prisma.mailMessage.updateMany({ where: mine, data: { status: 'sent', sentAt: new Date(), sealed: null, lockedUntil: null, lastError: null } });
    } else if (outcome.retryAt) {
      await this.prisma.mailMessage.updateMany({ where: mine, data: { nextAttemptAt: outcome.retryAt, lockedUntil: null, lastError: outcome.error } });
    } else {
      await this.prisma.mailMessage.updateMany({ where: mine, data: { status: 'failed', sealed: null, lockedUntil: null, lastError: outcome.error } });
    }
  }
}

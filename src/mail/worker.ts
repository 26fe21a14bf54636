// The mail worker of one hub instance: claims due mails (outbox.ts), opens their data, renders
// them (templates.ts) and hands them to the transport, then records what happened. Woken by the
// change channel's `mail` topic when a queueing transaction commits (here or on another
// instance), and otherwise polls (a notification can be missed, a retry falls due, a claim lapses).
import type { Logger } from '../logger.js';
import { Doorbell } from '../db/doorbell.js';
import type { SecretBox } from '../secrets/box.js';
import { sealContext } from './mailer.js';
import type { ClaimedMail, MailOutcome, Outbox } from './outbox.js';
import { TemplateError, type MailTemplates } from './templates.js';
import { describeFailure, type MailTransport } from './transport.js';

const POLL_MS = 1_000;
/** Mails sent at once by one instance: enough for bursts, few enough for a small SMTP relay. */
const BATCH = 8;
/** Sent and failed mails are kept this long (what was sent to whom, for support), then forgotten. */
const KEEP_MS = 30 * 86_400_000;
const SWEEP_EVERY_MS = 3_600_000;

export interface MailWorkerDeps {
  outbox: Outbox;
  box: SecretBox;
  templates: MailTemplates;
  transport: MailTransport;
  log: Logger;
}

export interface MailWorkerOptions {
  /** Delays before the 2nd, 3rd… attempt; after the last, the mail has failed. */
  retrySchedule: number[];
  /** How long one send may take before it is abandoned (and tried again later). */
  timeoutMs: number;
}

/** The recipient as logs may name it: its domain only. */
const domainOf = (address: string) => address.slice(address.lastIndexOf('@') + 1);

export class MailWorker {
  private readonly bell = new Doorbell();
  private running = false;
  private loop: Promise<void> | undefined;
  private nextSweep = 0;

  constructor(private readonly deps: MailWorkerDeps, private readonly options: MailWorkerOptions) {}

  /**
   * A claim outlives the longest send (abandoned at timeoutMs, its connection idle-limited to the
   * same), with room to record the outcome: no second instance takes a mail still being sent.
   */
  get leaseMs() {
    return 2 * this.options.timeoutMs + 5_000;
  }

  start() {
    this.loop ??= this.run();
  }

  /** A mail was queued: claim now rather than at the next poll. */
  wake() {
    this.bell.ring();
  }

  /** Mails being sent finish (each bounded by the timeout) and are recorded. */
  async stop() {
    this.running = false;
    this.bell.ring();
    await this.loop;
  }

  private async run() {
    this.running = true;
    while (this.running) {
      // Whatever was committed before a ring is what this claim sees: rings until now are answered.
      this.bell.clear();
      let claimed: ClaimedMail[] = [];
      try {
        claimed = await this.deps.outbox.claim(BATCH, this.leaseMs);
      } catch (error) {
        this.deps.log.warn({ err: (error as Error).message }, 'mail worker could not claim mails; retrying');
      }
      await Promise.all(claimed.map((mail) => this.send(mail)));
      await this.sweep();
      // A full batch may have left more behind: go again at once.
      if (claimed.length < BATCH && this.running) await this.bell.wait(POLL_MS);
    }
  }

  private async sweep() {
    if (Date.now() < this.nextSweep) return;
    this.nextSweep = Date.now() + SWEEP_EVERY_MS;
    try {
      const count = await this.deps.outbox.sweep(KEEP_MS);
      if (count) this.deps.log.info({ count }, 'old sent and failed mails removed');
    } catch (error) {
      this.deps.log.warn({ err: (error as Error).message }, 'mail sweep failed');
    }
  }

  private async send(mail: ClaimedMail) {
    const about = { mailId: mail.id, template: mail.template, domain: domainOf(mail.to), attempt: mail.attempt };
    let outcome: MailOutcome;
    let file: string | undefined;
    try {
      ({ file } = await this.deliver(mail));
      outcome = { sent: true };
    } catch (error) {
      outcome = this.failure(error, mail.attempt);
    }
    try {
      await this.deps.outbox.record(mail, outcome);
    } catch (error) {
      // Not recorded: the claim lapses and the mail is tried again (it may arrive twice).
      this.deps.log.warn({ ...about, err: (error as Error).message }, 'mail worker could not record an outcome');
      return;
    }
    if (outcome.sent) {
      if (file) this.deps.log.info({ ...about, file }, 'mail written to the outbox folder (no SMTP_URL)');
      else this.deps.log.info(about, 'mail sent');
    } else if (outcome.retryAt) {
      this.deps.log.warn({ ...about, error: outcome.error, retryAt: outcome.retryAt.toISOString() }, 'mail not sent; will retry');
    } else {
      this.deps.log.error({ ...about, error: outcome.error }, 'mail failed for good');
    }
  }

  private async deliver(mail: ClaimedMail): Promise<{ file?: string }> {
    if (mail.sealed === null) throw new TemplateError('the mail has no data');
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(this.deps.box.open(mail.sealed, sealContext(mail.id))) as Record<string, unknown>;
    } catch {
      throw new TemplateError('the mail\'s data cannot be opened (another master key?)');
    }
    const rendered = await this.deps.templates.render(mail.template, data);
    return withDeadline(this.deps.transport.deliver({ id: mail.id, to: mail.to, ...rendered }), this.options.timeoutMs);
  }

  /** A template that cannot render, or a server's 5xx to this mail, fails it; the rest is retried. */
  private failure(error: unknown, attempt: number): MailOutcome {
    if (error instanceof TemplateError) return { sent: false, error: error.message, retryAt: null };
    const { error: description, permanent } = describeFailure(error);
    return { sent: false, error: description, retryAt: permanent ? null : this.retryAt(attempt) };
  }

  private retryAt(attempt: number): Date | null {
    const delay = this.options.retrySchedule[attempt - 1];
    return delay === undefined ? null : new Date(Date.now() + delay);
  }
}

/** `work`, or a timeout error once `ms` have passed (the work is abandoned, not cancelled). */
function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

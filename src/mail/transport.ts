// Where rendered mail goes: an SMTP server (SMTP_URL), or without one the outbox folder
// DATA_DIR/outbox/, one RFC 5322 .eml file per mail (what an operator opens in a mail client or
// reads with `cat`), so a hub without SMTP still delivers sign-up and recovery links somewhere.
import fs from 'node:fs/promises';
import path from 'node:path';
import { createTransport } from 'nodemailer';
import type { Config } from '../config.js';

/** A rendered mail, ready for the wire. */
export interface SendableMail {
  id: string;
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface MailTransport {
  /** Sends (or writes) one mail; answers the outbox file it was written to, if any. */
  deliver(mail: SendableMail): Promise<{ file?: string }>;
}

/** The transport's failure, in words that carry no address, response text or body. */
export interface DeliveryFailure {
  error: string;
  /** The server refused this mail for good (5xx to the recipient or the message). */
  permanent: boolean;
}

function message(from: string, mail: SendableMail) {
  return {
    from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html,
    // RFC 3834: no vacation replies or bounces-to-sender loops for mail no one wrote.
    headers: { 'Auto-Submitted': 'auto-generated' },
    // The data is the callers', not ours to resolve: no file or URL attachments, ever.
    disableFileAccess: true, disableUrlAccess: true,
  };
}

export function describeFailure(error: unknown): DeliveryFailure {
  const e = error as { code?: string; originalCode?: string; responseCode?: number };
  const code = e.responseCode ? ` (${e.responseCode})` : '';
  const refused = (e.responseCode ?? 0) >= 500;
  if (/CERT|SIGNATURE|ERR_TLS/.test(e.originalCode ?? '')) {
    return { error: `the SMTP server's TLS certificate is not trusted (${e.originalCode}); a private CA goes in SMTP_TLS_CA_FILE`, permanent: false };
  }
  switch (e.code) {
    case 'EENVELOPE': return { error: `the SMTP server refused the recipient${code}`, permanent: refused };
    case 'EMESSAGE': return { error: `the SMTP server refused the message${code}`, permanent: refused };
    case 'EAUTH': return { error: 'the SMTP server refused the credentials in SMTP_URL', permanent: false };
    case 'ETLS': return { error: 'TLS with the SMTP server failed', permanent: false };
    case 'ETIMEDOUT': return { error: 'the SMTP server timed out', permanent: false };
    case 'ECONNECTION': case 'ESOCKET': case 'EDNS':
      return { error: `could not reach the SMTP server (${e.originalCode ?? e.code})`, permanent: false };
    default: return { error: `sending failed (${e.code ?? 'error'})${code}`, permanent: false };
  }
}

export async function smtpTransport(config: Config['mail']): Promise<MailTransport> {
  const ca = config.tlsCaFile
    ? await fs.readFile(config.tlsCaFile).catch((error: NodeJS.ErrnoException) => {
      throw new Error(`SMTP_TLS_CA_FILE cannot be read (${error.code ?? error.message})`);
    })
    : undefined;
  const transporter = createTransport({
    url: config.smtpUrl,
    ...(ca ? { tls: { ca } } : {}),
    connectionTimeout: config.timeoutMs, greetingTimeout: config.timeoutMs, socketTimeout: config.timeoutMs, dnsTimeout: config.timeoutMs,
  });
  return {
    async deliver(mail) {
      await transporter.sendMail(message(config.from, mail));
      return {};
    },
  };
}

export function outboxTransport(from: string, dir: string): MailTransport {
  const transporter = createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  return {
    async deliver(mail) {
      const info = await transporter.sendMail(message(from, mail));
      // Private: a mail holds a one-time link. Written whole, then renamed: a reader never sees half.
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${mail.id}.eml`);
      await fs.writeFile(`${file}.tmp`, info.message as Buffer, { mode: 0o600 });
      await fs.rename(`${file}.tmp`, file);
      return { file };
    },
  };
}

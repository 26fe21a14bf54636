// A real SMTP server (smtp-server) on a loopback port for tests that follow the hub's mail:
// every message it accepts is parsed with mailparser and kept in `messages`. Point a hub at it
// with `startTestHub({ ...smtp.env })`.
//
//   const smtp = await startSmtp();
//   const hub = await startTestHub(smtp.env);
//   ... something that mails ada@example.com ...
//   const mail = await smtp.waitFor('ada@example.com', (m) => m.subject.includes('Verify'));
//   mail.links[0] // the first http(s) link of the text part
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';

export interface ReceivedMail {
  /** The envelope's recipients (RCPT TO), lower-cased. */
  to: string[];
  /** The envelope's sender (MAIL FROM). */
  envelopeFrom: string;
  /** The From header as written, e.g. `Nexus <no-reply@localhost>`. */
  from: string;
  subject: string;
  text: string;
  /** The HTML part ('' when there is none). */
  html: string;
  /** The http(s) links of the text part, in order. */
  links: string[];
  /** The message as it came over the wire (headers and body). */
  raw: string;
  parsed: ParsedMail;
}

export interface SmtpOptions {
  /** Require AUTH with these credentials (they go into the URL). */
  auth?: { user: string; pass: string };
  /** Implicit TLS (smtps://) with a throwaway certificate for 127.0.0.1, trusted through `env.SMTP_TLS_CA_FILE`. */
  tls?: boolean;
  /** Listen on this port (e.g. one a hub was pointed at before the server was up). */
  port?: number;
}

export interface TestSmtp {
  /** smtp:// or smtps://, with the credentials when AUTH is on. */
  url: string;
  port: number;
  /** What a hub needs to send here: SMTP_URL, and SMTP_TLS_CA_FILE for tls. */
  env: Record<string, string>;
  messages: ReceivedMail[];
  /** AUTH attempts with wrong credentials so far. */
  rejectedLogins: number;
  /** The first message (already received or still to come) to `to` that passes `predicate`. */
  waitFor(to: string, predicate?: (mail: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  /** The next `count` messages are refused with a temporary error (451) at MAIL FROM. */
  failNext(count: number): void;
  /** Messages to `address` are refused for good (550 at RCPT TO), as for a mailbox that does not exist. */
  refuseRecipient(address: string): void;
  /**
   * The next `count` messages are taken in but never answered (a stuck server): the promise
   * settles when the first of them has arrived.
   */
  hangNext(count: number): Promise<void>;
  stop(): Promise<void>;
}

const run = promisify(execFile);

async function throwawayCertificate(dir: string) {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']);
  return { key: await fs.readFile(key), cert: await fs.readFile(cert), certFile: cert };
}

const addressesOf = (field: ParsedMail['from']) => (field ? (Array.isArray(field) ? field : [field]).map((a) => a.text).join(', ') : '');

export async function startSmtp(options: SmtpOptions = {}): Promise<TestSmtp> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nexus-smtp-'));
  const tls = options.tls ? await throwawayCertificate(dir) : undefined;
  const messages: ReceivedMail[] = [];
  const waiters = new Set<() => void>();
  let failures = 0;
  const refused = new Set<string>();
  let hangs = 0;
  let hung: (() => void) | undefined;
  const stuck = new Set<() => void>();

  const serverOptions: SMTPServerOptions = {
    secure: Boolean(tls),
    ...(tls ? { key: tls.key, cert: tls.cert } : {}),
    // Plain smtp:// is plain here: no STARTTLS offered, so AUTH runs over the bare connection.
    disabledCommands: options.auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    allowInsecureAuth: true,
    authOptional: !options.auth,
    logger: false,
    // Connections still open at stop() are cut soon rather than after smtp-server's 30 s.
    closeTimeout: 500,
    onAuth(auth, _session, callback) {
      if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass) return callback(null, { user: auth.username });
      testSmtp.rejectedLogins += 1;
      return callback(new Error('Invalid username or password'));
    },
    onMailFrom(_address, _session, callback) {
      if (failures > 0) {
        failures -= 1;
        return callback(Object.assign(new Error('Try again later'), { responseCode: 451 }));
      }
      return callback();
    },
    onRcptTo(address, _session, callback) {
      if (refused.has(address.address.toLowerCase())) return callback(Object.assign(new Error('No such mailbox'), { responseCode: 550 }));
      return callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (hangs > 0) {
          hangs -= 1;
          hung?.();
          // Answered (with a failure) only when the server stops, so its connections close.
          stuck.add(() => callback(new Error('stopped')));
          return;
        }
        const raw = Buffer.concat(chunks);
        simpleParser(raw).then((parsed) => {
          const text = parsed.text ?? '';
          messages.push({
            to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
            envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            from: addressesOf(parsed.from),
            subject: parsed.subject ?? '',
            text,
            html: typeof parsed.html === 'string' ? parsed.html : '',
            links: text.match(/https?:\/\/[^\s<>"]+/g) ?? [],
            raw: raw.toString('utf8'),
            parsed,
          });
          for (const wake of waiters) wake();
          callback();
        }, (error: Error) => callback(error));
      });
    },
  };
  const server = new SMTPServer(serverOptions);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  const credentials = options.auth ? `${encodeURIComponent(options.auth.user)}:${encodeURIComponent(options.auth.pass)}@` : '';
  const url = `${tls ? 'smtps' : 'smtp'}://${credentials}127.0.0.1:${port}`;

  const testSmtp: TestSmtp = {
    url,
    port,
    env: { SMTP_URL: url, ...(tls ? { SMTP_TLS_CA_FILE: tls.certFile } : {}) },
    messages,
    rejectedLogins: 0,
    waitFor(to, predicate = () => true, timeoutMs = 10_000) {
      const wanted = to.toLowerCase();
      const find = () => messages.find((m) => m.to.includes(wanted) && predicate(m));
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = find();
          if (!found) return;
          finish();
          resolve(found);
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`no matching mail to ${to} within ${timeoutMs} ms (${messages.length} received: ${messages.map((m) => `${m.to.join(',')} "${m.subject}"`).join('; ')})`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    failNext(count) {
      failures = count;
    },
    refuseRecipient(address) {
      refused.add(address.toLowerCase());
    },
    hangNext(count) {
      hangs = count;
      return new Promise<void>((resolve) => {
        hung = () => {
          hung = undefined;
          resolve();
        };
      });
    },
    async stop() {
      for (const answer of stuck) answer();
      stuck.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
  return testSmtp;
}

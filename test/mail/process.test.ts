// The hub as a real process, its JSON log captured: the outbox folder without SMTP_URL, SMTP
// down and back, and SIGKILL while a mail is being sent. Mails are queued from the test on the
// process's database (no flow of its own here), which also shows the change channel waking
// another process's worker. The logs name files, ids, templates and domains: never a link,
// a body or a whole address.
import fs from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import { startProcessHub, type ProcessHub } from '../support/process-hub.js';
import { freePort, runServer, waitForReady, type ServerProcess } from '../support/process.js';
import { startSmtp, type TestSmtp } from '../support/smtp.js';
import { eventually, link, MAIL_ENV, openQueue, rowsTo } from './support.js';

let hub: ProcessHub | undefined;
let restarted: ServerProcess | undefined;
let smtp: TestSmtp | undefined;
let queue: Awaited<ReturnType<typeof openQueue>> | undefined;

afterEach(async () => {
  await queue?.close();
  await restarted?.stop('SIGKILL');
  await hub?.stop();
  await smtp?.stop();
  queue = undefined;
  restarted = undefined;
  hub = undefined;
  smtp = undefined;
});

/** Every log line of the run: none may carry the token or the recipient's local part. */
function expectDiscreet(lines: string, token: string, localPart: string) {
  expect(lines).not.toContain(token);
  expect(lines).not.toContain(`${localPart}@`);
  expect(lines).not.toContain('open this link');
}

const logLine = (hub: ProcessHub, msg: string) => hub.logs().find((line) => line.msg === msg);

describe('the hub process sending mail', () => {
  it('writes mail to DATA_DIR/outbox/ as .eml files without SMTP_URL, and logs the file only', async () => {
    hub = await startProcessHub({ ...MAIL_ENV });
    queue = await openQueue(hub.env);
    const token = randomBytes(24).toString('base64url');
    const url = link(hub.url, token);
    await queue.mailer.send({ to: 'grace.hopper@example.org', template: 'welcome', data: { name: 'Grace', link: url } });

    const written = await eventually(() => {
      const line = logLine(hub!, 'mail written to the outbox folder (no SMTP_URL)');
      expect(line).toBeDefined();
      return line!;
    });
    expect(written).toMatchObject({ template: 'welcome', domain: 'example.org' });
    const file = written.file as string;
    expect(file.startsWith(`${hub.env.DATA_DIR}/outbox/`)).toBe(true);
    expect(file.endsWith(`${written.mailId as string}.eml`)).toBe(true);
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);

    const mail = await simpleParser(await fs.readFile(file));
    expect(mail.subject).toBe('Welcome to Nexus, Grace');
    expect(mail.text).toContain(url);
    expect(mail.html).toContain('Hello Grace,');
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.text : '').toBe('grace.hopper@example.org');
    expect(mail.from?.text).toBe(`"Nexus" <no-reply@localhost>`);
    expect((await fs.readdir(`${hub.env.DATA_DIR}/outbox`)).filter((name) => name.endsWith('.tmp'))).toEqual([]);

    const [row] = await rowsTo(queue.prisma, 'grace.hopper@example.org');
    expect(row).toMatchObject({ status: 'sent', sealed: null, attempts: 1 });
    expect(logLine(hub, 'SMTP_URL is not set: mails are written to the outbox folder instead of being sent')).toBeDefined();
    expectDiscreet(hub.server.output(), token, 'grace.hopper');
  });

  it('keeps retrying while the SMTP server is down and delivers once it is back', async () => {
    const port = await freePort();
    hub = await startProcessHub({ ...MAIL_ENV, SMTP_URL: `smtp://127.0.0.1:${port}` });
    queue = await openQueue(hub.env);
    const token = randomBytes(24).toString('base64url');
    await queue.mailer.send({ to: 'down.user@example.net', template: 'welcome', data: { name: 'D', link: link(hub.url, token) } });

    const retrying = await eventually(() => {
      const line = logLine(hub!, 'mail not sent; will retry');
      expect(line).toBeDefined();
      return line!;
    });
    expect(retrying).toMatchObject({ template: 'welcome', domain: 'example.net', error: 'could not reach the SMTP server (ECONNREFUSED)' });
    await eventually(async () => expect((await rowsTo(queue!.prisma, 'down.user@example.net'))[0].attempts).toBeGreaterThanOrEqual(2), 10_000);

    smtp = await startSmtp({ port });
    const mail = await smtp.waitFor('down.user@example.net', undefined, 10_000);
    expect(mail.text).toContain(token);
    await eventually(async () => expect((await rowsTo(queue!.prisma, 'down.user@example.net'))[0]).toMatchObject({ status: 'sent', sealed: null, lastError: null }));
    expect(smtp.messages).toHaveLength(1);
    expectDiscreet(hub.server.output(), token, 'down.user');
  });

  it('loses nothing to SIGKILL mid-send: the claim lapses and the restarted hub sends the mail', async () => {
    smtp = await startSmtp({ auth: { user: 'hub', pass: 'secret-pass' } });
    const hanging = smtp.hangNext(1);
    // SMTP_TIMEOUT 2: a claim lasts 2 × 2 s + 5 s, and the kill comes well before the send's own 2 s.
    hub = await startProcessHub({ ...MAIL_ENV, ...smtp.env, SMTP_TIMEOUT: '2' });
    queue = await openQueue(hub.env);
    const token = randomBytes(24).toString('base64url');
    await queue.mailer.send({ to: 'killed@example.com', template: 'welcome', data: { name: 'K', link: link(hub.url, token) } });
    await hanging;
    await hub.server.stop('SIGKILL');
    const [claimed] = await rowsTo(queue.prisma, 'killed@example.com');
    expect(claimed).toMatchObject({ status: 'pending', attempts: 1 });
    expect(claimed.lockedUntil!.getTime()).toBeGreaterThan(Date.now());
    // Queued while no hub runs at all: waits in the table.
    await queue.mailer.send({ to: 'meanwhile@example.com', template: 'welcome', data: { name: 'M', link: link(hub.url, token) } });

    restarted = runServer(hub.env);
    await waitForReady(hub.url, restarted);
    await smtp.waitFor('meanwhile@example.com', undefined, 10_000);
    const mail = await smtp.waitFor('killed@example.com', undefined, 30_000);
    expect(mail.text).toContain(token);
    await eventually(async () => expect((await rowsTo(queue!.prisma, 'killed@example.com'))[0]).toMatchObject({ status: 'sent', attempts: 2, sealed: null }));
    expect(smtp.messages.filter((m) => m.to.includes('killed@example.com'))).toHaveLength(1);
    expect(smtp.rejectedLogins).toBe(0);
    expectDiscreet(hub.server.output() + restarted.output(), token, 'killed');
    expect(hub.server.output() + restarted.output()).not.toContain('secret-pass');
  }, 90_000);
});

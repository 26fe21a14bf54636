// Two hub instances on one database, both with a mail worker, sending over implicit TLS
// (smtps://, a throwaway certificate trusted through SMTP_TLS_CA_FILE) with AUTH: each mail
// queued is sent exactly once. An instance with MAIL_WORKER=false queues but never sends.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSecondInstance, startTestHub, type SecondInstance, type TestHub } from '../support/hub.js';
import { startSmtp, type TestSmtp } from '../support/smtp.js';
import { eventually, link, MAIL_ENV, rowsTo, sleep } from './support.js';

const MAILS = 20;
let smtp: TestSmtp;
let first: TestHub;
let second: SecondInstance;

beforeAll(async () => {
  smtp = await startSmtp({ tls: true, auth: { user: 'relay', pass: randomBytes(12).toString('hex') } });
  first = await startTestHub({ ...smtp.env, ...MAIL_ENV });
  second = await startSecondInstance(first);
});

afterAll(async () => {
  await second?.stop();
  await first?.stop();
  await smtp?.stop();
});

describe('several instances', () => {
  it('send each of 20 mails queued at once on both exactly once', async () => {
    expect(smtp.url.startsWith('smtps://')).toBe(true);
    const recipients = Array.from({ length: MAILS }, (_, n) => `user${n}@example.com`);
    let release!: () => void;
    const barrier = new Promise<void>((resolve) => { release = resolve; });
    const queued = recipients.map(async (to, n) => {
      await barrier;
      const hub = n % 2 ? second.hub : first.hub;
      await hub.mail.send({ to, template: 'welcome', data: { name: `n${n}`, link: link(first.url, randomBytes(16).toString('base64url')) } });
    });
    release();
    await Promise.all(queued);

    await Promise.all(recipients.map((to) => smtp.waitFor(to, undefined, 20_000)));
    await sleep(1_000); // a second send of any of them would have come by now
    expect(smtp.messages).toHaveLength(MAILS);
    for (const to of recipients) expect(smtp.messages.filter((m) => m.to.includes(to)), to).toHaveLength(1);
    expect(smtp.rejectedLogins).toBe(0);
    const rows = await first.hub.db.prisma.mailMessage.findMany();
    expect(rows.every((row) => row.status === 'sent' && row.attempts === 1 && row.sealed === null)).toBe(true);
  });
});

describe('MAIL_WORKER=false', () => {
  it('queues mail and leaves the sending to the instances that have a worker', async () => {
    const queueOnly = await startTestHub({ ...smtp.env, ...MAIL_ENV, MAIL_WORKER: 'false' });
    try {
      expect(queueOnly.hub.mailWorker).toBeUndefined();
      await queueOnly.hub.mail.send({ to: 'queued@example.com', template: 'welcome', data: { name: 'Q', link: link(queueOnly.url, 'x') } });
      await sleep(1_500);
      expect(await rowsTo(queueOnly.hub.db.prisma, 'queued@example.com')).toMatchObject([{ status: 'pending', attempts: 0 }]);
      expect(smtp.messages.filter((m) => m.to.includes('queued@example.com'))).toHaveLength(0);
    } finally {
      await queueOnly.stop();
    }
  });
});

describe('smtps:// without the certificate trusted', () => {
  it('refuses the server and keeps the mail for a retry', async () => {
    const untrusting = await startTestHub({ SMTP_URL: smtp.url, ...MAIL_ENV, MAIL_RETRY_SCHEDULE: '1h' });
    try {
      await untrusting.hub.mail.send({ to: 'tls@example.com', template: 'welcome', data: { name: 'T', link: link(untrusting.url, 'x') } });
      await eventually(async () => expect((await rowsTo(untrusting.hub.db.prisma, 'tls@example.com'))[0]).toMatchObject({
        status: 'pending', attempts: 1, lastError: expect.stringMatching(/certificate/),
      }));
      expect(smtp.messages.filter((m) => m.to.includes('tls@example.com'))).toHaveLength(0);
    } finally {
      await untrusting.stop();
    }
  });
});

describe('wrong credentials in SMTP_URL', () => {
  it('are refused by the server; the mail waits for a retry, the password is nowhere in the row', async () => {
    const wrong = new URL(smtp.url);
    wrong.password = 'not-the-password';
    const rejectedBefore = smtp.rejectedLogins;
    const misconfigured = await startTestHub({ ...smtp.env, SMTP_URL: wrong.toString(), ...MAIL_ENV, MAIL_RETRY_SCHEDULE: '1h' });
    try {
      await misconfigured.hub.mail.send({ to: 'auth@example.com', template: 'welcome', data: { name: 'A', link: link(misconfigured.url, 'x') } });
      const [row] = await eventually(async () => {
        const rows = await rowsTo(misconfigured.hub.db.prisma, 'auth@example.com');
        expect(rows[0]).toMatchObject({ status: 'pending', attempts: 1, lastError: 'the SMTP server refused the credentials in SMTP_URL' });
        return rows;
      });
      expect(JSON.stringify(row)).not.toContain('not-the-password');
      expect(smtp.rejectedLogins).toBe(rejectedBefore + 1);
    } finally {
      await misconfigured.stop();
    }
  });
});

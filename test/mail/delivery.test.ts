// A real hub sends its queued mail to a real SMTP server that requires AUTH (the credentials
// come from SMTP_URL): both parts, the From of MAIL_FROM, the link intact, the data sealed at
// rest and dropped once sent; what cannot be sent is refused or fails without retrying.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { startSmtp, type TestSmtp } from '../support/smtp.js';
import { MailError } from '../../src/mail/mailer.js';
import { eventually, link, MAIL_ENV, rowsTo, sleep } from './support.js';

let smtp: TestSmtp;
let hub: TestHub;
const token = () => randomBytes(24).toString('base64url');

beforeAll(async () => {
  smtp = await startSmtp({ auth: { user: 'nexus', pass: 'p@ss word/:' } });
  hub = await startTestHub({ ...smtp.env, ...MAIL_ENV, MAIL_FROM: 'Nexus Accounts <accounts@id.example.com>' });
});

afterAll(async () => {
  await hub?.stop();
  await smtp?.stop();
});

describe('mail over SMTP', () => {
  it('delivers a queued mail with its text and HTML parts, from MAIL_FROM, the link intact', async () => {
    const to = 'ada@example.com';
    const url = link(hub.url, token());
    await hub.hub.mail.send({ to, template: 'welcome', data: { name: 'Ada <b>', link: url } });

    const mail = await smtp.waitFor(to);
    expect(smtp.rejectedLogins).toBe(0);
    expect(mail.from).toBe('"Nexus Accounts" <accounts@id.example.com>');
    expect(mail.envelopeFrom).toBe('accounts@id.example.com');
    expect(mail.subject).toBe('Welcome to Nexus, Ada <b>');
    expect(mail.links).toEqual([url, hub.url]);
    expect(mail.text).toContain(`open this link to continue: ${url}`);
    // HTML: escaped data, the link's & as &amp; (what a browser reads back as &), inside the layout.
    expect(mail.html).toContain('Hello Ada &lt;b&gt;,');
    expect(mail.html).toContain(`href="${url.replace(/&/g, '&amp;')}"`);
    expect(mail.html).toContain('max-width:560px');
    expect(mail.parsed.headers.get('auto-submitted')).toBe('auto-generated');

    const [row] = await rowsTo(hub.hub.db.prisma, to);
    await eventually(async () => expect((await rowsTo(hub.hub.db.prisma, to))[0]).toMatchObject({ status: 'sent', sealed: null, attempts: 1, lastError: null }));
    expect(row.template).toBe('welcome');
  });

  it('keeps the data sealed while the mail waits', async () => {
    const to = 'sealed@example.com';
    const secret = token();
    // Not committed yet, the row is out of the worker's sight: the mail waits, sealed.
    await hub.hub.db.prisma.$transaction(async (tx) => {
      await hub.hub.mail.send({ to, template: 'welcome', data: { name: 'S', link: link(hub.url, secret) } }, tx);
      const [row] = await tx.mailMessage.findMany({ where: { to } });
      expect(row.sealed).toMatch(/^v1\./);
      expect(row.sealed).not.toContain(secret);
      expect(Buffer.from(row.sealed!.split('.')[3], 'base64url').toString('latin1')).not.toContain(secret);
    });
    const mail = await smtp.waitFor(to);
    expect(mail.text).toContain(secret);
  });

  it('never sends a mail whose transaction rolls back', async () => {
    const to = 'rolled-back@example.com';
    await expect(hub.hub.db.prisma.$transaction(async (tx) => {
      await hub.hub.mail.send({ to, template: 'welcome', data: { name: 'R', link: link(hub.url, token()) } }, tx);
      throw new Error('the change failed');
    })).rejects.toThrow('the change failed');
    // A mail queued after it arrives; the rolled-back one never does.
    await hub.hub.mail.send({ to: 'after@example.com', template: 'welcome', data: { name: 'A', link: link(hub.url, token()) } });
    await smtp.waitFor('after@example.com');
    await sleep(300);
    expect(smtp.messages.filter((m) => m.to.includes(to))).toHaveLength(0);
    expect(await rowsTo(hub.hub.db.prisma, to)).toHaveLength(0);
  });

  it('refuses recipients that are not one plain address, before queueing anything', async () => {
    const before = await hub.hub.db.prisma.mailMessage.count();
    const bad: unknown[] = [
      'eve@example.com\r\nBcc: all@example.com', 'eve@example.com\nBcc: all@example.com', 'eve\u0000@example.com', 'eve@example.com\r',
      'Eve <eve@example.com>', 'eve@example.com, all@example.com', 'eve@example.com;all@example.com', 'not an address', '', `${'a'.repeat(300)}@example.com`,
      'eve@exa\u202emple.com', 42, null, ['eve@example.com'], { to: 'eve@example.com' },
    ];
    for (const to of bad) {
      await expect(hub.hub.mail.send({ to: to as string, template: 'welcome', data: {} }), String(to)).rejects.toThrow(MailError);
    }
    for (const template of ['../../etc/passwd', 'Welcome', 'layout', '_partial', 'a'.repeat(65), 'wel\u0000come', '']) {
      await expect(hub.hub.mail.send({ to: 'eve@example.com', template, data: {} }), template).rejects.toThrow(MailError);
    }
    expect(await hub.hub.db.prisma.mailMessage.count()).toBe(before);
  });

  it('fails a mail whose data would break the subject header, and sends nothing', async () => {
    for (const [to, name] of [['crlf@example.com', 'x\r\nBcc: all@example.com'], ['lf@example.com', 'x\nBcc: all@example.com'], ['cr@example.com', 'x\rBcc: all@example.com'], ['nul@example.com', 'x\u0000y']]) {
      await hub.hub.mail.send({ to, template: 'welcome', data: { name, link: link(hub.url, token()) } });
    }
    for (const to of ['crlf@example.com', 'lf@example.com', 'cr@example.com', 'nul@example.com']) {
      const [row] = await eventually(async () => {
        const rows = await rowsTo(hub.hub.db.prisma, to);
        expect(rows[0]?.status).toBe('failed');
        return rows;
      });
      expect(row).toMatchObject({ attempts: 1, sealed: null });
      expect(row.lastError).toMatch(/subject/);
      expect(row.lastError).not.toContain('Bcc');
    }
    expect(smtp.messages.filter((m) => m.raw.includes('all@example.com'))).toHaveLength(0);
  });

  it('fails a mail whose template does not exist, at once and for good', async () => {
    const to = 'missing@example.com';
    await hub.hub.mail.send({ to, template: 'no-such-template', data: { link: 'x' } });
    await hub.hub.mail.send({ to: 'text-only@example.com', template: 'text-only', data: {} });
    await eventually(async () => expect((await rowsTo(hub.hub.db.prisma, 'text-only@example.com'))[0]?.status).toBe('failed'));
    const [row] = await eventually(async () => {
      const rows = await rowsTo(hub.hub.db.prisma, to);
      expect(rows[0]?.status).toBe('failed');
      return rows;
    });
    expect(row.lastError).toContain('no mail template no-such-template.text.ejs');
    expect((await rowsTo(hub.hub.db.prisma, 'text-only@example.com'))[0].lastError).toContain('text-only.html.ejs');
    await sleep(1_500); // past the first retry, had there been one
    expect((await rowsTo(hub.hub.db.prisma, to))[0]).toMatchObject({ attempts: 1, sealed: null });
  });

  it('retries after temporary SMTP failures and then delivers once', async () => {
    const to = 'retry@example.com';
    smtp.failNext(2);
    await hub.hub.mail.send({ to, template: 'welcome', data: { name: 'T', link: link(hub.url, token()) } });
    await smtp.waitFor(to, undefined, 15_000);
    await eventually(async () => expect((await rowsTo(hub.hub.db.prisma, to))[0]).toMatchObject({ status: 'sent', attempts: 3, lastError: null }));
    await sleep(1_500);
    expect(smtp.messages.filter((m) => m.to.includes(to))).toHaveLength(1);
  });

  it('fails a mail the server refuses for good (550), without retrying', async () => {
    const to = 'nobody@example.com';
    smtp.refuseRecipient(to);
    await hub.hub.mail.send({ to, template: 'welcome', data: { name: 'N', link: link(hub.url, token()) } });
    await eventually(async () => expect((await rowsTo(hub.hub.db.prisma, to))[0]).toMatchObject({
      status: 'failed', attempts: 1, sealed: null, lastError: 'the SMTP server refused the recipient (550)',
    }));
  });

  it('sends each of many mails queued at once exactly once', async () => {
    const recipients = Array.from({ length: 12 }, (_, n) => `burst${n}@example.com`);
    let release!: () => void;
    const barrier = new Promise<void>((resolve) => { release = resolve; });
    const queued = recipients.map(async (to) => {
      await barrier;
      await hub.hub.mail.send({ to, template: 'welcome', data: { name: to, link: link(hub.url, token()) } });
    });
    release();
    await Promise.all(queued);
    await Promise.all(recipients.map((to) => smtp.waitFor(to)));
    await sleep(500);
    for (const to of recipients) expect(smtp.messages.filter((m) => m.to.includes(to))).toHaveLength(1);
  });

  it('forgets sent and failed mails after 30 days, never a pending one', async () => {
    const old = new Date(Date.now() - 31 * 86_400_000);
    await hub.hub.db.prisma.mailMessage.createMany({ data: [
      { to: 'old-sent@example.com', template: 'welcome', status: 'sent', createdAt: old },
      { to: 'old-failed@example.com', template: 'welcome', status: 'failed', createdAt: old },
      { to: 'recent-sent@example.com', template: 'welcome', status: 'sent' },
      // Pending but not due for a long time: kept, whatever its age.
      { to: 'old-pending@example.com', template: 'welcome', status: 'pending', createdAt: old, nextAttemptAt: new Date(Date.now() + 86_400_000) },
    ] });
    await hub.restart(); // a worker sweeps when it starts, then hourly
    await eventually(async () => expect(await hub.hub.db.prisma.mailMessage.count({ where: { to: { in: ['old-sent@example.com', 'old-failed@example.com'] } } })).toBe(0));
    expect(await hub.hub.db.prisma.mailMessage.count({ where: { to: { in: ['recent-sent@example.com', 'old-pending@example.com'] } } })).toBe(2);
  });
});

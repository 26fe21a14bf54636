// The mail variables are checked at start-up, one clear line per problem, never echoing a URL.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    return (error as ConfigError).problems;
  }
};

describe('mail configuration', () => {
  it('defaults: the outbox folder, a From at the issuer host, a worker, retries for hours', () => {
    const { mail } = loadConfig({ ISSUER: 'https://id.example.com', TRUST_PROXY: 'true' });
    expect(mail).toMatchObject({ smtpUrl: undefined, from: 'Nexus <no-reply@id.example.com>', worker: true, timeoutMs: 30_000, tlsCaFile: undefined, templatesDir: undefined });
    expect(mail.retrySchedule).toEqual([30_000, 120_000, 600_000, 3_600_000, 21_600_000]);
  });

  it('takes smtp:// and smtps:// with credentials, a CA file, a From and a schedule', () => {
    const { mail } = loadConfig({
      SMTP_URL: 'smtps://user:p%40ss@mail.example.com:465', SMTP_TLS_CA_FILE: 'ca.pem', MAIL_FROM: 'Example Accounts <accounts@example.com>',
      MAIL_RETRY_SCHEDULE: '10s,1m', SMTP_TIMEOUT: '5', MAIL_WORKER: 'false', MAIL_TEMPLATES_DIR: 'my-mail',
    });
    expect(mail).toMatchObject({ smtpUrl: 'smtps://user:p%40ss@mail.example.com:465', from: 'Example Accounts <accounts@example.com>', retrySchedule: [10_000, 60_000], timeoutMs: 5_000, worker: false });
    expect(mail.tlsCaFile).toMatch(/\/ca\.pem$/);
    expect(mail.templatesDir).toMatch(/\/my-mail$/);
    expect(loadConfig({ MAIL_FROM: 'accounts@example.com' }).mail.from).toBe('accounts@example.com');
  });

  it('refuses what cannot work, one line each, without the URL', () => {
    expect(problems({ SMTP_URL: 'http://user:hunter2@mail.example.com' })).toEqual(['SMTP_URL must start with smtp:// or smtps://']);
    expect(problems({ SMTP_URL: 'not a url hunter2' })).toEqual(['SMTP_URL is not a valid URL']);
    expect(problems({ SMTP_URL: 'smtp://' })).toEqual(['SMTP_URL must name the SMTP server\'s host']);
    expect(problems({ SMTP_TLS_CA_FILE: 'ca.pem' })).toEqual(['SMTP_TLS_CA_FILE is set but SMTP_URL is not']);
    for (const from of ['no-reply', 'a@b.c\r\nBcc: x@y.z', 'Name <a@b.c', 'a@b.c <d@e.f>x', 'A\u0000 <a@b.c>']) {
      expect(problems({ MAIL_FROM: from }), from).toEqual(['MAIL_FROM must be an address, or a name and an address (e.g. Nexus <no-reply@id.example.com>)']);
    }
    expect(problems({ SMTP_TIMEOUT: '0', MAIL_RETRY_SCHEDULE: 'soon', MAIL_WORKER: 'maybe' }).sort()).toEqual([
      'MAIL_RETRY_SCHEDULE must be durations such as 5s, 30m, 2h or 5d, separated by commas (got "soon")',
      'MAIL_WORKER must be true or false (got "maybe")',
      'SMTP_TIMEOUT must be a whole number from 1 to 600 (got "0")',
    ]);
  });
});

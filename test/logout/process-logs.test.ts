// The real hub process, with its log captured, and the `nexus` CLI against it: a back-channel URI
// set with `nexus clients update`, a user disabled with `nexus users disable` (the CLI queues the
// logout; the running hub delivers it). The receiver is down at first: the log says so, then says
// delivered, with the counts; no log line ever carries the logout token.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startProcessHub, type ProcessHub } from '../support/process-hub.js';
import { authorize, Browser } from '../support/browser.js';
import { closeServer } from '../support/process.js';
import { expectSuccess, run } from '../cli/support.js';
import { eventually } from './support.js';

const EMAIL = 'logged@example.com';
const PASSWORD = 'a passphrase for the log test';

let h: ProcessHub;
let receiver: http.Server;
const tokens: string[] = [];
const answers = [503];

beforeAll(async () => {
  h = await startProcessHub({ WEBHOOKS_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_RETRY_SCHEDULE: '1s,1s,1s' });
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      tokens.push(new URLSearchParams(body).get('logout_token') ?? '');
      res.writeHead(answers.shift() ?? 200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  await closeServer(receiver);
  await h?.stop();
});

const nexus = (...args: string[]) => run(undefined, args, { env: { ...h.env, LOG_LEVEL: 'silent' } });

it('logs each outcome with the counts, never the token; the CLI queues, the hub delivers', async () => {
  const { port } = receiver.address() as AddressInfo;
  expectSuccess(await nexus('clients', 'update', 'sales', '--backchannel-logout-uri', `http://127.0.0.1:${port}/logout`));
  expectSuccess(await nexus('users', 'create', '--email', EMAIL, '--password', PASSWORD));
  // The hub reads the changed project on its change notification; sign in once it has.
  await eventually(async () => {
    const signedIn = await authorize(new Browser(h.url), { clientId: 'sales', redirectUri: 'http://localhost:3001/auth/callback', email: EMAIL, password: PASSWORD, scope: 'openid' });
    return Boolean(signedIn.code);
  });
  expectSuccess(await nexus('users', 'disable', EMAIL));

  await eventually(() => tokens.length >= 2 && h.logs().some((line) => line.msg === 'back-channel logout delivered'), 20_000);
  const failed = h.logs().find((line) => line.msg === 'back-channel logout failed; retried on the webhook schedule')!;
  expect(failed).toMatchObject({ level: 40, project: 'sales', status: 503, error: 'answered 503', counts: { failed: 1 } });
  const delivered = h.logs().find((line) => line.msg === 'back-channel logout delivered')!;
  expect(delivered).toMatchObject({ level: 30, project: 'sales', status: 200, counts: { delivered: 1, failed: 1, gaveUp: 0 } });
  expect(delivered.deliveryId).toBe(failed.deliveryId);
  const output = h.server.output();
  for (const token of tokens) {
    expect(token.split('.')).toHaveLength(3);
    expect(output).not.toContain(token.split('.')[2]);
    expect(output).not.toContain(token.split('.')[1]);
  }
});

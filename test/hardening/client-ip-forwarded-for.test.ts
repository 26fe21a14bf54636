// Which X-Forwarded-For entry is the client. A proxy appends the address it saw to whatever the
// client sent, so only the entries the trusted proxies appended (TRUST_PROXY_HOPS from the
// right) are facts; anything further left is the client's own claim and must not buy it a fresh
// login or sign-up budget, nor a forged address in the logs.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { createTestDatabase } from '../support/database.js';
import { freePort, runServer, waitForReady } from '../support/process.js';
import { MANY_AUTHORIZATIONS, openLogin, openSignup } from './login-support.js';

const LIMITS = { ...MANY_AUTHORIZATIONS, LOGIN_MAX_FAILURES_PER_IP: '3', SIGNUPS_PER_IP_PER_HOUR: '2' };

/** Wrong passwords for different accounts, each with the X-Forwarded-For `forwardedFor(i)` gives. */
async function failedLogins(t: TestHub, count: number, forwardedFor: (i: number) => string) {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const form = await openLogin(t);
    const answer = await form.submit({ email: `someone${i}@example.com`, password: 'not the password' }, { 'x-forwarded-for': forwardedFor(i) });
    statuses.push(answer.status);
  }
  return statuses;
}

const spoofed = (i: number) => `10.66.${i}.${i + 1}`;

// Started together: hub start-up is most of this file's time.
let oneHop: TestHub;
let twoHops: TestHub;
let noProxy: TestHub;
beforeAll(async () => {
  [oneHop, twoHops, noProxy] = await Promise.all([
    startTestHub({ ...LIMITS, TRUST_PROXY: 'true' }),
    startTestHub({ ...LIMITS, TRUST_PROXY: 'true', TRUST_PROXY_HOPS: '2' }),
    startTestHub(LIMITS),
  ]);
});
afterAll(() => Promise.all([oneHop?.stop(), twoHops?.stop(), noProxy?.stop()]));

describe('TRUST_PROXY=true, one proxy (the default hop count)', () => {
  it('counts failed logins against the address the proxy appended, whatever the client put left of it', async () => {
    expect(await failedLogins(oneHop, 4, (i) => `${spoofed(i)}, 198.51.100.10`)).toEqual([401, 401, 401, 429]);
    // Another real client behind the same proxy is not affected.
    expect(await failedLogins(oneHop, 1, () => `${spoofed(99)}, 198.51.100.11`)).toEqual([401]);
  });

  it('counts sign-ups the same way', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const form = await openSignup(oneHop);
      const answer = await form.submit({ name: 'Sam', email: `sam${i}@example.com`, password: 'a long enough password' }, { 'x-forwarded-for': `${spoofed(i)}, 198.51.100.20` });
      statuses.push(answer.status);
    }
    expect(statuses).toEqual([303, 303, 429]);
  });
});

describe('TRUST_PROXY=true with TRUST_PROXY_HOPS=2', () => {
  it('takes the second entry from the right as the client', async () => {
    // The outer proxy appended the client (second from the right), the inner one the outer proxy.
    expect(await failedLogins(twoHops, 4, (i) => `${spoofed(i)}, 198.51.100.30, 10.0.0.2`)).toEqual([401, 401, 401, 429]);
    // Different clients through the same inner proxy each have their own budget.
    expect(await failedLogins(twoHops, 4, (i) => `198.51.100.${40 + i}, 10.0.0.2`)).toEqual([401, 401, 401, 401]);
  });
});

describe('without TRUST_PROXY', () => {
  it('ignores X-Forwarded-For: every request counts against the connection address', async () => {
    expect(await failedLogins(noProxy, 4, (i) => `198.51.100.${50 + i}`)).toEqual([401, 401, 401, 429]);
  });
});

describe('the request log of the real server', () => {
  it('records the address the proxy appended, not the one the client claimed', async () => {
    const database = await createTestDatabase();
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'nexus-client-ip-'));
    const port = await freePort();
    const server = runServer({
      PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, DATABASE_URL: database.url, ISSUER: `http://localhost:${port}`,
      TRUST_PROXY: 'true', CLIENTS_FILE: path.resolve('clients.json'),
    });
    try {
      await waitForReady(`http://localhost:${port}`, server);
      await fetch(`http://localhost:${port}/healthz`, { headers: { 'x-forwarded-for': '6.6.6.6, 198.51.100.60', 'x-request-id': 'client-ip-check' } });
      expect(await server.stop()).toBe(0);
      const entry = server.output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line))
        .find((line) => line.requestId === 'client-ip-check');
      expect(entry).toMatchObject({ path: '/healthz', ip: '198.51.100.60' });
    } finally {
      await server.stop('SIGKILL');
      await database.drop();
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });
});

// The real entry point as operators run it: embedded PostgreSQL by default, configuration
// errors, JSON logs without secrets, TLS-proxy deployments and graceful shutdown.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, runServer, waitForReady } from './support/process.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { basicAuth } from './support/oauth.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function tempDir() {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nexus-proc-'));
  cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('configuration', () => {
  it('reports every problem at once, one line each, and exits without starting', async () => {
    const server = runServer({ PORT: 'eighty', ISSUER: 'ftp://id.example.com', DATABASE_URL: 'mysql://root@db/nexus', TRUST_PROXY: 'maybe', NEXUS_MASTER_KEY: 'short' });
    expect(await server.exited).toBe(78);
    const output = server.output();
    expect(output).toContain('PORT must be a whole number from 1 to 65535 (got "eighty")');
    expect(output).toContain('ISSUER must start with http:// or https://');
    expect(output).toContain('DATABASE_URL must start with postgres:// or postgresql://');
    expect(output).toContain('TRUST_PROXY must be true or false (got "maybe")');
    expect(output).toContain('NEXUS_MASTER_KEY must be 32 random bytes');
    expect(output).not.toContain('    at ');
  });
});

describe('zero-configuration start on the embedded PostgreSQL', () => {
  it('initialises the database, keys and clients, then reuses them on the next start', async () => {
    const dataDir = await tempDir();
    const port = await freePort();
    const env = { PORT: String(port), DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), CLIENTS_FILE: path.resolve('clients.json') };
    const url = `http://localhost:${port}`;

    const first = runServer(env);
    cleanups.push(() => first.stop('SIGKILL'));
    await waitForReady(url, first, 120_000);
    const discovery = await (await fetch(`${url}/.well-known/openid-configuration`)).json();
    expect(discovery.issuer).toBe(url);
    const jwks = await (await fetch(`${url}/jwks`)).json();
    const secrets = JSON.parse(await fs.readFile(path.join(dataDir, 'client-secrets.json'), 'utf8'));
    expect(Object.keys(secrets)).toContain('sales');
    expect((await fs.stat(path.join(dataDir, 'client-secrets.json'))).mode & 0o777).toBe(0o600);
    expect((await fs.stat(path.join(dataDir, 'master.key'))).mode & 0o777).toBe(0o600);
    const token = await fetch(`${url}/token`, {
      method: 'POST',
      headers: { authorization: basicAuth('sales', secrets.sales), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=leads:read',
    });
    expect(token.status).toBe(200);
    expect(await first.stop()).toBe(0);

    const second = runServer(env);
    cleanups.push(() => second.stop('SIGKILL'));
    await waitForReady(url, second, 60_000);
    expect(await (await fetch(`${url}/jwks`)).json()).toEqual(jwks);
    // The same secret still works: clients were not seeded again.
    const again = await fetch(`${url}/token`, {
      method: 'POST',
      headers: { authorization: basicAuth('sales', secrets.sales), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    expect(again.status).toBe(200);
    expect(second.output()).not.toContain('clients seeded');
    expect(await second.stop()).toBe(0);
  });
});

describe('zero-configuration start as root inside a private folder', () => {
  // As root, PostgreSQL runs as the postgres user: a clone in a `mktemp -d` folder (0700) used to
  // stop initdb with EACCES.
  it.skipIf(process.getuid?.() !== 0)('starts, and the folders above DATA_DIR let others pass through but not list', async () => {
    const outer = await tempDir();
    expect((await fs.stat(outer)).mode & 0o777).toBe(0o700);
    const port = await freePort();
    const url = `http://localhost:${port}`;
    const server = runServer({ PORT: String(port), DATA_DIR: path.join(outer, 'data'), EMBEDDED_PG_PORT: String(await freePort()), CLIENTS_FILE: path.resolve('clients.json') });
    cleanups.push(() => server.stop('SIGKILL'));
    await waitForReady(url, server, 120_000);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect((await fs.stat(outer)).mode & 0o777).toBe(0o701);
    expect(server.output()).toContain('these folders now let other users pass through');
    expect(await server.stop()).toBe(0);
  });
});

describe('behind a TLS-terminating proxy, on an external PostgreSQL', () => {
  let database: TestDatabase;

  it('issues https URLs and secure cookies, logs JSON with request ids and no secrets', async () => {
    database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const dataDir = await tempDir();
    const port = await freePort();
    const server = runServer({
      PORT: String(port), DATA_DIR: dataDir, DATABASE_URL: database.url, ISSUER: 'https://id.nexus.test', TRUST_PROXY: 'true',
      CLIENTS_FILE: path.resolve('clients.json'),
    });
    cleanups.push(() => server.stop('SIGKILL'));
    const local = `http://127.0.0.1:${port}`;
    await waitForReady(local, server);

    const proxied = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'id.nexus.test', 'x-request-id': 'trace-1234abcd' };
    const discovery = await (await fetch(`${local}/.well-known/openid-configuration`, { headers: proxied })).json();
    expect(discovery.authorization_endpoint).toBe('https://id.nexus.test/auth');

    const auth = await fetch(`${local}/auth?client_id=sales&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('http://localhost:3001/auth/callback')}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`, { headers: proxied, redirect: 'manual' });
    expect(auth.status).toBe(303);
    const cookies = auth.headers.getSetCookie();
    expect(cookies.length).toBeGreaterThan(0);
    for (const cookie of cookies) expect(cookie.toLowerCase()).toContain('; secure');
    expect(auth.headers.get('x-request-id')).toBe('trace-1234abcd');
    expect(auth.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');

    const secrets = JSON.parse(await fs.readFile(path.join(dataDir, 'client-secrets.json'), 'utf8'));
    await fetch(`${local}/token`, {
      method: 'POST',
      headers: { ...proxied, authorization: basicAuth('sales', secrets.sales), 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=client_credentials&client_secret_hint=${secrets.sales}`,
    });
    const code = await server.stop();
    if (code !== 0) console.log(server.output());
    expect(code).toBe(0);

    const lines = server.output().split('\n').filter((line) => line.startsWith('{'));
    expect(lines.length).toBeGreaterThan(3);
    const entries = lines.map((line) => JSON.parse(line));
    expect(entries.some((entry) => entry.requestId === 'trace-1234abcd' && entry.path === '/auth')).toBe(true);
    for (const secret of Object.values(secrets)) expect(server.output()).not.toContain(secret as string);
    expect(server.output()).not.toContain(database.url.split('@')[0].split('//')[1] + '@');
    expect(entries.at(-1).msg).toBe('stopped');
  });
});

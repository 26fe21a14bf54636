// The real server process refuses to start, in one line and with the right exit status, when
// what it finds on disk is unusable: a damaged master key file (1), an unreadable plans file or
// one with mistakes (78, every mistake listed). A clients file it cannot read only gets a warning.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, runServer, waitForReady } from '../support/process.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let database: TestDatabase;
let dataDir: string;
beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'nexus-start-'));
});
afterAll(async () => {
  await database?.drop();
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

async function start(extra: Record<string, string>) {
  const port = await freePort();
  const server = runServer({
    PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: database.url, DATA_DIR: dataDir,
    CLIENTS_FILE: path.resolve('clients.json'), LOG_LEVEL: 'silent', ...extra,
  });
  const code = await server.exited;
  return { code, lines: server.output().trim().split('\n').filter((line) => !line.includes('oidc-provider WARNING')) };
}

describe('the server refuses to start', () => {
  it('with a master.key in DATA_DIR that does not hold 32 bytes', async () => {
    await fs.writeFile(path.join(dataDir, 'master.key'), 'c2hvcnQ\n', { mode: 0o600 });
    const { code, lines } = await start({});
    expect(code).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/master\.key does not hold a 32-byte key/);
    expect(lines[0]).not.toContain('    at ');
    await fs.rm(path.join(dataDir, 'master.key'));
  });

  it('with a plans file that is not JSON (exit 78, the problem listed)', async () => {
    const plansFile = path.join(dataDir, 'plans.json');
    await fs.writeFile(plansFile, '{ not json');
    const { code, lines } = await start({ PLANS_FILE: plansFile });
    expect(code).toBe(78);
    expect(lines[0]).toBe('Invalid plans file:');
    expect(lines[1]).toMatch(new RegExp(`^  - cannot read ${plansFile.replaceAll('.', '\\.')}: `));
    expect(lines).toHaveLength(2);
  });

  it('with a plans file full of mistakes: every one listed, one line each (exit 78)', async () => {
    const plansFile = path.join(dataDir, 'plans-wrong.json');
    await fs.writeFile(plansFile, JSON.stringify({
      plans: {
        free: {
          projects: { sales: { scopes: 'leads:read', entitlements: { seats: -1 } }, nowhere: { scopes: [] } },
          monthlyPriceCents: 1.5,
          stripePriceIds: ['price_1'],
          gateway: [],
        },
        pro: { monthlyPriceCents: 900, stripePriceIds: ['price_1'], gateway: { requestsPerMinute: 0, projects: { sales: 20.5, ghost: null } } },
        business: { monthlyPriceCents: null, gateway: { projects: [] } },
        platinum: {},
      },
    }));
    const { code, lines } = await start({ PLANS_FILE: plansFile });
    expect(code).toBe(78);
    expect(lines[0]).toBe('Invalid plans file:');
    const rpm = 'must be a whole number of requests per minute from 1 to 10000000, or null (unlimited)';
    expect(lines.slice(1).map((line) => line.replace(/^  - /, '')).sort()).toEqual([
      'Stripe price price_1 is mapped to both "free" and "pro"',
      'plan "business": gateway.projects must be an object',
      'plan "enterprise" is missing',
      'plan "free": entitlement sales.seats must be a number, true/false, or null (unlimited)',
      'plan "free": gateway must be an object',
      'plan "free": monthlyPriceCents must be whole cents or null',
      'plan "free": project "nowhere" is not a registered client',
      'plan "free": project "sales" needs a "scopes" list',
      `plan "pro": gateway.projects.ghost is not a registered client`,
      `plan "pro": gateway.projects.sales ${rpm}`,
      `plan "pro": gateway.requestsPerMinute ${rpm}`,
      'unknown plan "platinum" (plans are free, pro, business, enterprise)',
    ]);
    expect(lines.slice(1).every((line) => line.startsWith('  - '))).toBe(true);
  });
});

describe('the server starts anyway', () => {
  it('without a readable clients file: it warns, registers nothing and serves', async () => {
    const port = await freePort();
    const missing = path.join(dataDir, 'no-clients.json');
    const server = runServer({
      PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: database.url, DATA_DIR: dataDir, CLIENTS_FILE: missing, LOG_LEVEL: 'warn',
    });
    try {
      const url = `http://localhost:${port}`;
      await waitForReady(url, server);
      const warning = server.output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line))
        .find((entry) => entry.msg === 'clients file not applied');
      expect(warning).toMatchObject({ file: missing, err: `cannot read ${missing}: file not found` });
      const token = await fetch(`${url}/token`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'sales', client_secret: 'x' }),
      });
      expect(token.status).toBe(401);
      expect((await token.json()).error).toBe('invalid_client');
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

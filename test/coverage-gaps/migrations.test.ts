// Migrations at start-up, through the real server process: a migration that fails is rolled back
// and stops the start in one line; an applied migration edited afterwards is only reported.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, runServer, waitForReady } from '../support/process.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const FIRST = (await fs.readdir('prisma/migrations', { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort()[0];

let database: TestDatabase;
let dataDir: string;
beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'nexus-migrate-'));
});
afterAll(async () => {
  await database?.drop();
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

async function sql(text: string) {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

async function server(logLevel = 'silent') {
  const port = await freePort();
  const child = runServer({
    PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: database.url, DATA_DIR: dataDir,
    CLIENTS_FILE: path.resolve('clients.json'), LOG_LEVEL: logLevel,
  });
  return { child, url: `http://localhost:${port}` };
}

describe('migrations at start-up', () => {
  it('a failing migration is rolled back and stops the start with its name and the reason', async () => {
    await sql('CREATE TABLE "users" (id int)'); // the first migration creates "users" too
    const { child } = await server();
    expect(await child.exited).toBe(1);
    const lines = child.output().trim().split('\n').filter((line) => !line.includes('oidc-provider'));
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^Nexus failed to start: migration ${FIRST} failed: .*"users" already exists`))]);
    // Rolled back: nothing of the first migration was recorded or left behind.
    expect(await sql(`SELECT migration_name FROM "_prisma_migrations"`)).toEqual([]);
    expect(await sql(`SELECT to_regclass('oidc_payloads') AS t`)).toEqual([{ t: null }]);
    await sql('DROP TABLE "users"');
  });

  it('applies them all, then reports (and keeps) an applied migration whose file was edited afterwards', async () => {
    const first = await server();
    await waitForReady(first.url, first.child);
    expect(await first.child.stop()).toBe(0);
    const applied = await sql(`SELECT migration_name FROM "_prisma_migrations" ORDER BY migration_name`);
    expect(applied.map((row) => row.migration_name)).toEqual(
      (await fs.readdir('prisma/migrations', { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort(),
    );

    await sql(`UPDATE "_prisma_migrations" SET checksum = repeat('0', 64) WHERE migration_name = '${FIRST}'`);
    const second = await server('warn');
    await waitForReady(second.url, second.child);
    expect(await second.child.stop()).toBe(0);
    const warnings = second.child.output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line))
      .filter((entry) => entry.msg === 'applied migration was edited afterwards');
    expect(warnings.map((entry) => entry.migration)).toEqual([FIRST]);
  });
});

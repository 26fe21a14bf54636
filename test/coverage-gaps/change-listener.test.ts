// A running hub keeps picking up CLI changes (LISTEN/NOTIFY) after PostgreSQL drops its
// listening connection: it reconnects, and re-reads clients and keys when it does.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { clientCredentials, expectSuccess, nexus, waitFor } from '../cli/support.js';

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(() => t?.stop());

/** Terminates the hub's LISTEN connection; returns how many backends were terminated. */
async function dropListener(): Promise<number> {
  const client = new pg.Client({ connectionString: t.database.url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN %'`,
    );
    return rows.length;
  } finally {
    await client.end();
  }
}

describe('change notifications', () => {
  it('survive the loss of the listening connection: a client disabled by the CLI afterwards is refused', async () => {
    const secret = t.secrets.sales;
    expect((await clientCredentials(t, 'sales', secret)).status).toBe(200);

    expect(await dropListener()).toBe(1);
    // The hub reconnects (after about 2 s) and LISTENs again.
    await waitFor(async () => {
      const client = new pg.Client({ connectionString: t.database.url });
      await client.connect();
      try {
        const { rows } = await client.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'`);
        return rows.length === 1;
      } finally {
        await client.end();
      }
    }, 'the hub listening again', 15_000);

    expectSuccess(await nexus(t, 'clients', 'disable', 'sales'));
    await waitFor(async () => (await clientCredentials(t, 'sales', secret)).status === 401, 'sales refused at the running hub', 15_000);

    expectSuccess(await nexus(t, 'clients', 'enable', 'sales'));
    await waitFor(async () => (await clientCredentials(t, 'sales', secret)).status === 200, 'sales accepted again', 15_000);
  });
});

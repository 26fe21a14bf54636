// `rotate-secret --grace`: the replaced secret keeps authenticating the client until its grace
// period ends, then gets 401 invalid_client; without grace it stops at once; a rotation during a
// grace period ends the older secret; concurrent rotations leave one current and one previous.
// Through the real CLI process and the admin API, checked with client_credentials over HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { adminApi, adminToken } from '../support/admin-token.js';
import { clientCredentials, expectFailure, nexus, nexusJson, waitFor } from '../cli/support.js';

let t: TestHub;
let token: string;
beforeAll(async () => {
  t = await startTestHub();
  token = await adminToken(t);
});
afterAll(() => t?.stop());

const HOUR_MS = 3_600_000;

async function status(id: string, secret: string) {
  return (await clientCredentials(t, id, secret)).status;
}

async function rotate(id: string, grace?: string) {
  const answer = await adminApi(t, token, 'POST', `/clients/${id}/rotate-secret`, grace === undefined ? undefined : { grace });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body as { id: string; secret: string; rotationGraceUntil: string | null };
}

/** Which of the secrets get a token (client_credentials) right now. */
async function working(id: string, secrets: string[]) {
  const statuses = await Promise.all(secrets.map((secret) => status(id, secret)));
  for (const code of statuses) expect([200, 401]).toContain(code);
  return secrets.filter((_secret, i) => statuses[i] === 200);
}

/** Starts all jobs at the same moment: none runs before every one of them is ready. */
async function behindBarrier<T>(count: number, job: () => Promise<T>): Promise<T[]> {
  let open!: () => void;
  const barrier = new Promise<void>((resolve) => { open = resolve; });
  const running = Array.from({ length: count }, async () => { await barrier; return job(); });
  open();
  return Promise.all(running);
}

describe('nexus clients rotate-secret --grace', () => {
  it('keeps the old secret working at the running hub for the grace period, next to the new one', async () => {
    const old = t.secrets.sales;
    const before = Date.now();
    const rotated = await nexus(t, 'clients', 'rotate-secret', 'sales', '--grace', '24h');
    expect(rotated.code, rotated.stderr).toBe(0);
    const lines = rotated.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('Client secret for sales (shown once, store it now):');
    const fresh = lines[1];
    expect(fresh).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const until = /^The old secret keeps working until (\S+); an older one, if any, no longer works\.$/.exec(lines[2])?.[1];
    expect(Date.parse(until!) - before).toBeGreaterThanOrEqual(24 * HOUR_MS - 1_000);
    expect(Date.parse(until!) - before).toBeLessThan(24 * HOUR_MS + 60_000);

    // The hub learns of the new secret through LISTEN/NOTIFY; the old one keeps working meanwhile.
    await waitFor(async () => (await status('sales', fresh)) === 200, 'new secret accepted');
    expect(await status('sales', old)).toBe(200);
    expect(await status('sales', 'neither-of-them')).toBe(401);
    // Another client does not accept sales' old secret.
    expect(await status('agi-safety', old)).toBe(401);

    const shown = await nexus(t, 'clients', 'show', 'sales');
    expect(shown.stdout).toContain(`old secret:    works until ${until}`);
    expect(shown.stdout).not.toContain(old);
    expect(shown.stdout).not.toContain(fresh);
    expect((await nexusJson(t, 'clients', 'show', 'sales')).rotationGraceUntil).toBe(until);
    t.secrets.sales = fresh;
  });

  it('refuses a bad grace period: exit 1 from the CLI, 400 from the admin API', async () => {
    expectFailure(await nexus(t, 'clients', 'rotate-secret', 'sales', '--grace', 'soon'), 1, 'grace: "soon" is not a duration: use a number followed by s, m, h or d (e.g. 30d)');
    expectFailure(await nexus(t, 'clients', 'rotate-secret', 'sales', '--grace', '31d'), 1, 'the grace period must be between 0 and 30d');
    const bad = await adminApi(t, token, 'POST', '/clients/sales/rotate-secret', { grace: 'soon' });
    expect(bad).toMatchObject({ status: 400, body: { error: 'invalid_grace' } });
    expect((await adminApi(t, token, 'POST', '/clients/testing/rotate-secret', { grace: '1h' })).body.error).toBe('public_client');
    // Nothing was rotated by the refused calls.
    expect(await status('sales', t.secrets.sales)).toBe(200);
  });
});

describe('POST /api/admin/clients/:id/rotate-secret', () => {
  it('with a short grace: both secrets work, then the old one gets 401 invalid_client when it ends', async () => {
    const old = t.secrets.sales;
    const rotated = await rotate('sales', '2s');
    expect(Date.parse(rotated.rotationGraceUntil!)).toBeGreaterThan(Date.now());
    expect(await working('sales', [old, rotated.secret])).toEqual([old, rotated.secret]);

    // The end is checked at each request, not at the next reload of the clients.
    await new Promise((resolve) => setTimeout(resolve, Date.parse(rotated.rotationGraceUntil!) - Date.now() + 100));
    const refused = await clientCredentials(t, 'sales', old);
    expect(refused).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(await status('sales', rotated.secret)).toBe(200);
    t.secrets.sales = rotated.secret;
  });

  it('ends the grace at the time stored in the database, also for a hub that reloads its clients', async () => {
    const old = t.secrets.sales;
    const rotated = await rotate('sales', '7d');
    expect(await working('sales', [old, rotated.secret])).toHaveLength(2);
    await t.hub.db.prisma.oAuthClient.update({ where: { id: 'sales' }, data: { previousSecretExpiresAt: new Date(Date.now() - 1_000) } });
    t.hub.clients.invalidate();
    expect((await clientCredentials(t, 'sales', old)).body.error).toBe('invalid_client');
    expect(await status('sales', rotated.secret)).toBe(200);
    t.secrets.sales = rotated.secret;
  });

  it('without grace (or grace 0) the old secret is refused at once, also one still in its grace period', async () => {
    const first = t.secrets.sales;
    const second = (await rotate('sales', '1h')).secret;
    expect(await working('sales', [first, second])).toHaveLength(2);
    const third = await rotate('sales');
    expect(third.rotationGraceUntil).toBeNull();
    expect(await working('sales', [first, second, third.secret])).toEqual([third.secret]);
    const fourth = await rotate('sales', '0');
    expect(await working('sales', [third.secret, fourth.secret])).toEqual([fourth.secret]);
    t.secrets.sales = fourth.secret;
  });

  it('a second rotation during a grace period keeps only the newest replaced secret', async () => {
    const a = t.secrets.sales;
    const b = (await rotate('sales', '1h')).secret;
    const c = (await rotate('sales', '1h')).secret;
    expect(await working('sales', [a, b, c])).toEqual([b, c]);
    t.secrets.sales = c;
  });

  it('8 parallel rotations with grace leave exactly one current secret and one previous (the one it replaced)', async () => {
    const original = t.secrets.sales;
    const results = await behindBarrier(8, () => rotate('sales', '1h'));
    const issued = results.map((r) => r.secret);
    expect(new Set(issued).size).toBe(8);
    const accepted = await working('sales', [original, ...issued]);
    // Serialised on the row: the last rotation's secret is current and the one before it is the
    // previous; the other six (and the original) were replaced with no grace left.
    expect(accepted).toHaveLength(2);
    expect(accepted).not.toContain(original);

    const row = await t.hub.db.prisma.oAuthClient.findUniqueOrThrow({ where: { id: 'sales' } });
    expect(row.secretEncrypted).not.toBeNull();
    expect(row.previousSecretEncrypted).not.toBeNull();
    expect(row.previousSecretEncrypted).not.toBe(row.secretEncrypted);
    // The current one is the secret oidc-provider holds; the previous one is the other.
    t.hub.clients.invalidate();
    const metadata = await t.hub.clients.findOidcMetadata('sales');
    expect(accepted).toContain(metadata!.client_secret);
    t.secrets.sales = metadata!.client_secret!;
  });

  it('8 parallel rotations without grace leave exactly one working secret', async () => {
    const original = t.secrets.sales;
    const issued = (await behindBarrier(8, () => rotate('sales'))).map((r) => r.secret);
    const accepted = await working('sales', [original, ...issued]);
    expect(accepted).toHaveLength(1);
    expect(issued).toContain(accepted[0]);
    const row = await t.hub.db.prisma.oAuthClient.findUniqueOrThrow({ where: { id: 'sales' } });
    expect(row).toMatchObject({ previousSecretEncrypted: null, previousSecretExpiresAt: null });
    t.secrets.sales = accepted[0];
  });
});

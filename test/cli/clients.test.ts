// `nexus clients ...` through a real process against the test hub's PostgreSQL database, with the
// effects checked at the running hub (which reloads clients through LISTEN/NOTIFY).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startTestHub, type TestHub } from '../support/hub.js';
import { postForm } from '../support/oauth.js';
import { clientCredentials, expectFailure, expectSuccess, nexus, nexusJson, ROOT, waitFor } from './support.js';

let t: TestHub;
let tmp: string;
/** The secret `clients add` printed for the reports client. */
let reportsSecret: string;
/** The repository's clients.json (what the test hub seeded), in file order. */
let fileClients: Array<Record<string, unknown>>;
let fileIds: string[];
/** What the hub registered at start: clients.json plus any it adds itself (e.g. nexus-account). */
let registered: string[];

beforeAll(async () => {
  fileClients = (JSON.parse(await fs.readFile(path.join(ROOT, 'clients.json'), 'utf8')) as { clients: Array<Record<string, unknown>> }).clients;
  fileIds = fileClients.map((c) => c.id as string);
  t = await startTestHub();
  registered = (await t.hub.clients.list()).map((c) => c.id);
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'nexus-cli-clients-'));
});
afterAll(async () => {
  await t?.stop();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

/** Waits until the hub answers a client_credentials request for this client with `status`. */
async function expectTokenStatus(id: string, secret: string, status: number) {
  let last: Awaited<ReturnType<typeof clientCredentials>> | undefined;
  await waitFor(async () => {
    last = await clientCredentials(t, id, secret);
    return last.status === status;
  }, `client_credentials for ${id} answered ${status} (last: ${last?.status} ${JSON.stringify(last?.body)})`);
  return last!;
}

/** The secret printed by a text-mode command: the line after "(shown once, store it now):". */
function printedSecret(stdout: string, id: string): string {
  const lines = stdout.split('\n');
  const index = lines.indexOf(`Client secret for ${id} (shown once, store it now):`);
  expect(index, stdout).toBeGreaterThanOrEqual(0);
  const secret = lines[index + 1];
  expect(secret).toMatch(/^[A-Za-z0-9_-]{32,}$/);
  return secret;
}

describe('nexus clients', () => {
  it('list and show the registered clients, as text and as JSON, without secrets', async () => {
    const listed = await nexus(t, 'clients', 'list', '--json');
    expectSuccess(listed);
    const all = JSON.parse(listed.stdout) as Array<Record<string, unknown>>;
    expect(all.map((c) => c.id)).toEqual(registered);
    expect(registered).toEqual(expect.arrayContaining(fileIds));
    expect(listed.stdout).not.toMatch(/secret/i);
    expect(listed.stdout).not.toContain(t.secrets.sales);
    expect(all.find((c) => c.id === 'sales')).toMatchObject({ name: 'Nexus Sales CRM', audience: 'urn:nexus:sales', enabled: true, public: false });

    const shown = await nexus(t, 'clients', 'show', 'sales');
    expectSuccess(shown);
    expect(shown.stdout).toContain('id:            sales\n');
    expect(shown.stdout).toContain('type:          confidential, first-party');
    expect(shown.stdout).toContain('redirect URIs: http://localhost:3001/auth/callback');
    expect(shown.stdout).not.toContain(t.secrets.sales);

    expectFailure(await nexus(t, 'clients', 'show', 'nope'), 1, 'no client with id "nope"');
  });

  it('add registers a confidential client whose printed secret works at the hub, and a public one without secret', async () => {
    const added = await nexus(t, 'clients', 'add', '--id', 'reports', '--name', 'Reports',
      '--redirect-uri', 'https://reports.example.com/cb', '--redirect-uri', 'http://127.0.0.1:8080/cb',
      '--post-logout-uri', 'https://reports.example.com/',
      '--grant', 'authorization_code', '--grant', 'client_credentials', '--scope', 'reports:read', '--scope', 'reports:write',
      '--first-party', '--access', 'granted', '--default-role', 'read_only');
    expectSuccess(added);
    expect(added.stdout.split('\n')[0]).toBe('Added client reports.');
    const secret = printedSecret(added.stdout, 'reports');
    reportsSecret = secret;

    const shown = await nexusJson(t, 'clients', 'show', 'reports');
    expect(shown).toMatchObject({
      id: 'reports', name: 'Reports', public: false, firstParty: true, enabled: true, audience: 'urn:nexus:reports',
      redirectUris: ['https://reports.example.com/cb', 'http://127.0.0.1:8080/cb'], postLogoutRedirectUris: ['https://reports.example.com/'],
      grantTypes: ['authorization_code', 'client_credentials'], scopes: ['reports:read', 'reports:write'], access: 'granted', defaultRole: 'read_only',
    });
    expect(JSON.stringify(shown)).not.toContain(secret);

    // The running hub learns about the new client and accepts the printed secret.
    const token = await expectTokenStatus('reports', secret, 200);
    const { payload } = await jwtVerify(token.body.access_token, createRemoteJWKSet(new URL(`${t.url}/jwks`)), { issuer: t.url, audience: 'urn:nexus:reports' });
    expect(payload).toMatchObject({ client_id: 'reports', sub: 'reports' });
    expect((await clientCredentials(t, 'reports', 'not-the-secret')).status).toBe(401);

    const kiosk = await nexusJson(t, 'clients', 'add', '--id', 'kiosk', '--name', 'Kiosk', '--public', '--redirect-uri', 'http://localhost:8765/cb');
    expect(kiosk).toEqual({ client: expect.objectContaining({ id: 'kiosk', public: true, grantTypes: ['authorization_code', 'refresh_token'] }), secret: null });

    const list = await nexus(t, 'clients', 'list');
    expectSuccess(list);
    const [header, ...rows] = list.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^ID\s+NAME\s+TYPE\s+FIRSTPARTY\s+ACCESS\s+ENABLED$/);
    expect(rows).toHaveLength(registered.length + 2);
    expect(rows).toContainEqual(expect.stringMatching(/^kiosk\s+Kiosk\s+public\s+false\s+open\s+true$/));
    expect(rows).toContainEqual(expect.stringMatching(/^reports\s+Reports\s+confidential\s+true\s+granted\s+true$/));
    expect(rows).toContainEqual(expect.stringMatching(/^testing\s+Testing Hub\s+public\s+true\s+open\s+true$/));
  });

  it('add refuses a duplicate id, http and fragment redirect URIs, and a missing or unknown flag', async () => {
    // --json: standard output is a JSON error object, standard error the one-line reason.
    const duplicate = await nexus(t, 'clients', 'add', '--id', 'sales', '--name', 'Again', '--redirect-uri', 'https://sales.example.com/cb', '--json');
    expectFailure(duplicate, 1, 'a client with id "sales" or audience "urn:nexus:sales" already exists');
    expect(JSON.parse(duplicate.stdout)).toEqual({ error: 'already_exists', message: expect.stringContaining('already exists') });

    const http = await nexus(t, 'clients', 'add', '--id', 'evil', '--name', 'Evil', '--redirect-uri', 'http://evil.example/cb');
    expectFailure(http, 1, /"http:\/\/evil\.example\/cb" must use https/);

    const fragment = await nexus(t, 'clients', 'add', '--id', 'frag', '--name', 'Frag', '--redirect-uri', 'https://frag.example.com/cb#x');
    expectFailure(fragment, 1, /"https:\/\/frag\.example\.com\/cb#x" must not contain a fragment/);

    const noId = await nexus(t, 'clients', 'add', '--name', 'No Id', '--redirect-uri', 'https://x.example.com/cb');
    expectFailure(noId, 2, /^missing --id; usage: nexus clients add --id ID/);

    const unknown = await nexus(t, 'clients', 'add', '--id', 'x1', '--colour', 'red');
    expectFailure(unknown, 2, /Unknown option '--colour'/);

    // Nothing was registered by any of the refused commands.
    const ids = (await t.hub.clients.list()).map((c) => c.id);
    expect(ids.filter((id) => ['evil', 'frag', 'x1'].includes(id))).toEqual([]);
  });

  it('update changes only the flags given and validates like add', async () => {
    const updated = await nexusJson(t, 'clients', 'update', 'reports', '--name', 'Reports Two', '--redirect-uri', 'https://reports.example.com/callback');
    expect(updated.secret).toBeNull();
    expect(updated.client).toMatchObject({
      id: 'reports', name: 'Reports Two', redirectUris: ['https://reports.example.com/callback'],
      scopes: ['reports:read', 'reports:write'], access: 'granted', grantTypes: ['authorization_code', 'client_credentials'],
    });

    expectFailure(await nexus(t, 'clients', 'update', 'reports'), 2, /^nothing to change: give at least one flag; usage: nexus clients update ID/);
    expectFailure(await nexus(t, 'clients', 'update', 'nope', '--name', 'Nope'), 1, 'no client with id "nope"');
  });

  it('rotate-secret prints a new secret once; the old one stops working at the running hub', async () => {
    const old = (await nexus(t, 'clients', 'rotate-secret', 'sales'));
    expectSuccess(old);
    const first = printedSecret(old.stdout, 'sales');
    expect(old.stdout).toContain('The old secret no longer works.');
    expect(first).not.toBe(t.secrets.sales);

    const refused = await expectTokenStatus('sales', t.secrets.sales, 401);
    expect(refused.body.error).toBe('invalid_client');
    await expectTokenStatus('sales', first, 200);

    expectFailure(await nexus(t, 'clients', 'rotate-secret', 'kiosk'), 1, 'client "kiosk" is public and has no secret');
    t.secrets.sales = first;
  });

  it('disable stops token requests at the running hub and enable restores them', async () => {
    const disabled = await nexusJson(t, 'clients', 'disable', 'sales');
    expect(disabled).toMatchObject({ id: 'sales', enabled: false });
    const refused = await expectTokenStatus('sales', t.secrets.sales, 401);
    expect(refused.body.error).toBe('invalid_client');

    const enabled = await nexus(t, 'clients', 'enable', 'sales');
    expectSuccess(enabled);
    expect(enabled.stdout).toBe('Enabled client sales.\n');
    await expectTokenStatus('sales', t.secrets.sales, 200);
  });

  it('remove refuses without --yes (no terminal), removes with it', async () => {
    const secret = reportsSecret;
    await expectTokenStatus('reports', secret, 200);

    expectFailure(await nexus(t, 'clients', 'remove', 'reports'), 1, 'refusing without confirmation: add --yes');
    expect((await clientCredentials(t, 'reports', secret)).status).toBe(200);

    const removed = await nexus(t, 'clients', 'remove', 'reports', '--yes');
    expectSuccess(removed);
    expect(removed.stdout).toBe('Removed client reports.\n');
    const refused = await expectTokenStatus('reports', secret, 401);
    expect(refused.body.error).toBe('invalid_client');

    await expect(t.hub.clients.get('reports')).rejects.toThrow('no client with id "reports"');
    expectFailure(await nexus(t, 'clients', 'remove', '--yes'), 2, /^missing ID; usage: nexus clients remove ID/);
  });

  it('sync applies a clients.json: adds, updates, never deletes, and reports the rest', async () => {
    const edited = fileClients
      .filter((c) => c.id !== 'shelter')
      .map((c) => (c.id === 'dream-people' ? { ...c, name: 'Dream People Renamed' } : c));
    edited.push({
      id: 'atlas', name: 'Atlas', redirectUris: ['https://atlas.example.com/cb'], grantTypes: ['authorization_code', 'client_credentials'],
      scopes: ['atlas:read'], firstParty: false, public: false,
    });
    const file = path.join(tmp, 'clients.json');
    await fs.writeFile(file, JSON.stringify({ clients: edited }, null, 2));

    // Clients added by earlier tests (kiosk) or by the hub itself are registered but in neither file.
    const extra = (await t.hub.clients.list()).map((c) => c.id).filter((id) => !fileIds.includes(id));

    const result = await nexusJson(t, 'clients', 'sync', '--file', file);
    expect(result).toEqual({
      file,
      created: [{ id: 'atlas', secret: expect.stringMatching(/^[A-Za-z0-9_-]{32,}$/) }],
      updated: ['dream-people'],
      unchanged: fileIds.filter((id) => id !== 'dream-people' && id !== 'shelter'),
      notInFile: [...extra, 'shelter'].sort(),
    });
    expect((await nexusJson(t, 'clients', 'show', 'dream-people')).name).toBe('Dream People Renamed');
    // The dropped client is still registered: it still authenticates at the hub.
    const introspection = await postForm(t, '/token/introspection', 'shelter', { token: 'not-a-token' });
    expect(introspection.status).toBe(200);
    expect(introspection.body).toEqual({ active: false });
    await expectTokenStatus('atlas', result.created[0].secret, 200);

    // Without --file: the hub's CLIENTS_FILE (the repository's clients.json), as text.
    const back = await nexus(t, 'clients', 'sync');
    expectSuccess(back);
    expect(back.stdout).toBe([
      `Synced ${path.join(ROOT, 'clients.json')}: 0 added, 1 updated, ${fileIds.length - 1} unchanged.`,
      `Registered but not in the file (left alone; use \`nexus clients remove\`): ${['atlas', ...extra].sort().join(', ')}`,
      '',
    ].join('\n'));

    await fs.writeFile(file, JSON.stringify({ clients: [...edited, { id: 'bad', name: 'Bad', redirectUris: ['http://bad.example/cb'] }] }));
    expectFailure(await nexus(t, 'clients', 'sync', '--file', file), 1, /client "bad": redirect URI "http:\/\/bad\.example\/cb" must use https/);
    // A refused file changes nothing (dream-people keeps the name the repository's file gave it).
    expect((await t.hub.clients.get('dream-people')).name).toBe('Dream People');
    expect((await t.hub.clients.list()).map((c) => c.id)).not.toContain('bad');
  });
});

// Registering a back-channel logout URI (nexus clients add|update, clients.json) on a hub without
// WEBHOOKS_ALLOW_PRIVATE_URLS: https (or http on loopback, like redirect URIs), no private,
// link-local or metadata addresses unless allowed; and at delivery the bus's guarded dispatcher
// refuses a loopback URI all the same (recorded on the delivery, never sent).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { createUser, signIn } from '../billing/support.js';
import { expectFailure, expectSuccess, nexus, nexusJson, run } from '../cli/support.js';
import { endedEvents, eventually } from './support.js';

let t: TestHub;

beforeAll(async () => {
  t = await startTestHub();
});
afterAll(() => t?.stop());

const add = (id: string, ...flags: string[]) => nexus(t, 'clients', 'add', '--id', id, '--name', id, '--redirect-uri', `https://${id}.example.com/cb`, ...flags);

describe('registering a back-channel logout URI', () => {
  it.each([
    ['https://169.254.169.254/latest/meta-data', /public address/],
    ['https://10.1.2.3/logout', /public address/],
    ['https://[fd00::1]/logout', /public address/],
    ['http://crm.example.com/logout', /https/],
    ['ftp://crm.example.com/logout', /https/],
    ['https://crm.example.com/logout#frag', /fragment/],
    ['https://user:pw@crm.example.com/logout', /credentials/],
    ['not a url', /absolute URL/],
    [`https://crm.example.com/${'a'.repeat(2100)}`, /2048/],
  ])('refuses %.60s', async (uri, reason) => {
    expectFailure(await add('refused', '--backchannel-logout-uri', uri), 1, reason);
  });

  it('accepts https and loopback, shows it, and `--backchannel-logout-uri ""` removes it', async () => {
    const added = await nexusJson(t, 'clients', 'add', '--id', 'crm', '--name', 'CRM', '--redirect-uri', 'https://crm.example.com/cb',
      '--backchannel-logout-uri', 'https://crm.example.com/auth/backchannel-logout', '--backchannel-logout-session-required');
    expect(added.client).toMatchObject({ backchannelLogoutUri: 'https://crm.example.com/auth/backchannel-logout', backchannelLogoutSessionRequired: true });
    const shown = await nexus(t, 'clients', 'show', 'crm');
    expectSuccess(shown);
    expect(shown.stdout).toContain('logout:        https://crm.example.com/auth/backchannel-logout (sid required)');
    expectSuccess(await nexus(t, 'clients', 'update', 'crm', '--backchannel-logout-uri', 'http://127.0.0.1:9/logout', '--backchannel-logout-session-optional'));
    expect(await nexusJson(t, 'clients', 'show', 'crm')).toMatchObject({ backchannelLogoutUri: 'http://127.0.0.1:9/logout', backchannelLogoutSessionRequired: false });
    expectSuccess(await nexus(t, 'clients', 'update', 'crm', '--backchannel-logout-uri', ''));
    expect(await nexusJson(t, 'clients', 'show', 'crm')).not.toHaveProperty('backchannelLogoutUri');
  });

  it('a private address is accepted with WEBHOOKS_ALLOW_PRIVATE_URLS (development and tests)', async () => {
    const result = await run(t, ['clients', 'add', '--id', 'intranet', '--name', 'Intranet', '--redirect-uri', 'https://intranet.example.com/cb',
      '--backchannel-logout-uri', 'https://10.1.2.3/logout'], { env: { WEBHOOKS_ALLOW_PRIVATE_URLS: 'true' } });
    expectSuccess(result);
  });

  it('clients.json is validated the same way, one line per problem', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nexus-bcl-'));
    const file = path.join(dir, 'clients.json');
    await fs.writeFile(file, JSON.stringify({ clients: [{
      id: 'bad', name: 'Bad', redirectUris: ['https://bad.example.com/cb'], backchannelLogoutUri: 42, backchannelLogoutSessionRequired: 'yes',
    }] }));
    const result = await run(t, ['clients', 'sync'], { env: { CLIENTS_FILE: file } });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/backchannelLogoutUri must be a string/);
    expect(result.stderr).toMatch(/backchannelLogoutSessionRequired must be true or false/);
  });
});

describe('delivery without WEBHOOKS_ALLOW_PRIVATE_URLS', () => {
  it("a loopback URI (sales' in clients.json) is refused at the socket and recorded on the delivery", async () => {
    const user = await createUser(t, 'guarded@example.com');
    await signIn(t, 'sales', 'guarded@example.com');
    await t.hub.users.disable('guarded@example.com');
    const [event] = await endedEvents(t, user.id);
    expect(event.data).toMatchObject({ project: 'sales', reason: 'disabled' });
    await eventually(async () => (await t.hub.bus.deliveries.list({ eventId: event.id }))[0]?.lastError != null);
    const [delivery] = await t.hub.bus.deliveries.list({ eventId: event.id });
    expect(delivery).toMatchObject({ rule: 'nexus:backchannel-logout', status: 'pending', lastError: 'refused: the address is not public' });
  });
});

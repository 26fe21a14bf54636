// The hub's own identity events (issue 11): every change of a user, an access, an API key, a
// client or a subscription publishes its event in the change's own transaction, so the two are
// there together or not at all; each names who acted (the user, the CLI, the administrator,
// billing); they reach the endpoints that may see them and no others.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/events/event.js';
import { ProjectAccess } from '../../src/accounts/access.js';
import { startTestHub, type TestHub } from '../support/hub.js';
import { adminApi, adminToken } from '../support/admin-token.js';
import { authorize, Browser } from '../support/browser.js';
import { nexusJson } from '../cli/support.js';
import { eventually, Receiver, together } from './support.js';

const PASSWORD = 'correct horse battery';
const SALES_CALLBACK = 'http://localhost:3001/auth/callback';
const USER_FIELDS = ['disabled', 'email', 'emailVerified', 'id', 'name'];

let t: TestHub;
let token: string;
const receivers: Receiver[] = [];

interface Hook {
  id: string;
  secret: string;
  receiver: Receiver;
}

/** An endpoint of `project` (null: the administrators') on a receiver of its own. */
async function hook(project: string | null, eventTypes: string[]): Promise<Hook> {
  const receiver = await Receiver.start();
  receivers.push(receiver);
  const { endpoint, secret } = await t.hub.bus.endpoints.add({ project, url: receiver.url, eventTypes });
  return { id: endpoint.id, secret, receiver };
}

let sales: Hook; // open project: sees every user
let liminal: Hook; // granted project: sees the users with a grant there
let console_: Hook; // granted project nobody here is granted
let admins: Hook;

beforeAll(async () => {
  t = await startTestHub({ WEBHOOKS_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_RETRY_SCHEDULE: '1s' });
  token = await adminToken(t);
  sales = await hook('sales', ['user.*', 'access.*', 'apikey.*', 'subscription.*']);
  liminal = await hook('liminal', ['user.*', 'access.*', 'subscription.*']);
  console_ = await hook('nexus-console', ['user.*']);
  admins = await hook(null, ['*']);
});
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await t?.stop();
});

const hubEvents = (filter: { type?: string; subject?: string } = {}) => t.hub.bus.store.list({ source: 'nexus', limit: 1000, ...filter });

/** The endpoints (by hook) that got a delivery of the event: decided when it was stored. */
async function deliveredTo(eventId: string): Promise<string[]> {
  const { rows } = await t.hub.db.pool.query<{ endpoint_id: string }>('SELECT endpoint_id FROM event_deliveries WHERE event_id = $1 AND endpoint_id IS NOT NULL', [eventId]);
  const names = new Map([[sales.id, 'sales'], [liminal.id, 'liminal'], [console_.id, 'console'], [admins.id, 'admins']]);
  return rows.map((row) => names.get(row.endpoint_id) ?? 'other').sort();
}

/** What a receiver got, verified with the endpoint's secret. */
const received = (h: Hook) => h.receiver.verified(h.secret) as unknown as StoredEvent[];

async function only(filter: { type: string; subject?: string }): Promise<StoredEvent> {
  const found = await hubEvents(filter);
  expect(found, JSON.stringify(found)).toHaveLength(1);
  return found[0];
}

/** Nothing secret may appear in any stored event. */
async function expectNoSecrets(secrets: string[]) {
  const all = JSON.stringify(await hubEvents());
  for (const secret of secrets) expect(all).not.toContain(secret);
  expect(all).not.toMatch(/passwordHash|\$2[aby]\$/);
}

describe('users: self-service sign-up and sign-in', () => {
  const EMAIL = 'selma@example.com';
  let userId: string;

  it('a sign-up is user.created by the user; a sign-in is user.signed_in with the client', async () => {
    const signedIn = await authorize(new Browser(t.url), {
      clientId: 'sales', redirectUri: SALES_CALLBACK, email: EMAIL, password: PASSWORD, signup: { name: 'Selma' }, scope: 'openid email',
    });
    expect(signedIn.code).toBeTruthy();
    const user = (await t.hub.users.findByEmail(EMAIL))!;
    userId = user.id;
    const created = await only({ type: 'user.created', subject: userId });
    expect(created).toMatchObject({
      source: 'nexus', subject: userId, actor: { type: 'user', id: userId },
      data: { id: userId, email: EMAIL, name: 'Selma', emailVerified: false, disabled: false },
    });
    expect(Object.keys(created.data).sort()).toEqual(USER_FIELDS);
    const signIn = await only({ type: 'user.signed_in', subject: userId });
    expect(signIn).toMatchObject({ actor: { type: 'user', id: userId }, data: { clientId: 'sales' } });
    expect(signIn.sequence).toBeGreaterThan(created.sequence);
    await expectNoSecrets([PASSWORD]);
  });

  it('reaches the open project and the administrators, not a granted project the user cannot use', async () => {
    const created = await only({ type: 'user.created', subject: userId });
    expect(await deliveredTo(created.id)).toEqual(['admins', 'sales']);
    await eventually(() => expect(received(sales).map((e) => e.id)).toContain(created.id));
    const delivered = received(sales).find((e) => e.id === created.id)!;
    expect(delivered).toMatchObject({ type: 'user.created', subject: userId, actor: { type: 'user', id: userId } });
  });

  it('a sign-up with a taken address changes nothing and publishes nothing', async () => {
    const before = await hubEvents();
    const again = await authorize(new Browser(t.url), {
      clientId: 'sales', redirectUri: SALES_CALLBACK, email: EMAIL, password: 'another long password', signup: { name: 'Impostor' }, scope: 'openid email',
    });
    expect(again.code).toBeNull(); // the login that follows fails: the password is not hers
    expect(await hubEvents()).toEqual(before);
    await expect(t.hub.users.create({ email: EMAIL, password: PASSWORD })).rejects.toMatchObject({ code: 'email_taken' });
    expect(await hubEvents()).toEqual(before);
  });
});

describe('admin API: users, access, API keys, plans, clients', () => {
  const EMAIL = 'ada@example.com';
  const ROOT = { type: 'admin', id: 'root@example.com' };
  let userId: string;

  it('creates, grants, disables, enables, sets the password: each change its event, actor the administrator', async () => {
    const created = await adminApi(t, token, 'POST', '/users', { email: EMAIL, password: PASSWORD, name: 'Ada' });
    expect(created.status).toBe(201);
    userId = created.body.id;
    expect(await only({ type: 'user.created', subject: userId })).toMatchObject({ actor: ROOT, data: { email: EMAIL, emailVerified: true } });

    expect((await adminApi(t, token, 'POST', '/access', { email: EMAIL, project: 'liminal', role: 'user' })).status).toBe(200);
    const granted = await only({ type: 'access.granted', subject: userId });
    expect(granted).toMatchObject({ actor: ROOT, data: { project: 'liminal', role: 'user', source: 'admin' } });
    // Now liminal admits her: its endpoint is told (the grant is visible to its own event).
    expect(await deliveredTo(granted.id)).toEqual(['admins', 'liminal', 'sales']);

    // Another role is a change (with what it replaced); the same role again is none.
    expect((await adminApi(t, token, 'POST', '/access', { email: EMAIL, project: 'liminal', role: 'admin' })).status).toBe(200);
    expect((await adminApi(t, token, 'POST', '/access', { email: EMAIL, project: 'liminal', role: 'admin' })).status).toBe(200);
    const grants = await hubEvents({ type: 'access.granted', subject: userId });
    expect(grants.map((e) => e.data)).toEqual([
      { project: 'liminal', role: 'user', source: 'admin' },
      { project: 'liminal', role: 'admin', source: 'admin', previousRole: 'user', previousSource: 'admin' },
    ]);

    // An invalid role fails and publishes nothing.
    const before = await hubEvents();
    expect((await adminApi(t, token, 'POST', '/access', { email: EMAIL, project: 'liminal', role: 'emperor' })).status).toBe(400);
    expect(await hubEvents()).toEqual(before);

    expect((await adminApi(t, token, 'POST', `/users/${EMAIL}/disable`)).status).toBe(200);
    expect((await adminApi(t, token, 'POST', `/users/${EMAIL}/disable`)).status).toBe(200); // already: no change
    const disabled = await only({ type: 'user.disabled', subject: userId });
    expect(disabled).toMatchObject({ actor: ROOT, data: { id: userId, disabled: true } });
    expect(await deliveredTo(disabled.id)).toEqual(['admins', 'liminal', 'sales']);
    expect((await adminApi(t, token, 'POST', `/users/${EMAIL}/enable`)).status).toBe(200);
    expect((await adminApi(t, token, 'POST', `/users/${EMAIL}/password`, { password: 'a brand new passphrase' })).status).toBe(200);
    const updates = await hubEvents({ type: 'user.updated', subject: userId });
    expect(updates.map((e) => [e.actor, e.data.changed, e.data.disabled])).toEqual([[ROOT, ['disabled'], false]]);
    expect(await only({ type: 'user.password_changed', subject: userId })).toMatchObject({ actor: ROOT, data: { id: userId, email: EMAIL, disabled: false } });
    await expectNoSecrets([PASSWORD, 'a brand new passphrase']);
  });

  it('API keys: apikey.created and apikey.revoked with id, name, env and prefix only', async () => {
    const created = await adminApi(t, token, 'POST', '/apikeys', { email: EMAIL, name: 'notebook', env: 'test' });
    expect(created.status).toBe(201);
    const { key, id, prefix } = created.body;
    const event = await only({ type: 'apikey.created', subject: userId });
    expect(event).toMatchObject({ actor: ROOT, data: { id, name: 'notebook', env: 'test', prefix } });
    expect(Object.keys(event.data).sort()).toEqual(['env', 'id', 'name', 'prefix']);
    expect((await adminApi(t, token, 'POST', `/apikeys/${id}/revoke`)).status).toBe(200);
    expect((await adminApi(t, token, 'POST', `/apikeys/${id}/revoke`)).status).toBe(200); // revoked already: one event
    expect(await only({ type: 'apikey.revoked', subject: userId })).toMatchObject({ actor: ROOT, data: { id, name: 'notebook', env: 'test', prefix } });
    await expectNoSecrets([key]);
    await eventually(() => expect(received(sales).filter((e) => e.subject === userId).map((e) => e.type)).toEqual(expect.arrayContaining(['apikey.created', 'apikey.revoked'])));
  });

  it('a plan set by the administrator: subscription.changed (shape as before) and the plan grants as access events', async () => {
    expect((await adminApi(t, token, 'DELETE', '/access', { email: EMAIL, project: 'liminal' })).status).toBe(200);
    const revoked = await only({ type: 'access.revoked', subject: userId });
    expect(revoked).toMatchObject({ actor: ROOT, data: { project: 'liminal', role: 'admin', source: 'admin' } });
    // Published while the grant still existed: liminal is told it lost her.
    expect(await deliveredTo(revoked.id)).toEqual(['admins', 'liminal', 'sales']);

    expect((await adminApi(t, token, 'PUT', `/users/${EMAIL}/plan`, { plan: 'pro' })).status).toBe(200);
    const changed = await only({ type: 'subscription.changed', subject: userId });
    expect(changed).toMatchObject({
      actor: ROOT,
      data: { source: 'admin', from: { plan: 'free', status: 'active' }, to: { plan: 'pro', status: 'active', effectivePlan: 'pro' }, currentPeriodEnd: null, mrrCents: 0 },
    });
    const planGrant = (await hubEvents({ type: 'access.granted', subject: userId })).at(-1)!;
    expect(planGrant).toMatchObject({ actor: ROOT, data: { project: 'liminal', role: 'user', source: 'plan' } });
    expect(await deliveredTo(changed.id)).toEqual(['admins', 'liminal', 'sales']);

    expect((await adminApi(t, token, 'PUT', `/users/${EMAIL}/plan`, { plan: 'free' })).status).toBe(200);
    const lapsed = (await hubEvents({ type: 'access.revoked', subject: userId })).at(-1)!;
    expect(lapsed).toMatchObject({ actor: ROOT, data: { project: 'liminal', role: 'user', source: 'plan' } });
    expect(await deliveredTo(lapsed.id)).toEqual(['admins', 'liminal', 'sales']);
  });

  it('Stripe notices that change nothing are billing events (recordEvent)', async () => {
    await t.hub.subscriptions.recordEvent('billing.unknown_customer', null, { stripeEvent: 'evt_1', type: 'invoice.paid', customer: 'cus_x' });
    const notice = await only({ type: 'billing.unknown_customer' });
    expect(notice).toMatchObject({ subject: null, actor: { type: 'system', id: 'billing' }, data: { stripeEvent: 'evt_1', customer: 'cus_x' } });
    expect(await deliveredTo(notice.id)).toEqual(['admins']);
  });

  it('clients: client.* events name the project in data and reach its own endpoints', async () => {
    const added = await adminApi(t, token, 'POST', '/clients', {
      id: 'lab', name: 'Lab', redirectUris: [], postLogoutRedirectUris: [], grantTypes: ['client_credentials'], public: false, scopes: [],
    });
    expect(added.status).toBe(201);
    const lab = await hook('lab', ['client.*']);
    expect((await adminApi(t, token, 'PATCH', '/clients/lab', { name: 'Lab 2' })).status).toBe(200);
    expect((await adminApi(t, token, 'PATCH', '/clients/lab', { name: 'Lab 2' })).status).toBe(200); // nothing changed
    expect((await adminApi(t, token, 'POST', '/clients/lab/rotate-secret', { grace: '1h' })).status).toBe(200);
    expect((await adminApi(t, token, 'POST', '/clients/lab/disable')).status).toBe(200);
    expect((await adminApi(t, token, 'POST', '/clients/lab/disable')).status).toBe(200); // already: no change
    expect((await adminApi(t, token, 'POST', '/clients/lab/enable')).status).toBe(200);
    const events = (await hubEvents({ type: 'client.*' })).filter((e) => e.data.project === 'lab');
    expect(events.map((e) => e.type)).toEqual(['client.created', 'client.updated', 'client.secret_rotated', 'client.disabled', 'client.enabled']);
    for (const event of events) expect(event).toMatchObject({ subject: null, actor: ROOT, data: { project: 'lab' } });
    expect(events[1].data).toMatchObject({ name: 'Lab 2', changed: ['name'] });
    expect(events[2].data.rotationGraceUntil).toEqual(expect.any(String));
    await expectNoSecrets([added.body.secret]);
    await eventually(() => expect(received(lab).map((e) => e.type)).toEqual(['client.updated', 'client.secret_rotated', 'client.disabled', 'client.enabled']));

    // Its endpoints go with it: the removal reaches the administrators.
    expect((await adminApi(t, token, 'DELETE', '/clients/lab')).status).toBe(204);
    const removed = await only({ type: 'client.removed' });
    expect(removed).toMatchObject({ actor: ROOT, data: { project: 'lab', name: 'Lab 2' } });
    expect(await deliveredTo(removed.id)).toEqual(['admins']);
  });

  it('user.deleted is published before the user goes: it reaches the endpoints that could see her', async () => {
    expect((await adminApi(t, token, 'POST', '/access', { email: EMAIL, project: 'liminal', role: 'read_only' })).status).toBe(200);
    expect((await adminApi(t, token, 'DELETE', `/users/${EMAIL}`)).status).toBe(204);
    const deleted = await only({ type: 'user.deleted', subject: userId });
    expect(deleted).toMatchObject({ actor: ROOT, data: { id: userId, email: EMAIL, name: 'Ada', disabled: false } });
    expect(await deliveredTo(deleted.id)).toEqual(['admins', 'liminal', 'sales']);
    await eventually(() => expect(received(liminal).map((e) => e.id)).toContain(deleted.id));
    expect(await t.hub.users.findById(userId)).toBeNull();
    // Deleting again fails before any change: no second event.
    expect((await adminApi(t, token, 'DELETE', `/users/${EMAIL}`)).status).toBe(404);
    await only({ type: 'user.deleted', subject: userId });
  });
});

describe('CLI', () => {
  it('changes made with `nexus` name the CLI as the actor', async () => {
    const user = await nexusJson(t, 'users', 'create', '--email', 'cli@example.com', '--name', 'Cli', '--json');
    await nexusJson(t, 'access', 'grant', '--email', 'cli@example.com', '--project', 'liminal', '--role', 'user', '--json');
    await nexusJson(t, 'users', 'disable', 'cli@example.com', '--json');
    const CLI = { type: 'admin', id: 'cli' };
    expect((await only({ type: 'user.created', subject: user.id })).actor).toEqual(CLI);
    expect((await only({ type: 'access.granted', subject: user.id })).actor).toEqual(CLI);
    const disabled = await only({ type: 'user.disabled', subject: user.id });
    expect(disabled.actor).toEqual(CLI);
    // Published by another process: delivered by the hub's worker all the same.
    await eventually(() => expect(received(liminal).map((e) => e.id)).toContain(disabled.id));
  });
});

describe('concurrent changes of one access (8 at once)', () => {
  let userId: string;
  let library: ProjectAccess;
  beforeAll(async () => {
    library = new ProjectAccess(t.hub.db.prisma, t.hub.bus);
    userId = (await t.hub.users.create({ email: 'race@example.com', password: PASSWORD })).id;
  });
  const access = () => t.hub.db.pool.query('SELECT role::text AS role FROM project_access WHERE user_id = $1 AND project = $2', [userId, 'liminal']);
  const accessEvents = async () => (await hubEvents({ subject: userId })).filter((e) => e.type.startsWith('access.') && e.data.project === 'liminal');

  it('8 identical grants: one row, one access.granted', async () => {
    const answers = await together(8, () => library.grant(userId, 'liminal', 'user'));
    expect(answers.every((a) => a.role === 'user')).toBe(true);
    expect((await access()).rows).toEqual([{ role: 'user' }]);
    expect((await accessEvents()).map((e) => e.type)).toEqual(['access.granted']);
  });

  it('8 revokes: one succeeds, one access.revoked', async () => {
    const answers = await together(8, () => library.revoke(userId, 'liminal'));
    expect(answers.filter(Boolean)).toHaveLength(1);
    expect((await access()).rows).toEqual([]);
    expect((await accessEvents()).map((e) => e.type)).toEqual(['access.granted', 'access.revoked']);
  });

  it('grants and revokes interleaved: the events alternate, one per change, and end in the final state', async () => {
    const before = (await accessEvents()).length;
    await together(8, async (i) => { await (i % 2 ? library.revoke(userId, 'liminal') : library.grant(userId, 'liminal', 'read_only')); });
    const events = (await accessEvents()).slice(before);
    expect(events.length).toBeGreaterThanOrEqual(1);
    events.forEach((event, i) => expect(event.type).toBe(i % 2 ? 'access.revoked' : 'access.granted'));
    const held = (await access()).rows.length === 1;
    expect(events.at(-1)!.type).toBe(held ? 'access.granted' : 'access.revoked');
  });

  it('8 concurrent deletes of one user: one user.deleted', async () => {
    const results = await together(8, () => t.hub.users.delete('race@example.com').then(() => true, () => false));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await hubEvents({ type: 'user.deleted', subject: userId }))).toHaveLength(1);
  });
});

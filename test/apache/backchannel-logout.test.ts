// Back-channel logout to Apache httpd with mod_auth_openidc (Debian's libapache2-mod-auth-openidc):
// its back-channel endpoint is the redirect URI with ?logout=backchannel, registered at the hub
// as the project's backchannelLogoutUri. A person signs in through Apache and the hub's pages,
// then signs out at the hub (not through Apache): the hub's durable delivery POSTs the logout
// token, mod_auth_openidc verifies it and ends its own session, and the protected page sends the
// person to the hub again. The first attempt meets Apache down (stopped), the retry succeeds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { parseForm } from '../support/browser.js';
import { freePort } from '../support/process.js';
import { apacheMissing, startApache, type Apache } from './apache.js';
import { CookieBrowser } from './cookie-browser.js';

const EMAIL = 'barbara@example.com';
const PASSWORD = 'jumping genes 1983';
const CLIENT_ID = 'apache-bcl';

const missing = apacheMissing();
if (missing) console.warn(`[skip] Apache back-channel logout test skipped: ${missing}`);

describe.skipIf(missing !== undefined)('back-channel logout to Apache mod_auth_openidc', () => {
  let t: TestHub;
  let apache: Apache;
  let port: number;
  let secret: string;
  let userId: string;
  const context = (browser?: CookieBrowser) => `\n--- hops ---\n${browser?.trace() ?? ''}\n--- apache error.log ---\n${apache?.errorLog() ?? ''}`;

  beforeAll(async () => {
    // Apache listens on loopback; retries two seconds apart.
    t = await startTestHub({ WEBHOOKS_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_RETRY_SCHEDULE: '2s,2s,2s,2s,2s' });
    port = await freePort();
    const redirectUri = `http://localhost:${port}/protected/redirect_uri`;
    const added = await t.hub.clients.add({
      id: CLIENT_ID, name: 'Apache back-channel', redirectUris: [redirectUri], grantTypes: ['authorization_code'],
      firstParty: true, audience: 'urn:nexus:apache-bcl', scopes: [],
      backchannelLogoutUri: `${redirectUri}?logout=backchannel`, backchannelLogoutSessionRequired: true,
    });
    secret = added.secret!;
    userId = (await t.hub.users.create({ email: EMAIL, password: PASSWORD, fullName: 'Barbara McClintock' })).id;
    apache = await startApache({ port, issuer: t.url, clientId: CLIENT_ID, clientSecret: secret });
  });

  afterAll(async () => {
    try {
      await apache?.stop();
    } finally {
      await t?.stop();
    }
  });

  /** A person opens Apache's protected page, signs in on the hub's login page and is sent back there. */
  async function signInThroughApache() {
    const browser = new CookieBrowser();
    const start = `${apache.url}/protected/`;
    let page = await browser.follow(await browser.get(start), start);
    const login = parseForm(page.body, '/login');
    const loginUrl = new URL(login.action, page.url);
    page = await browser.follow(await browser.post(loginUrl, { ...login.fields, email: EMAIL, password: PASSWORD }), loginUrl);
    expect(page.url, context(browser)).toBe(start);
    return { browser, page };
  }

  it('a logout at the hub ends the session Apache holds: the protected page sends the person to the hub again', async () => {
    const { browser } = await signInThroughApache();
    // Signed in at Apache: served without a trip to the hub.
    expect((await browser.get(`${apache.url}/protected/again`)).status).toBe(200);

    const before = await t.hub.db.prisma.event.count({ where: { type: 'session.ended', userId } });
    const end = `${t.url}/session/end`;
    const confirm = await browser.follow(await browser.get(end), end);
    const form = parseForm(confirm.body, '/session/end/confirm');
    const formUrl = new URL(form.action, confirm.url);
    expect((await browser.post(formUrl, { ...form.fields, logout: 'yes' })).status).toBe(303);
    const events = await t.hub.db.prisma.event.findMany({ where: { type: 'session.ended', userId }, orderBy: { createdAt: 'asc' } });
    expect(events).toHaveLength(before + 1);
    const event = events.at(-1)!;
    await expect.poll(async () => (await t.hub.bus.deliveries.list({ eventId: event.id }))[0]?.status, { timeout: 15_000 }).toBe('delivered');

    // Apache's session is over: its cookie is still sent, and Apache redirects to the hub.
    const again = await browser.get(`${apache.url}/protected/again`);
    expect(again.status, context(browser)).toBe(302);
    expect(new URL(again.location!).origin + new URL(again.location!).pathname).toBe(`${t.url}/auth`);
  });

  it('Apache down at the first attempt gets the logout token on retry', async () => {
    const { browser, page } = await signInThroughApache();
    expect(page.body).toContain(`REMOTE_USER=${EMAIL}`);

    // Apache goes down; the person signs out at the hub itself.
    await apache.stop();
    const end = `${t.url}/session/end`;
    const confirm = await browser.follow(await browser.get(end), end);
    const form = parseForm(confirm.body, '/session/end/confirm');
    const formUrl = new URL(form.action, confirm.url);
    expect((await browser.post(formUrl, { ...form.fields, logout: 'yes' })).status).toBe(303);

    const [event] = await t.hub.db.prisma.event.findMany({ where: { type: 'session.ended', userId }, orderBy: { createdAt: 'desc' }, take: 1 });
    expect(event.data).toMatchObject({ project: CLIENT_ID, reason: 'logout' });
    await expect.poll(async () => (await t.hub.bus.deliveries.list({ eventId: event.id }))[0]?.lastError, { timeout: 10_000 }).toBe('connection refused');

    // Apache comes back on the same port (a new httpd: its sessions lived in the old one's shared
    // memory); the retry reaches it and mod_auth_openidc accepts the token.
    apache = await startApache({ port, issuer: t.url, clientId: CLIENT_ID, clientSecret: secret });
    await expect.poll(async () => (await t.hub.bus.deliveries.list({ eventId: event.id }))[0]?.status, { timeout: 20_000 }).toBe('delivered');
    const [delivery] = await t.hub.bus.deliveries.list({ eventId: event.id });
    expect(delivery.attempts).toBeGreaterThanOrEqual(2);
    expect(delivery.lastStatus).toBe(200);
  });
});

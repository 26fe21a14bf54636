// RP-initiated logout to a post_logout_redirect_uri the client has not registered: the page says
// that return address is not registered for that application (not "incomplete sign-in
// request"), the user stays signed in, and the hub's log line (the real process's JSON logs)
// names the cause.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcessHub, type ProcessHub } from '../support/process-hub.js';
import { authorize, Browser, pkcePair } from '../support/browser.js';
import { basicAuth } from '../support/oauth.js';
import { expectSuccess, run } from '../cli/support.js';

const CALLBACK = 'http://localhost:3001/auth/callback';
const EMAIL = 'ada@example.com';
const PASSWORD = 'correct horse battery';
const EVIL = 'https://evil.example/';

let hub: ProcessHub;
beforeAll(async () => {
  hub = await startProcessHub();
  expectSuccess(await run(undefined, ['users', 'create', '--email', EMAIL, '--password-stdin'], { stdin: PASSWORD, env: hub.env }));
});
afterAll(() => hub?.stop());

const unescape = (html: string) => html.replaceAll('&#39;', "'").replaceAll('&#34;', '"');

/** Waits for the log line of the request (the process writes it after answering). */
async function refusalLogged(requestId: string) {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const entry = hub.logs().find((line) => line.requestId === requestId && line.msg === 'oidc request refused');
    if (entry) return entry;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no refusal logged for ${requestId}:\n${hub.server.output().slice(-3000)}`);
}

async function expectUnregisteredPage(response: Response) {
  expect(response.status).toBe(400);
  const html = unescape(await response.text());
  expect(html).toContain('<h1>Unregistered return address</h1>');
  expect(html).toContain('The address to return to after signing out is not registered for Nexus Sales CRM, so Nexus did not sign you out.');
  expect(html).not.toContain('incomplete');
  expect(html).not.toContain('evil.example');
  const requestId = response.headers.get('x-request-id')!;
  expect(html).toContain(requestId);
  const logged = await refusalLogged(requestId);
  expect(logged).toMatchObject({ level: 30, route: 'end_session', client: 'sales', error: 'invalid_request', reason: 'post_logout_redirect_uri not registered' });
}

describe('logout to an unregistered post_logout_redirect_uri', () => {
  it('without id_token_hint: a 400 page naming the cause, and a log line naming it', async () => {
    const browser = new Browser(hub.url);
    await expectUnregisteredPage(await browser.get(`/session/end?${new URLSearchParams({ client_id: 'sales', post_logout_redirect_uri: EVIL })}`));
  });

  it('with id_token_hint: the same, and the user is still signed in', async () => {
    const browser = new Browser(hub.url);
    const signedIn = await authorize(browser, { clientId: 'sales', redirectUri: CALLBACK, scope: 'openid', email: EMAIL, password: PASSWORD });
    expect(signedIn.code).toBeTruthy();
    const tokens = await fetch(`${hub.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('sales', hub.secrets.sales) },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: signedIn.code!, code_verifier: signedIn.verifier, redirect_uri: CALLBACK }),
    });
    const { id_token: idToken } = (await tokens.json()) as { id_token: string };
    expect(idToken).toBeTruthy();

    await expectUnregisteredPage(await browser.get(`/session/end?${new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: EVIL })}`));
    await expectUnregisteredPage(await browser.get(`/session/end?${new URLSearchParams({ client_id: 'sales', id_token_hint: idToken, post_logout_redirect_uri: EVIL })}`));

    // Nothing was signed out: a silent sign-in still gets a code.
    const silent = await browser.follow(await browser.get(`/auth?${new URLSearchParams({
      client_id: 'sales', redirect_uri: CALLBACK, response_type: 'code', scope: 'openid', prompt: 'none', code_challenge: pkcePair().challenge, code_challenge_method: 'S256',
    })}`));
    expect(new URL(silent.url).searchParams.get('code')).toBeTruthy();

    // The registered return address still leads to the sign-out confirmation.
    const registered = await browser.get(`/session/end?${new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: 'http://localhost:3001/' })}`);
    expect(registered.status).toBe(200);
    expect(await registered.text()).toContain('Sign out');
  });
});

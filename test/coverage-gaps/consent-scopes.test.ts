// The consent page of a third-party project says in plain words what each requested scope
// allows: the OpenID scopes, and "view" / "create and change" for a project's read and write scopes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { authorize, Browser } from '../support/browser.js';

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub();
  await t.hub.users.create({ email: 'ada@example.com', password: 'correct horse battery', fullName: 'Ada Lovelace' });
});
afterAll(() => t?.stop());

describe('consent page', () => {
  it('describes every requested scope, write and offline access included', async () => {
    const result = await authorize(new Browser(t.url), {
      clientId: 'agi-safety', redirectUri: 'http://localhost:3005/auth/callback', email: 'ada@example.com', password: 'correct horse battery',
      consent: false, scope: 'openid profile offline_access research:read research:write',
    });
    expect(result.code).toBeNull();
    for (const words of [
      'Know who you are (your Nexus account id)',
      'See your name and profile picture',
      'Stay connected when you are not using it',
      'View your research',
      'Create and change your research',
    ]) expect(result.body).toContain(words);
  });
});

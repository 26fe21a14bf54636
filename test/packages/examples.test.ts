// The integration patterns the README shows, run against a real hub: Liminal's Next.js
// middleware protecting /dashboard, and Testing Hub's migration (a Nexus token when present,
// the project's old login otherwise).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { ProjectAccess } from '../../src/accounts/access.js';
import { startTestHub, type TestHub } from '../support/hub.js';
import { postForm } from '../support/oauth.js';
import { authorize, Browser } from '../support/browser.js';
import type { LegacyUser } from '../../examples/testing-hub/auth.js';

const PASSWORD = 'a long enough password';
let t: TestHub;

/** A user's access token for a project, through the real login pages. */
async function userToken(clientId: string, callback: string, email: string, scope: string) {
  const result = await authorize(new Browser(t.url), { clientId, redirectUri: callback, email, password: PASSWORD, scope });
  expect(result.code).toBeTruthy();
  const tokens = await postForm(t, '/token', clientId, {
    grant_type: 'authorization_code', code: result.code!, code_verifier: result.verifier, redirect_uri: callback,
  });
  expect(tokens.status).toBe(200);
  return tokens.body.access_token;
}

beforeAll(async () => {
  t = await startTestHub();
  // The example modules read NEXUS_ISSUER when they are loaded, as a deployed project does.
  process.env.NEXUS_ISSUER = t.url;
});
afterAll(async () => {
  delete process.env.NEXUS_ISSUER;
  await t?.stop();
});

describe('examples/liminal-next/middleware.ts (Next.js)', () => {
  let liminalToken: string;
  let middleware: (request: Request) => Promise<Response | undefined>;
  let config: { matcher: string[] };

  beforeAll(async () => {
    const user = await t.hub.users.create({ email: 'ada@example.com', password: PASSWORD });
    await new ProjectAccess(t.hub.db.prisma).grant(user.id, 'liminal', 'user');
    liminalToken = await userToken('liminal', 'http://localhost:3003/auth/callback', 'ada@example.com', 'openid liminal:read');
    ({ middleware, config } = await import('../../examples/liminal-next/middleware.js'));
  });

  const dashboard = (headers: Record<string, string> = {}) => new Request('http://localhost:3003/dashboard/streaks?week=3', { headers });

  it('protects /dashboard only', () => {
    expect(config.matcher).toEqual(['/dashboard/:path*']);
  });

  it('lets a signed-in user through with the nexus_token cookie or a Bearer header', async () => {
    expect(await middleware(dashboard({ cookie: `theme=dark; nexus_token=${liminalToken}` }))).toBeUndefined();
    expect(await middleware(dashboard({ authorization: `Bearer ${liminalToken}` }))).toBeUndefined();
  });

  it('sends a browser without a valid token to the login page, coming back to the same page', async () => {
    for (const headers of [{}, { cookie: 'nexus_token=not-a-jwt' }] as Array<Record<string, string>>) {
      const answer = (await middleware(dashboard(headers)))!;
      expect(answer.status).toBe(302);
      const location = new URL(answer.headers.get('location')!);
      expect(location.pathname).toBe('/login');
      expect(location.searchParams.get('returnTo')).toBe('/dashboard/streaks?week=3');
    }
  });

  it('refuses another project’s token', async () => {
    const salesToken = (await postForm(t, '/token', 'sales', { grant_type: 'client_credentials' })).body.access_token;
    expect((await middleware(dashboard({ cookie: `nexus_token=${salesToken}` })))!.status).toBe(302);
  });
});

describe('examples/testing-hub (migration from the old login)', () => {
  const legacy = new Map<string, LegacyUser>([['old-session-1', { id: 'legacy-42', email: 'grace@example.com' }]]);
  let app: Awaited<ReturnType<typeof import('../../examples/testing-hub/server.js')['createTestingHubApp']>>;
  let testingToken: string;

  beforeAll(async () => {
    await t.hub.users.create({ email: 'grace@example.com', password: PASSWORD });
    testingToken = await userToken('testing', 'http://localhost:3010/auth/callback', 'grace@example.com', 'openid email audits:read');
    const { createTestingHubApp } = await import('../../examples/testing-hub/server.js');
    app = createTestingHubApp(legacy, { audience: 'urn:nexus:testing' });
  });

  it('accepts a Nexus token from the nexus_token cookie', async () => {
    const response = await request(app).get('/api/audits').set('Cookie', `nexus_token=${testingToken}`);
    expect(response.status).toBe(200);
    expect(response.body.user).toMatchObject({ source: 'nexus', email: 'grace@example.com' });
  });

  it('falls back to the old session when there is no Nexus token', async () => {
    const response = await request(app).get('/api/audits').set('Cookie', 'th_session=old-session-1');
    expect(response.status).toBe(200);
    expect(response.body.user).toEqual({ id: 'legacy-42', email: 'grace@example.com', source: 'legacy' });
  });

  it('refuses an invalid Nexus token instead of falling back, and a request with neither', async () => {
    const forged = await request(app).get('/api/audits').set('Cookie', 'th_session=old-session-1; nexus_token=eyJhbGciOiJub25lIn0.e30.');
    expect(forged.status).toBe(401);
    expect(forged.body.error).toBe('invalid_token');
    expect(forged.headers['www-authenticate']).toMatch(/^Bearer realm="testing-hub", error="invalid_token"/);
    const anonymous = await request(app).get('/api/audits');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error).toBe('login_required');
  });
});

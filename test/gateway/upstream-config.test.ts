// The `upstream` field through every face: `nexus clients update ID --upstream URL` (a real CLI
// process), the admin API, validation, and a running hub picking the change up at once.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { adminApi, adminToken } from '../support/admin-token.js';
import { expectFailure, expectSuccess, nexus, waitFor } from '../cli/support.js';
import { createUser, signIn, startUpstream, type Upstream } from './support.js';

let t: TestHub;
let upstream: Upstream;
let token: string;

beforeAll(async () => {
  t = await startTestHub();
  upstream = await startUpstream();
  await createUser(t, 'ada@example.com');
  token = await signIn(t, 'ada@example.com');
});
afterAll(async () => {
  await upstream?.close();
  await t?.stop();
});

const status = async () => (await fetch(`${t.url}/api/gateway/dream-people/x`, { headers: { authorization: `Bearer ${token}` } })).status;

it('clients.json gives sales its upstream', async () => {
  expect((await t.hub.clients.get('sales')).upstream).toBe('http://localhost:3001/api');
});

it('nexus clients update --upstream reaches the running hub; --upstream "" takes the project out', async () => {
  expect(await status()).toBe(404);
  expectSuccess(await nexus(t, 'clients', 'update', 'dream-people', '--upstream', upstream.url));
  const shown = await nexus(t, 'clients', 'show', 'dream-people');
  expect(shown.stdout).toContain(`upstream:      ${upstream.url}`);
  // A dream-people call with a sales token: the project is found, the token is refused.
  await waitFor(async () => (await status()) === 401, 'the hub to see the upstream');
  expectFailure(await nexus(t, 'clients', 'update', 'dream-people', '--upstream', 'ftp://u:p@x.example/api'), 1, /upstream/);
  expectSuccess(await nexus(t, 'clients', 'update', 'dream-people', '--upstream', ''));
  await waitFor(async () => (await status()) === 404, 'the hub to drop the upstream');
});

it('the admin API sets and clears upstream and gateway settings', async () => {
  const admin = await adminToken(t);
  const set = await adminApi(t, admin, 'PATCH', '/clients/testing', { upstream: `${upstream.url}/`, gateway: { timeoutSeconds: 5, corsOrigins: ['https://qa.example'] } });
  expect(set.status).toBe(200);
  expect(set.body.upstream ?? set.body.client?.upstream).toBe(upstream.url); // trailing slash dropped
  const bad = await adminApi(t, admin, 'PATCH', '/clients/testing', { upstream: 'http://x.example/api?q=1', gateway: { timeoutSeconds: 0, corsOrigins: ['https://qa.example/path'] } });
  expect(bad.status).toBe(400);
  expect(bad.body.error).toBe('invalid_client_metadata');
  const cleared = await adminApi(t, admin, 'PATCH', '/clients/testing', { upstream: null });
  expect(cleared.status).toBe(200);
  expect(cleared.body.upstream ?? cleared.body.client?.upstream).toBeUndefined();
});

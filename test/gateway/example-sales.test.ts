// examples/sales serves its API behind the gateway: a call to /api/gateway/sales/leads reaches
// the example's /api/leads, which admits it through the signed assertion (@nexus/auth
// gatewayKoa); a direct call with forged X-Nexus-* headers and a made-up assertion is refused;
// direct bearer-token calls keep working.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { createSalesApp } from '../../examples/sales/server.js';
import { createUser, putBehindGateway, signIn } from './support.js';

let t: TestHub;
let sales: http.Server;
let salesUrl: string;
let token: string;

beforeAll(async () => {
  t = await startTestHub();
  const app = createSalesApp({ issuer: t.url, port: 3001, clientSecret: t.secrets.sales, cookieSecret: 'x'.repeat(40) });
  sales = http.createServer(app.callback());
  await new Promise<void>((resolve) => sales.listen(0, '127.0.0.1', resolve));
  salesUrl = `http://127.0.0.1:${(sales.address() as AddressInfo).port}`;
  await putBehindGateway(t, 'sales', `${salesUrl}/api`);
  await createUser(t, 'ada@example.com');
  token = await signIn(t, 'ada@example.com', { scope: 'openid email leads:read' });
});
afterAll(async () => {
  await new Promise((resolve) => { sales?.closeAllConnections(); sales?.close(resolve); });
  await t?.stop();
});

it('answers through the gateway, admitted by the assertion', async () => {
  const response = await fetch(`${t.url}/api/gateway/sales/leads`, { headers: { authorization: `Bearer ${token}` } });
  expect(response.status).toBe(200);
  const body = await response.json();
  expect(body.owner).toBe('ada@example.com');
  expect(body.leads.length).toBeGreaterThan(0);
});

it('refuses forged identity headers sent to it directly', async () => {
  const forged = await fetch(`${salesUrl}/api/leads`, {
    headers: { 'x-nexus-user-id': 'someone', 'x-nexus-email': 'ceo@example.com', 'x-nexus-scopes': 'leads:read', 'x-nexus-assertion': 'eyJhbGciOiJub25lIn0.e30.' },
  });
  expect(forged.status).toBe(401);
  // An access token is not an assertion either.
  const tokenAsAssertion = await fetch(`${salesUrl}/api/leads`, { headers: { 'x-nexus-assertion': token } });
  expect(tokenAsAssertion.status).toBe(401);
  expect((await fetch(`${salesUrl}/api/leads`)).status).toBe(401);
  const direct = await fetch(`${salesUrl}/api/leads`, { headers: { authorization: `Bearer ${token}` } });
  expect(direct.status).toBe(200);
});

it('gatewayExpress admits gateway traffic to an Express upstream and refuses the rest', async () => {
  const { default: express } = await import('express');
  const { gatewayExpress } = await import('@nexus/auth');
  const app = express();
  app.use(gatewayExpress({ issuer: t.url, audience: 'urn:nexus:dream-people' }));
  app.get('/api/portfolio', (req, res) => { res.json({ who: (req as unknown as { gateway: { email: string; project: string } }).gateway }); });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await putBehindGateway(t, 'dream-people', `${url}/api`);
    const dreamToken = await signIn(t, 'ada@example.com', { clientId: 'dream-people', redirectUri: 'http://localhost:3002/auth/callback', scope: 'openid portfolio:read' });
    const through = await fetch(`${t.url}/api/gateway/dream-people/portfolio`, { headers: { authorization: `Bearer ${dreamToken}` } });
    expect(through.status).toBe(200);
    expect((await through.json()).who).toMatchObject({ email: 'ada@example.com', project: 'dream-people' });
    const direct = await fetch(`${url}/api/portfolio`, { headers: { 'x-nexus-email': 'ceo@example.com' } });
    expect(direct.status).toBe(401);
    expect((await direct.json()).error).toBe('invalid_token');
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

// Client secrets never reach the hub's log, through a rotation with grace: the real hub process
// (debug level) serves the old and the new secret and refuses wrong ones while `nexus clients
// rotate-secret --grace` (another process) replaces them; its whole output is then searched.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startProcessHub, type ProcessHub } from '../support/process-hub.js';
import { basicAuth } from '../support/oauth.js';
import { expectSuccess, run, waitFor } from '../cli/support.js';

let hub: ProcessHub;
beforeAll(async () => { hub = await startProcessHub({ LOG_LEVEL: 'trace' }); });
afterAll(() => hub?.stop());

async function clientCredentials(secret: string, via: 'basic' | 'post' = 'basic') {
  const body = new URLSearchParams({ grant_type: 'client_credentials' });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (via === 'basic') {
    headers.authorization = basicAuth('sales', secret);
  } else {
    body.set('client_id', 'sales');
    body.set('client_secret', secret);
  }
  return (await fetch(`${hub.url}/token`, { method: 'POST', headers, body })).status;
}

it('never logs the current, the previous or a wrong secret', async () => {
  const old = hub.secrets.sales;
  const rotated = await run(undefined, ['clients', 'rotate-secret', 'sales', '--grace', '1h', '--json'], { env: hub.env });
  expectSuccess(rotated);
  const { secret: fresh } = JSON.parse(rotated.stdout) as { secret: string };
  await waitFor(async () => (await clientCredentials(fresh)) === 200, 'new secret accepted');
  expect(await clientCredentials(old)).toBe(200);
  const wrong = `${fresh.slice(0, -4)}AAAA`;
  expect(await clientCredentials(wrong)).toBe(401);
  // In the form body (oidc-provider accepts client_secret_post for a client_secret_basic client).
  expect(await clientCredentials(old, 'post')).toBe(200);
  expect(await clientCredentials(wrong, 'post')).toBe(401);

  const again = await run(undefined, ['clients', 'rotate-secret', 'sales', '--json'], { env: hub.env });
  expectSuccess(again);
  const last = (JSON.parse(again.stdout) as { secret: string }).secret;
  await waitFor(async () => (await clientCredentials(fresh)) === 401, 'replaced secret refused');
  expect(await clientCredentials(last)).toBe(200);

  // Stopped first: its last lines are read once the process has closed its output.
  expect(await hub.server.stop()).toBe(0);
  const output = hub.server.output();
  expect(hub.logs().filter((entry) => entry.path === '/token').length).toBeGreaterThanOrEqual(7);
  for (const secret of [old, fresh, wrong, last]) {
    expect(output).not.toContain(secret);
    expect(output).not.toContain(encodeURIComponent(secret));
    expect(output).not.toContain(Buffer.from(`sales:${secret}`).toString('base64'));
  }
});

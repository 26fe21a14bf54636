// /readyz follows the database: 503 once it is gone, while /healthz (the process) still answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(() => t?.stop());

describe('health endpoints', () => {
  it('answer ready with the database, unavailable without it; liveness does not depend on it', async () => {
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', database: 'ok' });

    await t.database.drop(); // WITH (FORCE): the hub's connections are cut

    const unready = await fetch(`${t.url}/readyz`);
    expect(unready.status).toBe(503);
    expect(unready.headers.get('cache-control')).toBe('no-store');
    expect(await unready.json()).toEqual({ status: 'unavailable', database: 'unreachable' });

    const live = await fetch(`${t.url}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });
  });
});

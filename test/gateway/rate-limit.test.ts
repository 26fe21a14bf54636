// Plan-based gateway limits shared by two hub instances through Redis (GCRA in one Lua script):
// parallel bursts behind a barrier across both instances pass exactly the limit; API-key limits;
// per-project overrides; RateLimit-* headers and 429 + Retry-After; with Redis unreachable each
// instance keeps serving with its own counters.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSecondInstance, startTestHub, type SecondInstance, type TestHub } from '../support/hub.js';
import { createApiKey, createUser, putBehindGateway, signIn, startUpstream, together, type Upstream } from './support.js';

let a: TestHub;
let b: SecondInstance;
let upstream: Upstream;
let plansFile: string;

beforeAll(async () => {
  const plans = JSON.parse(await fs.readFile('plans.json', 'utf8'));
  plans.plans.free.gateway = { requestsPerMinute: 10, projects: { resonance: 3 } };
  plansFile = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'nexus-gw-plans-')), 'plans.json');
  await fs.writeFile(plansFile, JSON.stringify(plans));
  a = await startTestHub({ PLANS_FILE: plansFile });
  b = await startSecondInstance(a);
  upstream = await startUpstream();
  await putBehindGateway(a, 'sales', upstream.url);
  await putBehindGateway(a, 'resonance', upstream.url);
  b.hub.clients.invalidate();
});
afterAll(async () => {
  await upstream?.close();
  await b?.stop();
  await a?.stop();
});

const get = (base: string, project: string, headers: Record<string, string>) => fetch(`${base}/api/gateway/${project}/leads`, { headers });

describe('limits across two instances', () => {
  it('a burst of 16 at once over both instances passes exactly the plan limit (10/min)', async () => {
    await createUser(a, 'ada@example.com');
    const token = await signIn(a, 'ada@example.com');
    const answers = await together(16, (i) => get(i % 2 ? b.url : a.url, 'sales', { authorization: `Bearer ${token}` }));
    const ok = answers.filter((r) => r.status === 200);
    const refused = answers.filter((r) => r.status === 429);
    expect(ok).toHaveLength(10);
    expect(refused).toHaveLength(6);
    for (const r of answers) {
      expect(r.headers.get('ratelimit-limit')).toBe('10');
      expect(Number(r.headers.get('ratelimit-remaining'))).toBeGreaterThanOrEqual(0);
      expect(Number(r.headers.get('ratelimit-reset'))).toBeGreaterThan(0);
    }
    const remaining = ok.map((r) => Number(r.headers.get('ratelimit-remaining'))).sort((x, y) => x - y);
    expect(remaining).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const body = await refused[0].json();
    expect(body.error).toBe('rate_limited');
    expect(Number(refused[0].headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(refused[0].headers.get('retry-after'))).toBeLessThanOrEqual(6);
    // Still refused at either instance; another user has a budget of their own.
    expect((await get(b.url, 'sales', { authorization: `Bearer ${token}` })).status).toBe(429);
    await createUser(a, 'bob@example.com');
    expect((await get(b.url, 'sales', { authorization: `Bearer ${await signIn(a, 'bob@example.com')}` })).status).toBe(200);
  });

  it("an API key's --rate-limit caps its requests across instances", async () => {
    const carol = await createUser(a, 'carol@example.com');
    const { key } = await createApiKey(a, carol.id, 3);
    const answers = await together(8, (i) => get(i % 2 ? b.url : a.url, 'sales', { 'x-api-key': key }));
    expect(answers.filter((r) => r.status === 200)).toHaveLength(3);
    expect(answers.every((r) => r.headers.get('ratelimit-limit') === '3')).toBe(true);
  });

  it('a per-project override in plans.json applies to that project only', async () => {
    const dan = await createUser(a, 'dan@example.com');
    const { key } = await createApiKey(a, dan.id);
    const answers = await together(8, (i) => get(i % 2 ? b.url : a.url, 'resonance', { 'x-api-key': key }));
    expect(answers.filter((r) => r.status === 200)).toHaveLength(3);
    expect((await get(a.url, 'sales', { 'x-api-key': key })).status).toBe(200);
  });
});

describe('Redis unreachable', () => {
  let solo: TestHub;
  beforeAll(async () => {
    solo = await startTestHub({ PLANS_FILE: plansFile, REDIS_URL: 'redis://127.0.0.1:1' });
    await putBehindGateway(solo, 'sales', upstream.url);
  });
  afterAll(async () => solo?.stop());

  it('keeps serving, with the limit counted in the instance', async () => {
    const erin = await createUser(solo, 'erin@example.com');
    const { key } = await createApiKey(solo, erin.id);
    const answers = await together(12, () => get(solo.url, 'sales', { 'x-api-key': key }));
    expect(answers.filter((r) => r.status === 200)).toHaveLength(10);
    expect(answers.filter((r) => r.status === 429)).toHaveLength(2);
    expect(answers.every((r) => r.status < 500)).toBe(true);
  });
});

// bcrypt runs in worker threads (src/accounts/password-pool.ts): logins in flight leave the event
// loop free for everything else, and a full queue answers 503 + Retry-After instead of a 500 or
// an ever longer wait. The hub runs in this process, so the loop measured here is the hub's.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { Browser, parseForm, pkcePair } from '../support/browser.js';
import { coverageEnv } from '../support/process.js';

const CALLBACK = 'http://localhost:3001/auth/callback';
const PASSWORD = 'correct horse battery';
// High enough that the login limits never answer instead of the pool.
const GENEROUS_LIMITS = { LOGIN_MAX_FAILURES_PER_ACCOUNT: '1000', LOGIN_MAX_FAILURES_PER_IP: '100000' };

/** A browser on the login page of a fresh authorization request, and the form to post. */
async function atLoginForm(t: TestHub) {
  const browser = new Browser(t.url);
  const query = new URLSearchParams({
    client_id: 'sales', redirect_uri: CALLBACK, response_type: 'code', scope: 'openid', code_challenge: pkcePair().challenge, code_challenge_method: 'S256',
  });
  const page = await browser.follow(await browser.get(`/auth?${query}`));
  return { browser, form: parseForm(page.body, '/login') };
}

async function postLogin(t: TestHub, email: string, password: string, accept = 'text/html') {
  const { browser, form } = await atLoginForm(t);
  return () => browser.request(form.action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept },
    body: new URLSearchParams({ ...form.fields, email, password }).toString(),
  });
}

/**
 * CPU time this thread has used, ms (Linux /proc; 10 ms ticks). The tests run on the hub's
 * event loop thread, and CPU time, unlike wall-clock gaps, does not depend on how busy the
 * machine is.
 */
function loopCpuMs() {
  const stat = readFileSync('/proc/thread-self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

describe('hashing in worker threads', () => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub(GENEROUS_LIMITS);
    await t.hub.users.create({ email: 'ada@example.com', password: PASSWORD });
  });
  afterAll(() => t?.stop());

  it('stores bcrypt $2 hashes at cost 11 that bcryptjs verifies, and accepts hashes bcryptjs made', async () => {
    const ada = await t.hub.users.get('ada@example.com');
    expect(ada.passwordHash).toMatch(/^\$2[aby]\$11\$.{53}$/);
    expect(await bcrypt.compare(PASSWORD, ada.passwordHash!)).toBe(true);

    // An account whose hash bcryptjs made on the main thread (as before the pool) still signs in.
    const bob = await t.hub.users.create({ email: 'bob@example.com' });
    await t.hub.db.prisma.user.update({ where: { id: bob.id }, data: { passwordHash: bcrypt.hashSync(PASSWORD, 11) } });
    const signIn = await (await postLogin(t, 'bob@example.com', PASSWORD))();
    expect(signIn.status).toBe(303);
  });

  it('accepts the right password and refuses a wrong one or an unknown email through the login form', async () => {
    const right = await (await postLogin(t, 'ada@example.com', PASSWORD))();
    expect(right.status).toBe(303);
    const wrong = await (await postLogin(t, 'ada@example.com', 'not the password'))();
    expect(wrong.status).toBe(401);
    const unknown = await (await postLogin(t, 'nobody@example.com', PASSWORD))();
    expect(unknown.status).toBe(401);
  });

  it('leaves the event loop free while 8 logins are checked at once', async () => {
    const { passwordHash } = await t.hub.users.get('ada@example.com');
    let before = loopCpuMs();
    for (let i = 0; i < 3; i++) bcrypt.compareSync(PASSWORD, passwordHash!);
    const comparisonMs = (loopCpuMs() - before) / 3;

    const logins = await Promise.all(Array.from({ length: 8 }, () => postLogin(t, 'ada@example.com', PASSWORD)));
    before = loopCpuMs();
    const statuses = await Promise.all(logins.map((login) => login().then((r) => r.status)));
    const loopMs = loopCpuMs() - before;

    expect(statuses).toEqual(Array(8).fill(303));
    // On the event loop the 8 comparisons alone would take 8 × comparisonMs (~100 ms each) of
    // its time; in the pool what is left is the HTTP and database work of the logins.
    expect(loopMs).toBeLessThan(2 * comparisonMs);
  });
});

describe('a full queue (PASSWORD_WORKERS=1, PASSWORD_QUEUE_MAX=1)', () => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub({ ...GENEROUS_LIMITS, PASSWORD_WORKERS: '1', PASSWORD_QUEUE_MAX: '1' });
    await t.hub.users.create({ email: 'ada@example.com', password: PASSWORD });
  });
  afterAll(() => t?.stop());

  /** Posts `count` logins at the same moment; their responses, in order. */
  async function storm(count: number, accept: string) {
    const logins = await Promise.all(Array.from({ length: count }, () => postLogin(t, 'ada@example.com', PASSWORD, accept)));
    return Promise.all(logins.map((login) => login()));
  }

  it('answers the logins beyond one hashing and one waiting with a 503 page and Retry-After, never a 500', async () => {
    const responses = await storm(6, 'text/html');
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 303).length).toBeGreaterThanOrEqual(2);
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((s) => s === 303 || s === 503)).toBe(true);
    const busy = responses.find((r) => r.status === 503)!;
    expect(Number(busy.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(busy.headers.get('content-type')).toContain('text/html');
    expect(await busy.text()).toContain('Please try again in a few seconds');
  });

  it('answers API callers with JSON', async () => {
    const responses = await storm(6, 'application/json');
    const busy = responses.find((r) => r.status === 503);
    expect(busy).toBeDefined();
    expect(Number(busy!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await busy!.json()).toMatchObject({ error: 'temporarily_unavailable' });
  });

  it('signs in normally once the storm is over', async () => {
    const login = await (await postLogin(t, 'ada@example.com', PASSWORD))();
    expect(login.status).toBe(303);
  });
});

describe('the compiled worker (dist/, as `npm start` runs it)', () => {
  it('hashes and verifies in a plain node process, which then exits without closing the pool', () => {
    // `npm test` builds dist/ first (pretest).
    expect(existsSync('dist/accounts/password-worker.js')).toBe(true);
    const script = `
      const { hashPassword, verifyPassword } = await import('./dist/accounts/passwords.js');
      const hash = await hashPassword(${JSON.stringify(PASSWORD)});
      console.log(JSON.stringify({ hash, right: await verifyPassword(${JSON.stringify(PASSWORD)}, hash), wrong: await verifyPassword('wrong password', hash) }));`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH ?? '', ...coverageEnv() }, encoding: 'utf8', timeout: 15_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const result = JSON.parse(run.stdout) as { hash: string; right: boolean; wrong: boolean };
    expect(result).toMatchObject({ right: true, wrong: false });
    expect(bcrypt.compareSync(PASSWORD, result.hash)).toBe(true);
  });
});

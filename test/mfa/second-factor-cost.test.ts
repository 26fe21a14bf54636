// What second factors cost the sign-ins that do not use them (issue 8's login storm has no
// statement to spare): a password sign-in of a user without a second factor learns it from its
// own read of the user, and requireMfa is answered from the registry's cache.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { Browser, pkcePair } from '../support/browser.js';
import { createUser, PROJECTS } from '../billing/support.js';
import { codeFor, enrol, startSignIn, submitSecondFactor } from './totp-support.js';

let t: TestHub;

beforeAll(async () => {
  t = await startTestHub();
  await t.hub.clients.update('resonance', { requireMfa: true });
});
afterAll(() => t?.stop());

/** Every statement the hub sends while `work` runs (at the pool all of them go through). */
async function statementsOf(work: () => Promise<unknown>): Promise<string[]> {
  const pool = t.hub.db.pool;
  const query = pool.query.bind(pool);
  const seen: string[] = [];
  pool.query = ((...args: Parameters<typeof pool.query>) => {
    const first = args[0] as unknown;
    seen.push(typeof first === 'string' ? first : String((first as { text?: string }).text ?? ''));
    return query(...args);
  }) as typeof pool.query;
  try {
    await work();
  } finally {
    pool.query = query;
  }
  return seen;
}

const silentUrl = (project: keyof typeof PROJECTS) => {
  const { challenge } = pkcePair();
  return `/auth?${new URLSearchParams({
    client_id: PROJECTS[project].id, redirect_uri: PROJECTS[project].callback, response_type: 'code', scope: 'openid email', prompt: 'none',
    code_challenge: challenge, code_challenge_method: 'S256', state: 's', nonce: 'n',
  })}`;
};

describe('the cost of second factors', () => {
  it('a password sign-in without a second factor reads second factors only inside its read of the user', async () => {
    await createUser(t, 'plain-cost@example.com');
    const statements = await statementsOf(async () => {
      const { page } = await startSignIn(t, 'sales', 'plain-cost@example.com');
      expect(new URL(page.url).searchParams.get('code'), page.url).toBeTruthy();
    });
    const touching = statements.filter((sql) => /totp_factors|recovery_codes|passkeys/.test(sql));
    expect(touching.length).toBeGreaterThan(0);
    for (const sql of touching) expect(sql).toMatch(/^SELECT id, email, password_hash/);
  });

  it('requireMfa costs a two-factor session no statement: a silent sign-in to a requiring project costs what one to a plain project does', async () => {
    await createUser(t, 'strong-cost@example.com');
    const browser = new Browser(t.url);
    const { secret } = await enrol(t, 'strong-cost@example.com', browser);
    const first = await startSignIn(t, 'resonance', 'strong-cost@example.com', { browser });
    const done = await submitSecondFactor(browser, first.page.body, 'totp', codeFor(secret, 1));
    expect(done.url.startsWith(PROJECTS.resonance.callback), done.url).toBe(true);
    const silent = async (project: keyof typeof PROJECTS) => (await statementsOf(async () => {
      const answer = await browser.follow(await browser.get(silentUrl(project)));
      expect(new URL(answer.url).searchParams.get('code'), answer.url).toBeTruthy();
    })).length;
    // Several of each: a background statement (the bus, the mail queue) may land in one of them.
    const required: number[] = [];
    const plain: number[] = [];
    for (let i = 0; i < 3; i++) {
      required.push(await silent('resonance'));
      plain.push(await silent('sales'));
    }
    expect(Math.min(...required)).toBe(Math.min(...plain));
  });
});

// Signing in to the console through the real pages: /console/login runs the nexus-console
// client's authorization through the login form and comes back to the page asked for.
import { expect } from 'vitest';
import type { TestHub } from '../support/hub.js';
import { Browser, parseForm } from '../support/browser.js';
import { ProjectAccess } from '../../src/accounts/access.js';
import { PASSWORD } from '../billing/support.js';

export const CONSOLE = 'nexus-console';

/** A user with `role` in nexus-console (admin: the hub administrator); none: no grant at all. */
export async function consoleUser(t: TestHub, email: string, role: 'admin' | 'read_only' | 'none') {
  const user = await t.hub.users.create({ email, password: PASSWORD, fullName: email.split('@')[0], emailVerified: true });
  if (role !== 'none') await new ProjectAccess(t.hub.db.prisma).grant(user.id, CONSOLE, role);
  return user;
}

export async function signInToConsole(t: TestHub, email: string, returnTo = '/console') {
  const browser = new Browser(t.url);
  let page = await browser.follow(await browser.get(`/console/login?returnTo=${encodeURIComponent(returnTo)}`));
  const { action, fields } = parseForm(page.body, '/login');
  page = await browser.follow(await browser.post(action, { ...fields, email, password: PASSWORD }));
  return { browser, page };
}

/** A console page's first form whose action contains `action`, posted with `values` on top of its fields. */
export async function submit(browser: Browser, path: string, action: string, values: Record<string, string> = {}) {
  const shown = await browser.follow(await browser.get(path));
  expect(shown.response.status, shown.body.slice(0, 500)).toBe(200);
  const form = parseForm(shown.body, action);
  return browser.follow(await browser.post(form.action, { ...form.fields, ...values }));
}

const PROJECTS = ['sales', 'liminal', 'dream-people', 'shelter'];
const PLANS: Array<[string, number]> = [['pro', 2_900], ['business', 9_900]];

/**
 * A small, known history for the dashboard: 24 users who signed up over the last 120 days,
 * each active on some of the last 30 days in one to three projects, and daily subscription
 * snapshots of those on a paid plan (every third user pro, every fifth business).
 */
export async function seedAnalytics(t: TestHub) {
  const pool = t.hub.db.pool;
  const day = (offset: number) => new Date(Date.now() - offset * 86_400_000).toISOString().slice(0, 10);
  for (let i = 0; i < 24; i++) {
    const user = await t.hub.users.create({ email: `seed${i}@example.com`, password: PASSWORD, emailVerified: true });
    await pool.query('UPDATE users SET created_at = $2::date WHERE id = $1', [user.id, day(5 * i)]);
    const projects = PROJECTS.slice(i % 4, i % 4 + 1 + (i % 3));
    for (let d = 0; d < 30; d++) {
      if ((i + d) % 3 === 0) continue;
      for (const project of projects) {
        await pool.query('INSERT INTO activity_days (day, project, user_id) VALUES ($1::date, $2, $3) ON CONFLICT DO NOTHING', [day(d), project, user.id]);
      }
    }
    const plan = i % 5 === 0 ? PLANS[1] : i % 3 === 0 ? PLANS[0] : undefined;
    if (!plan) continue;
    for (let d = 0; d < 30; d++) {
      if (d > 30 - i) continue; // later users started paying later: MRR grows
      await pool.query(`INSERT INTO subscription_snapshots (day, user_id, plan, status, mrr_cents) VALUES ($1::date, $2, $3, 'active', $4) ON CONFLICT DO NOTHING`,
        [day(d), user.id, plan[0], plan[1]]);
    }
  }
}

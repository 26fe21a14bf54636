// The activity rollups (activity_last, activity_users) that the overview and cross-project
// read: kept by the trigger on activity_days from the recorders of two hub instances, they give
// the figures that activity_days itself gives; parallel flushes of one user in several projects,
// a failed and retried flush, deleted users and the daily job.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSecondInstance, startTestHub, type SecondInstance, type TestHub } from '../support/hub.js';
import { adminApi, adminToken } from '../support/admin-token.js';
import { together } from '../support/together.js';
import { ActivityRecorder } from '../../src/analytics/recorder.js';
import { takeSnapshot } from '../../src/analytics/snapshots.js';
import { analytics, daysAgo, today } from './support.js';

let t: TestHub;
let second: SecondInstance;
let root: string;

beforeAll(async () => {
  t = await startTestHub();
  second = await startSecondInstance(t);
  root = await adminToken(t);
}, 60_000);
afterAll(async () => {
  await second?.stop();
  await t?.stop();
});

const pools = () => [t.hub.db.pool, second.hub.db.pool];
const query = async (sql: string, params: unknown[] = []) => (await t.hub.db.pool.query(sql, params)).rows;

/** A recorder as an instance has one, on instance `instance`'s pool, its clock at noon of `day`. */
const recorderOn = (instance: 0 | 1, day: string) => new ActivityRecorder(pools()[instance], () => Date.parse(`${day}T12:00:00Z`));

async function addUser(name: string, createdAt: string) {
  return (await query('INSERT INTO users (id, email, created_at, updated_at) VALUES (gen_random_uuid(), $1, $2, now()) RETURNING id',
    [`${name}@rollups.example`, createdAt]))[0].id as string;
}

// The rollups recomputed from activity_days: what the trigger must have kept.
const lastFromDays = () => query(`
  SELECT user_id, project, max(day)::text AS last_day FROM activity_days GROUP BY 1, 2 ORDER BY 1, 2`);
const usersFromDays = () => query(`
  SELECT user_id, max(last_day)::text AS last_day, ((array_agg(last_day ORDER BY last_day DESC))[2])::text AS second_day
  FROM (SELECT user_id, project, max(day) AS last_day FROM activity_days GROUP BY 1, 2) pairs GROUP BY 1 ORDER BY 1`);
const lastRows = () => query('SELECT user_id, project, last_day::text AS last_day FROM activity_last ORDER BY 1, 2');
const userRows = () => query('SELECT user_id, last_day::text AS last_day, second_day::text AS second_day FROM activity_users ORDER BY 1');

async function expectRollupsOfDays() {
  expect(await lastRows()).toEqual(await lastFromDays());
  expect(await userRows()).toEqual(await usersFromDays());
}

const round = (part: number, whole: number) => (whole === 0 ? 0 : Math.round((part / whole) * 10_000) / 10_000);

/**
 * The overview's and cross-project's activity figures computed here from activity_days and
 * users, by their definitions: active in a window = a row on one of its days; new = signed up
 * within it; the overall figures count users of ours, a project's row everyone active in it.
 */
async function figuresFromDays(project?: string) {
  const rows = await query('SELECT day::text AS day, project, user_id FROM activity_days');
  const created = new Map((await query('SELECT id, created_at FROM users')).map((u) => [u.id as string, u.created_at as Date]));
  const T = today();
  const within = (days: number) => rows.filter((r) => r.day >= daysAgo(days) && r.day <= T && (!project || r.project === project));
  const usersIn = (days: number) => new Set(within(days).map((r) => r.user_id as string).filter((id) => created.has(id)));
  const window = (days: number) => {
    const active = [...usersIn(days)];
    const fresh = active.filter((id) => created.get(id)! >= new Date(`${daysAgo(days)}T00:00:00Z`)).length;
    return { total: active.length, new: fresh, returning: active.length - fresh };
  };
  const distinct = (list: Array<Record<string, unknown>>) => new Set(list.map((r) => r.user_id)).size;
  const projects = [...new Set(within(29).map((r) => r.project as string))].sort().map((name) => ({
    project: name,
    dau: distinct(within(0).filter((r) => r.project === name)),
    wau: distinct(within(6).filter((r) => r.project === name)),
    mau: distinct(within(29).filter((r) => r.project === name)),
  }));
  // Each user's projects within the 30 days (all projects, not only `project`).
  const sets = new Map<string, Set<string>>();
  for (const r of rows.filter((r) => r.day >= daysAgo(29) && r.day <= T)) {
    sets.set(r.user_id, (sets.get(r.user_id) ?? new Set()).add(r.project));
  }
  const counted = project ? [...sets].filter(([, s]) => s.has(project)) : [...sets].filter(([id]) => created.has(id));
  const multi = counted.filter(([, s]) => s.size >= 2).length;
  return { actives: { dau: window(0), wau: window(6), mau: window(29) }, projects, crossProjectShare: round(multi, counted.length) };
}

describe('the rollups and the figures read from them', () => {
  it('a mixed history recorded through two instances gives the figures activity_days gives', async () => {
    const T = today();
    const ann = await addUser('ann', `${daysAgo(45)} 12:00`);
    const bob = await addUser('bob', `${daysAgo(100)} 12:00`);
    const cy = await addUser('cy', `${daysAgo(2)} 12:00`);
    const dee = await addUser('dee', `${daysAgo(50)} 12:00`);
    const eve = await addUser('eve', `${T} 00:30`);
    const fay = await addUser('fay', `${daysAgo(6)} 09:00`);
    const ghost = randomUUID(); // activity of no user of ours (deleted, not swept yet)
    const sightings: Array<[string, string, string]> = [
      [ann, 'sales', T], [ann, 'resonance', daysAgo(3)], // two projects, different days
      [bob, 'sales', daysAgo(31)], // active only 31 days ago: in no window
      [cy, 'shelter', daysAgo(40)], [cy, 'shelter', daysAgo(10)],
      [dee, 'liminal', daysAgo(29)], [dee, 'shelter', daysAgo(30)], // the month's first day, the day before it
      [eve, 'resonance', T], [eve, 'sales', T],
      [fay, 'sales', daysAgo(6)], [fay, 'liminal', daysAgo(6)], [fay, 'liminal', daysAgo(20)],
      [ghost, 'sales', T], [ghost, 'shelter', daysAgo(1)],
    ];
    // One recorder per day, alternating between the instances, flushed oldest day last.
    const byDay = new Map<string, ActivityRecorder>();
    for (const [user, project, day] of sightings) {
      if (!byDay.has(day)) byDay.set(day, recorderOn((byDay.size % 2) as 0 | 1, day));
      byDay.get(day)!.record(project, user);
    }
    for (const recorder of [...byDay.values()].reverse()) await recorder.flush();
    // A batch across midnight: dee's sightings of yesterday and today in one flush.
    let clock = Date.parse(`${daysAgo(1)}T23:59:59Z`);
    const acrossMidnight = new ActivityRecorder(second.hub.db.pool, () => clock);
    acrossMidnight.record('sales', dee);
    clock += 2_000;
    acrossMidnight.record('sales', dee);
    await acrossMidnight.flush();
    await t.hub.recording.flush(); // the admin's own sign-in, in nexus-console

    await expectRollupsOfDays();
    expect((await query('SELECT last_day::text AS last_day FROM activity_last WHERE user_id = $1 AND project = $2', [dee, 'sales']))[0].last_day).toBe(T);

    const expected = await figuresFromDays();
    const overview = (await analytics(t, root, 'overview')).body;
    expect({ actives: overview.actives, projects: overview.projects, crossProjectShare: overview.kpis.crossProjectShare.actual }).toEqual(expected);
    expect(overview.actives.mau.total).toBe(6); // ann, cy, dee, eve, fay, root
    for (const project of ['sales', 'liminal', 'shelter']) {
      const own = (await analytics(t, root, `overview?project=${project}`)).body;
      const mine = await figuresFromDays(project);
      expect({ actives: own.actives, projects: own.projects, crossProjectShare: own.kpis.crossProjectShare.actual }, project).toEqual(mine);
    }
  });

  it('cross-project from the rollups (a window ending today) and from activity_days (an earlier one) agree with activity_days', async () => {
    const T = today();
    for (const to of [T, daysAgo(1), daysAgo(10)]) {
      const rows = await query(`SELECT user_id, array_agg(DISTINCT project ORDER BY project) AS projects FROM activity_days
        WHERE day BETWEEN $1::date - 29 AND $1::date GROUP BY user_id`, [to]);
      const pairs = new Map<string, number>();
      for (const { projects } of rows) {
        for (let i = 0; i < projects.length; i++) for (let j = i + 1; j < projects.length; j++) pairs.set(`${projects[i]} ${projects[j]}`, (pairs.get(`${projects[i]} ${projects[j]}`) ?? 0) + 1);
      }
      const multi = rows.filter((r) => r.projects.length >= 2).length;
      const { body } = await analytics(t, root, `cross-project?to=${to}`);
      expect(body, to).toMatchObject({ monthlyActives: rows.length, multiProjectActives: multi, share: round(multi, rows.length) });
      expect(body.rows.map((r: { projectA: string; projectB: string; users: number }) => [`${r.projectA} ${r.projectB}`, r.users]), to).toEqual([...pairs].sort());
      const sales = rows.filter((r) => r.projects.includes('sales'));
      expect((await analytics(t, root, `cross-project?to=${to}&project=sales`)).body, to).toMatchObject({
        monthlyActives: sales.length, multiProjectActives: sales.filter((r) => r.projects.length >= 2).length, rows: [],
      });
    }
  });
});

describe('concurrent and failed flushes', () => {
  const PROJECTS = ['sales', 'liminal', 'resonance', 'shelter', 'dream-people', 'agi-safety', 'testing', 'nexus-console'];

  it('8 parallel flushes of one user in 8 projects, from both instances: the right latest and second-latest day', async () => {
    for (let round = 0; round < 6; round++) {
      const user = randomUUID();
      // Recorder i writes project i on day T - ((i + round) mod 8): a different one is newest each round.
      const offsets = PROJECTS.map((_, i) => (i + round) % 8);
      const recorders = PROJECTS.map((project, i) => {
        const recorder = recorderOn((i % 2) as 0 | 1, daysAgo(offsets[i]));
        recorder.record(project, user);
        return recorder;
      });
      await together(8, (i) => recorders[i].flush());
      expect(await query('SELECT last_day::text AS last_day, second_day::text AS second_day FROM activity_users WHERE user_id = $1', [user]), `round ${round}`)
        .toEqual([{ last_day: today(), second_day: daysAgo(1) }]);
      expect(await query('SELECT project, last_day::text AS last_day FROM activity_last WHERE user_id = $1 ORDER BY project', [user]))
        .toEqual(PROJECTS.map((project, i) => ({ project, last_day: daysAgo(offsets[i]) })).sort((a, b) => (a.project < b.project ? -1 : 1)));
    }
    await expectRollupsOfDays();
  });

  it('a flush that fails halfway writes nothing; retried, it writes what one clean flush writes, and a repeat changes nothing', async () => {
    const user = randomUUID();
    const recorder = recorderOn(0, today());
    recorder.record('sales', user);
    recorder.record('liminal', user);
    // Refuse second days for a while: the trigger fails at its last step, after the days and the
    // pairs were written in the same statement.
    await query('ALTER TABLE activity_users ADD CONSTRAINT refuse_second_days CHECK (second_day IS NULL) NOT VALID');
    try {
      await expect(recorder.flush()).rejects.toThrow(/refuse_second_days/);
      for (const table of ['activity_days', 'activity_last', 'activity_users']) {
        expect(await query(`SELECT * FROM ${table} WHERE user_id = $1`, [user]), table).toEqual([]);
      }
    } finally {
      await query('ALTER TABLE activity_users DROP CONSTRAINT refuse_second_days');
    }
    await recorder.flush(); // the batch was kept
    const written = { days: await query('SELECT project, day::text AS day FROM activity_days WHERE user_id = $1 ORDER BY 1', [user]), rollups: await userRows() };
    expect(written.days).toEqual([{ project: 'liminal', day: today() }, { project: 'sales', day: today() }]);
    expect(await query('SELECT last_day::text AS last_day, second_day::text AS second_day FROM activity_users WHERE user_id = $1', [user]))
      .toEqual([{ last_day: today(), second_day: today() }]);
    // The other instance saw the same sightings: its flush adds nothing.
    const again = recorderOn(1, today());
    again.record('liminal', user);
    again.record('sales', user);
    await again.flush();
    expect({ days: await query('SELECT project, day::text AS day FROM activity_days WHERE user_id = $1 ORDER BY 1', [user]), rollups: await userRows() }).toEqual(written);
    await expectRollupsOfDays();
  });
});

describe('deleted users', () => {
  it("the daily job removes a deleted user's activity and rollups, also those flushed after the deletion; others stay", async () => {
    const zed = await t.hub.users.create({ email: 'zed@rollups.example', password: 'correct horse battery' });
    const amy = await t.hub.users.create({ email: 'amy@rollups.example', password: 'correct horse battery' });
    const recorder = recorderOn(1, daysAgo(2));
    for (const user of [zed.id, amy.id]) for (const project of ['sales', 'resonance']) recorder.record(project, user);
    await recorder.flush();
    const rowsOf = async (userId: string) => Object.fromEntries(await Promise.all(['activity_days', 'activity_last', 'activity_users'].map(
      async (table) => [table, Number((await query(`SELECT count(*) AS n FROM ${table} WHERE user_id = $1`, [userId]))[0].n)])));
    const amyBefore = await rowsOf(amy.id);
    expect(amyBefore).toEqual({ activity_days: 2, activity_last: 2, activity_users: 1 });

    // A sighting of zed queued on the other instance before the deletion, flushed after it.
    const late = recorderOn(0, today());
    late.record('liminal', zed.id);
    expect((await adminApi(t, root, 'DELETE', '/users/zed@rollups.example')).status).toBe(204);
    await late.flush();
    expect(await rowsOf(zed.id)).toEqual({ activity_days: 3, activity_last: 3, activity_users: 1 });

    await takeSnapshot(t.hub.db.pool, today());
    expect(await rowsOf(zed.id)).toEqual({ activity_days: 0, activity_last: 0, activity_users: 0 });
    expect(await rowsOf(amy.id)).toEqual(amyBefore);
    await expectRollupsOfDays();
    // Sweeping again finds nothing more.
    await takeSnapshot(t.hub.db.pool, today());
    expect(await rowsOf(amy.id)).toEqual(amyBefore);
  });
});

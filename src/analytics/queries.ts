// The analytics figures, as plain JSON: what /api/analytics/* answers and the console draws.
// Every figure is read from the tables the recorder and the snapshots fill (activity_days and its
// rollups activity_last and activity_users, daily_counts, subscription_snapshots) and from users
// and event_deliveries; never from Stripe.
// Days are UTC dates ('YYYY-MM-DD'); "today" is the clock's UTC date. A `project` narrows every
// figure to that project: its actives, and the users who have access to it.
import type pg from 'pg';
import { withoutJit, type AnalyticsSql } from './without-jit.js';
import { LATENCY_BUCKETS_MS } from './counters.js';
import { addDays, isoDay, nextPeriod, periodStart, type Interval } from './day.js';

/** The seed's KPI targets, shown beside the actual figures (overview). */
export const KPI_TARGETS = {
  /** Share of monthly actives who use two or more projects. */
  crossProjectShare: 0.3,
  /** Share of all users active in the last 30 days. */
  monthlyActiveShare: 0.6,
  /** The MRR path's first month: sign-ups, paying users and MRR. */
  month1: { signups: 100, paid: 5, mrrCents: 24_500 },
} as const;

export type { Interval };

export interface Range {
  /** First day, 'YYYY-MM-DD' (inclusive). */
  from: string;
  /** Last day, 'YYYY-MM-DD' (inclusive). */
  to: string;
  project?: string;
}

export type Row = Record<string, string | number | null>;

// A period is settled a minute after it ends: by then every instance has flushed into it.
const SETTLE_MS = 60_000;

const share = (part: number, whole: number) => (whole === 0 ? 0 : Math.round((part / whole) * 10_000) / 10_000);
const change = (current: number, previous: number) => ({ current, previous, change: current - previous, changeShare: previous === 0 ? null : share(current - previous, previous) });
const num = (value: unknown) => Number(value ?? 0);

// The users a figure counts: all, or those with access to the project ($1).
const scopedUsers = (param: string | undefined) => (param
  ? `users u WHERE EXISTS (SELECT 1 FROM project_access pa WHERE pa.user_id = u.id AND pa.project = ${param})`
  : 'users u WHERE true');

// Sign-ups over the users `u`: all of them, today, 7 and 30 days, and the periods before those.
const SIGNUP_COUNTS = `count(*) AS total,
  count(*) FILTER (WHERE u.created_at >= $1::date) AS d1,
  count(*) FILTER (WHERE u.created_at >= $1::date - 1 AND u.created_at < $1::date) AS d1p,
  count(*) FILTER (WHERE u.created_at >= $1::date - 6) AS d7,
  count(*) FILTER (WHERE u.created_at >= $1::date - 13 AND u.created_at < $1::date - 6) AS d7p,
  count(*) FILTER (WHERE u.created_at >= $1::date - 29) AS d30,
  count(*) FILTER (WHERE u.created_at >= $1::date - 59 AND u.created_at < $1::date - 29) AS d30p`;

// DAU/WAU/MAU and the new ones among them (signed up within the window, users row `u`) from the
// latest active day `last`, counting `who` (a column that is NULL where the row is not to be
// counted, or *). A day after today (an instance whose clock runs ahead) counts as today.
const activeCounts = (last: string, who: string) => `
  count(${who}) FILTER (WHERE ${last} >= $1::date) AS dau,
  count(${who}) FILTER (WHERE ${last} >= $1::date AND u.created_at >= $1::date) AS dau_new,
  count(${who}) FILTER (WHERE ${last} >= $1::date - 6) AS wau,
  count(${who}) FILTER (WHERE ${last} >= $1::date - 6 AND u.created_at >= $1::date - 6) AS wau_new,
  count(${who}) FILTER (WHERE ${last} >= $1::date - 29) AS mau,
  count(${who}) FILTER (WHERE ${last} >= $1::date - 29 AND u.created_at >= $1::date - 29) AS mau_new`;

export class AnalyticsQueries {
  private readonly sql: AnalyticsSql;

  constructor(pool: pg.Pool, private readonly now: () => Date = () => new Date()) {
    this.sql = withoutJit(pool);
  }

  today(): string {
    return isoDay(this.now());
  }

  /**
   * Today's figures: users and sign-ups, DAU/WAU/MAU with new vs returning, each project's
   * actives, MRR, the KPIs. The actives are read from the rollups (activity_last,
   * activity_users), not from the 30 days of activity_days: a user or a (user, project) pair
   * counts in a window ending today when its latest day is in it, and a user is in two or more
   * projects within it when the second-latest of their per-project days is.
   */
  async overview({ project }: { project?: string } = {}) {
    const today = this.today();
    const [figures, revenue] = await Promise.all([
      project ? this.projectActives(today, project) : this.hubActives(today),
      this.sql.query(`
        SELECT s.day::text AS day, count(*) FILTER (WHERE s.mrr_cents > 0) AS paying, coalesce(sum(s.mrr_cents), 0) AS mrr
        FROM subscription_snapshots s
        WHERE s.day = (SELECT max(day) FROM subscription_snapshots WHERE day <= $1::date)
          ${project ? 'AND EXISTS (SELECT 1 FROM project_access pa WHERE pa.user_id = s.user_id AND pa.project = $2)' : ''}
        GROUP BY s.day`, project ? [today, project] : [today]),
    ]);
    const { signups: s, actives: a, projects, crossShare } = figures;
    const total = num(s.total);
    const mau = num(a.mau);
    const window = (all: unknown, fresh: unknown) => ({ total: num(all), new: num(fresh), returning: num(all) - num(fresh) });
    const r = revenue.rows[0];
    return {
      today,
      ...(project ? { project } : {}),
      users: {
        total,
        newToday: change(num(s.d1), num(s.d1p)),
        new7d: change(num(s.d7), num(s.d7p)),
        new30d: change(num(s.d30), num(s.d30p)),
      },
      actives: { dau: window(a.dau, a.dau_new), wau: window(a.wau, a.wau_new), mau: window(a.mau, a.mau_new) },
      projects: projects.map((row) => ({ project: row.project as string, dau: num(row.dau), wau: num(row.wau), mau: num(row.mau) })),
      revenue: { snapshotDay: (r?.day as string | undefined) ?? null, payingUsers: num(r?.paying), mrrCents: num(r?.mrr) },
      kpis: {
        crossProjectShare: { actual: crossShare, target: KPI_TARGETS.crossProjectShare },
        monthlyActiveShare: { actual: share(mau, total), target: KPI_TARGETS.monthlyActiveShare },
        month1: {
          signups: { actual: num(s.d30), target: KPI_TARGETS.month1.signups },
          paid: { actual: num(r?.paying), target: KPI_TARGETS.month1.paid },
          mrrCents: { actual: num(r?.mrr), target: KPI_TARGETS.month1.mrrCents },
        },
      },
    };
  }

  // The hub's overview: sign-ups, actives and multi-project actives in one pass over users (one
  // row each in activity_users, hash-joined), and each project's actives from activity_last.
  private async hubActives(today: string) {
    const [users, projects] = await Promise.all([
      this.sql.query(`
        SELECT ${SIGNUP_COUNTS}, ${activeCounts('a.last_day', '*')},
          count(*) FILTER (WHERE a.second_day >= $1::date - 29) AS multi
        FROM users u LEFT JOIN activity_users a ON a.user_id = u.id`, [today]),
      this.sql.query(`
        SELECT project, count(*) FILTER (WHERE last_day >= $1::date) AS dau, count(*) FILTER (WHERE last_day >= $1::date - 6) AS wau, count(*) AS mau
        FROM activity_last WHERE last_day >= $1::date - 29 GROUP BY project ORDER BY project`, [today]),
    ]);
    const row = users.rows[0];
    return { signups: row, actives: row, projects: projects.rows, crossShare: share(num(row.multi), num(row.mau)) };
  }

  // One project's overview: the users with access to it and their sign-ups; its actives, those
  // of them who are users of ours (new vs returning), and the share of them in 2+ projects.
  private async projectActives(today: string, project: string) {
    const [users, actives] = await Promise.all([
      this.sql.query(`SELECT ${SIGNUP_COUNTS} FROM ${scopedUsers('$2')}`, [today, project]),
      this.sql.query(`
        SELECT ${activeCounts('l.last_day', 'u.id')},
          count(*) FILTER (WHERE l.last_day >= $1::date) AS project_dau, count(*) FILTER (WHERE l.last_day >= $1::date - 6) AS project_wau,
          count(*) AS project_mau, count(*) FILTER (WHERE a.second_day >= $1::date - 29) AS multi
        FROM activity_last l JOIN activity_users a ON a.user_id = l.user_id LEFT JOIN users u ON u.id = l.user_id
        WHERE l.project = $2 AND l.last_day >= $1::date - 29`, [today, project]),
    ]);
    const row = actives.rows[0];
    return {
      signups: users.rows[0],
      actives: row,
      projects: [{ project, dau: row.project_dau, wau: row.project_wau, mau: row.project_mau }],
      crossShare: share(num(row.multi), num(row.project_mau)),
    };
  }

  /**
   * Actives and new users per day, week (from Monday) or month: every period overlapping
   * [from, to], each counted whole. A settled period's actives are counted once and kept in
   * daily_counts (metric 'actives_<interval>', key the project or '*'): a finished day's activity
   * never changes, so only the current period is counted from activity_days on every call.
   */
  async activity({ from, to, interval, project }: Range & { interval: Interval }) {
    const first = periodStart(from, interval);
    const end = nextPeriod(periodStart(to, interval), interval);
    const settled = periodStart(isoDay(new Date(this.now().getTime() - SETTLE_MS)), interval);
    const actives = await this.settledActives(first, settled < end ? settled : end, interval, project);
    if (settled < end) {
      const live = await this.sql.query(`
        SELECT date_trunc($3, day)::date::text AS period, count(DISTINCT user_id) AS actives FROM activity_days
        WHERE day >= $1::date AND day < $2::date ${project ? 'AND project = $4' : ''} GROUP BY 1`,
      [first > settled ? first : settled, end, interval, ...(project ? [project] : [])]);
      for (const row of live.rows) actives.set(row.period as string, num(row.actives));
    }
    const p = project ? '$4' : undefined;
    const signups = await this.sql.query(`
      SELECT date_trunc($3, u.created_at)::date::text AS period, count(*) AS new_users FROM ${scopedUsers(p)}
      AND u.created_at >= $1::date AND u.created_at < $2::date GROUP BY 1`, [first, end, interval, ...(project ? [project] : [])]);
    const fresh = new Map(signups.rows.map((row) => [row.period as string, num(row.new_users)]));
    const rows = [];
    for (let period = first; period < end; period = nextPeriod(period, interval)) {
      rows.push({ period, actives: actives.get(period) ?? 0, newUsers: fresh.get(period) ?? 0 });
    }
    return { from, to, interval, ...(project ? { project } : {}), rows };
  }

  // Actives of the settled periods in [first, until): kept ones read, missing ones counted and kept.
  private async settledActives(first: string, until: string, interval: Interval, project: string | undefined) {
    const metric = `actives_${interval}`;
    const key = project ?? '*';
    const read = async () => new Map((await this.sql.query(
      'SELECT day::text AS period, count FROM daily_counts WHERE metric = $1 AND key = $2 AND day >= $3::date AND day < $4::date',
      [metric, key, first, until])).rows.map((row) => [row.period as string, num(row.count)]));
    const kept = await read();
    const missing: string[] = [];
    for (let period = first; period < until; period = nextPeriod(period, interval)) if (!kept.has(period)) missing.push(period);
    if (missing.length === 0) return kept;
    // A period without activity is kept as 0 too, so it is never counted again.
    await this.sql.query(`
      INSERT INTO daily_counts (day, metric, key, count)
      SELECT m.period, $2, $3, coalesce(c.actives, 0) FROM unnest($1::date[]) AS m(period)
      LEFT JOIN (
        SELECT date_trunc($4, day)::date AS period, count(DISTINCT user_id) AS actives FROM activity_days
        WHERE day >= $5::date AND day < $6::date ${project ? 'AND project = $3' : ''} GROUP BY 1) c USING (period)
      ON CONFLICT DO NOTHING`, [missing, metric, key, interval, missing[0], nextPeriod(missing[missing.length - 1], interval)]);
    return read();
  }

  /**
   * Of the users active in the 30 days up to `to` (today by default): the share active in two or
   * more projects, and for each pair of projects the users active in both. With a project: that
   * project's actives only, and no figures of the other projects.
   */
  async crossProject({ to, project }: { to?: string; project?: string } = {}) {
    const end = to ?? this.today();
    const from = addDays(end, -29);
    // One pass: each user's set of projects, then how many users share each set (at most 2^n
    // sets for n projects); the share and every pair's overlap follow from those few rows. A
    // window ending today (or later) is read from activity_last, one row per (user, project)
    // active in it; an earlier one from its days in activity_days.
    const live = end >= this.today();
    const params = live ? [from] : [from, end];
    const perUser = live
      ? 'SELECT array_agg(project ORDER BY project) AS projects FROM activity_last WHERE last_day >= $1::date GROUP BY user_id'
      : 'SELECT array_agg(DISTINCT project ORDER BY project) AS projects FROM activity_days WHERE day BETWEEN $1::date AND $2::date GROUP BY user_id';
    if (project) params.push(project);
    const { rows: sets } = await this.sql.query(`
      SELECT projects, count(*) AS users FROM (${perUser}) per_user
      ${project ? `WHERE $${params.length} = ANY(projects)` : ''} GROUP BY projects`, params);
    let actives = 0;
    let multi = 0;
    const overlap = new Map<string, number>();
    for (const { projects, users } of sets as Array<{ projects: string[]; users: string }>) {
      actives += num(users);
      if (projects.length >= 2) multi += num(users);
      if (project) continue; // the other projects' figures are not a project admin's to see
      for (let i = 0; i < projects.length; i++) {
        for (let j = i + 1; j < projects.length; j++) {
          const pair = `${projects[i]}\u0000${projects[j]}`;
          overlap.set(pair, (overlap.get(pair) ?? 0) + num(users));
        }
      }
    }
    const pairs = [...overlap].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([pair, users]) => {
      const [projectA, projectB] = pair.split('\u0000');
      return { projectA, projectB, users };
    });
    return {
      from, to: end, ...(project ? { project } : {}),
      monthlyActives: actives, multiProjectActives: multi, share: share(multi, actives), target: KPI_TARGETS.crossProjectShare,
      rows: pairs,
    };
  }

  /**
   * Monthly cohorts: the users who signed up in each month overlapping [from, to], and how many of
   * them were active in that month (offset 0) and in each month after it, up to the current one.
   * A settled month's cell never changes: it is counted once and kept in daily_counts (metric
   * 'retention', day the cohort's month, key '<project or *>:<active month>'); only the current
   * month's column is counted on every call.
   */
  async retention({ from, to, project }: Range) {
    const first = periodStart(from, 'month');
    const end = nextPeriod(periodStart(to, 'month'), 'month');
    const current = periodStart(this.today(), 'month');
    const settled = periodStart(isoDay(new Date(this.now().getTime() - SETTLE_MS)), 'month');
    const sizes = await this.sql.query(`
      SELECT date_trunc('month', u.created_at)::date::text AS month, count(*) AS size FROM ${scopedUsers(project ? '$3' : undefined)}
      AND u.created_at >= $1::date AND u.created_at < $2::date GROUP BY 1 ORDER BY 1`, [first, end, ...(project ? [project] : [])]);
    const cohorts = sizes.rows.map((row) => ({ month: row.month as string, size: num(row.size) }));
    const cells = await this.settledCells(cohorts.map((c) => c.month), settled, project);
    const liveFrom = first > settled ? first : settled;
    if (liveFrom <= current) {
      for (const [cell, active] of await this.retentionCells(first, end, liveFrom, nextPeriod(current, 'month'), project)) cells.set(cell, active);
    }
    const rows = [];
    for (const { month, size } of cohorts) {
      for (let active = month, offset = 0; active <= current; active = nextPeriod(active, 'month'), offset++) {
        const count = cells.get(`${month}|${active}`) ?? 0;
        rows.push({ cohort: month, size, monthOffset: offset, active: count, share: share(count, size) });
      }
    }
    return { from, to, ...(project ? { project } : {}), rows };
  }

  // The kept cells of these cohorts for active months before `settled`; missing ones counted and kept.
  private async settledCells(cohorts: string[], settled: string, project: string | undefined) {
    const scope = project ?? '*';
    const read = async () => new Map((await this.sql.query(
      "SELECT day::text AS cohort, key, count FROM daily_counts WHERE metric = 'retention' AND day = ANY($1::date[]) AND key LIKE $2",
      [cohorts, `${scope.replace(/[\\%_]/g, '\\$&')}:%`])).rows.map((row) => [`${row.cohort}|${(row.key as string).slice(scope.length + 1)}`, num(row.count)]));
    const kept = await read();
    const missing: Array<[cohort: string, active: string]> = [];
    for (const cohort of cohorts) {
      for (let active = cohort; active < settled; active = nextPeriod(active, 'month')) if (!kept.has(`${cohort}|${active}`)) missing.push([cohort, active]);
    }
    if (missing.length === 0) return kept;
    const activeMonths = missing.map((m) => m[1]).sort();
    const cohortMonths = missing.map((m) => m[0]).sort();
    const counted = await this.retentionCells(cohortMonths[0], nextPeriod(cohortMonths[cohortMonths.length - 1], 'month'),
      activeMonths[0], nextPeriod(activeMonths[activeMonths.length - 1], 'month'), project);
    // Cells without activity are kept as 0 too, so they are never counted again.
    await this.sql.query(`
      INSERT INTO daily_counts (day, metric, key, count)
      SELECT * FROM unnest($1::date[], $2::text[], $3::text[], $4::bigint[]) ON CONFLICT DO NOTHING`, [
      missing.map((m) => m[0]), missing.map(() => 'retention'), missing.map((m) => `${scope}:${m[1]}`),
      missing.map(([cohort, active]) => counted.get(`${cohort}|${active}`) ?? 0),
    ]);
    return read();
  }

  // Users who signed up in [first, end) and were active in [activeFrom, activeTo), by cohort and month.
  private async retentionCells(first: string, end: string, activeFrom: string, activeTo: string, project: string | undefined) {
    const { rows } = await this.sql.query(`
      SELECT date_trunc('month', u.created_at)::date::text AS cohort, date_trunc('month', a.day)::date::text AS month, count(DISTINCT a.user_id) AS active
      FROM activity_days a JOIN users u ON u.id = a.user_id
      WHERE a.day >= $3::date AND a.day < $4::date AND u.created_at >= $1::date AND u.created_at < $2::date
        AND a.day >= date_trunc('month', u.created_at)::date
        ${project ? 'AND a.project = $5 AND EXISTS (SELECT 1 FROM project_access pa WHERE pa.user_id = u.id AND pa.project = $5)' : ''}
      GROUP BY 1, 2`, [first, end, activeFrom, activeTo, ...(project ? [project] : [])]);
    return new Map(rows.map((row) => [`${row.cohort}|${row.month}`, num(row.active)]));
  }

  /**
   * MRR per snapshot day (or per month: its last snapshot) by plan and in total, and the movement
   * since the previous point: new (from nothing), expansion, contraction, churned (to nothing).
   */
  async revenue({ from, to, interval, project }: Range & { interval: 'day' | 'month' }) {
    const params = [from, to, interval, ...(project ? [project] : [])];
    const scope = project ? 'AND EXISTS (SELECT 1 FROM project_access pa WHERE pa.user_id = s.user_id AND pa.project = $4)' : '';
    // The snapshot days: one index probe per day of the range (not a scan of its rows), and the
    // last snapshot before `from`, the first point's previous one.
    const points = `
      WITH days AS (
        SELECT d::date AS day FROM generate_series($1::date, $2::date, interval '1 day') d
        WHERE EXISTS (SELECT 1 FROM subscription_snapshots s WHERE s.day = d::date)
        UNION ALL
        SELECT max(day) FROM subscription_snapshots WHERE day < $1::date HAVING max(day) IS NOT NULL),
      points AS (
        SELECT CASE WHEN $3 = 'month' THEN date_trunc('month', day)::date ELSE day END AS period, max(day) AS day
        FROM days GROUP BY 1),
      pairs AS (SELECT period, day, lag(day) OVER (ORDER BY day) AS prev FROM points)`;
    const [byPlan, moves] = await Promise.all([
      this.sql.query(`${points}
        SELECT p.period::text AS period, s.plan, sum(s.mrr_cents) AS mrr, count(*) AS paying
        FROM pairs p JOIN subscription_snapshots s ON s.day = p.day AND s.mrr_cents > 0 ${scope}
        WHERE p.day >= $1::date GROUP BY 1, 2 ORDER BY 1, 2`, params),
      this.sql.query(`${points}
        SELECT p.period::text AS period,
          coalesce(sum(x.cur) FILTER (WHERE x.old = 0 AND x.cur > 0), 0) AS new,
          coalesce(sum(x.cur - x.old) FILTER (WHERE x.old > 0 AND x.cur > x.old), 0) AS expansion,
          coalesce(sum(x.old - x.cur) FILTER (WHERE x.cur > 0 AND x.cur < x.old), 0) AS contraction,
          coalesce(sum(x.old) FILTER (WHERE x.old > 0 AND x.cur = 0), 0) AS churned
        FROM pairs p LEFT JOIN LATERAL (
          SELECT coalesce(c.mrr_cents, 0) AS cur, coalesce(o.mrr_cents, 0) AS old
          FROM (SELECT s.user_id, s.mrr_cents FROM subscription_snapshots s WHERE s.day = p.day ${scope}) c
          FULL JOIN (SELECT s.user_id, s.mrr_cents FROM subscription_snapshots s WHERE s.day = p.prev ${scope}) o USING (user_id)
        ) x ON p.prev IS NOT NULL
        WHERE p.day >= $1::date GROUP BY 1 ORDER BY 1`, params),
    ]);
    const plans = [...new Set(byPlan.rows.map((row) => row.plan as string))].sort();
    const rows = moves.rows.map((move) => {
      const own = byPlan.rows.filter((row) => row.period === move.period);
      const row: Row = {
        period: move.period as string,
        mrrCents: own.reduce((sum, r) => sum + num(r.mrr), 0),
        payingUsers: own.reduce((sum, r) => sum + num(r.paying), 0),
        newCents: num(move.new), expansionCents: num(move.expansion), contractionCents: num(move.contraction), churnedCents: num(move.churned),
      };
      for (const plan of plans) row[`plan:${plan}`] = num(own.find((r) => r.plan === plan)?.mrr);
      return row;
    });
    return { from, to, interval, ...(project ? { project } : {}), plans, rows };
  }

  /** Sign-ins per day by outcome (success, wrong_password, locked, mfa, …). */
  async logins({ from, to, project }: Range) {
    return this.countsByDay(project ? 'project_logins' : 'logins', from, to, project);
  }

  /** Gateway requests per day by status class, and latency percentiles over the range. */
  async gateway({ from, to, project }: Range) {
    const counts = await this.countsByDay('gateway', from, to, project, true);
    const latency = await this.sql.query(`
      SELECT split_part(key, ':', 2) AS bucket, sum(count) AS count FROM daily_counts
      WHERE metric = 'gateway_latency' AND day BETWEEN $1::date AND $2::date ${project ? "AND split_part(key, ':', 1) = $3" : ''}
      GROUP BY 1`, project ? [from, to, project] : [from, to]);
    const histogram = new Map(latency.rows.map((row) => [row.bucket as string, num(row.count)]));
    return { ...counts, latencyMs: percentiles(histogram) };
  }

  /** Deliveries to webhook endpoints (not automation rules) created per day, by their status. */
  async webhooks({ from, to, project }: Range) {
    const result = await this.sql.query(`
      SELECT d.created_at::date::text AS day, d.status AS key, count(*) AS count
      FROM event_deliveries d ${project ? 'JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.project = $3' : ''}
      WHERE d.endpoint_id IS NOT NULL AND d.created_at >= $1::date AND d.created_at < $2::date + 1 GROUP BY 1, 2`, project ? [from, to, project] : [from, to]);
    return pivot(result.rows, from, to, project);
  }

  // daily_counts of one metric, keys pivoted into columns; `byProject`: keys are 'project:what'.
  private async countsByDay(metric: string, from: string, to: string, project: string | undefined, byProject = false) {
    const filter = project ? "AND split_part(key, ':', 1) = $4" : '';
    const key = byProject || project ? "split_part(key, ':', 2)" : 'key';
    const result = await this.sql.query(`
      SELECT day::text AS day, ${key} AS key, sum(count) AS count FROM daily_counts
      WHERE metric = $3 AND day BETWEEN $1::date AND $2::date ${filter} GROUP BY 1, 2`,
    project ? [from, to, metric, project] : [from, to, metric]);
    return pivot(result.rows, from, to, project);
  }
}

// Rows of (day, key, count) → one row per day of the range with a column per key, and totals.
function pivot(found: Array<Record<string, unknown>>, from: string, to: string, project: string | undefined) {
  const keys = [...new Set(found.map((row) => row.key as string))].sort();
  const totals: Record<string, number> = Object.fromEntries(keys.map((key) => [key, 0]));
  const rows: Row[] = [];
  for (let day = from; day <= to; day = addDays(day, 1)) {
    const row: Row = { day };
    for (const key of keys) row[key] = 0;
    rows.push(row);
  }
  const index = new Map(rows.map((row) => [row.day as string, row]));
  for (const { day, key, count } of found) {
    const row = index.get(day as string);
    if (!row) continue;
    row[key as string] = num(count);
    totals[key as string] += num(count);
  }
  return { from, to, ...(project ? { project } : {}), keys, totals, rows };
}

/** p50/p90/p95/p99 from the bucket counts: each the upper bound of the bucket reaching it. */
function percentiles(histogram: Map<string, number>) {
  const bounds = [...LATENCY_BUCKETS_MS.map(String), 'inf'];
  const total = bounds.reduce((sum, bound) => sum + (histogram.get(bound) ?? 0), 0);
  const at = (q: number): number | null => {
    if (total === 0) return null;
    let seen = 0;
    for (const bound of bounds) {
      seen += histogram.get(bound) ?? 0;
      // Beyond the last bound: the largest bound is the best a histogram can say.
      if (seen >= q * total) return bound === 'inf' ? LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1] : Number(bound);
    }
    return null;
  };
  return { count: total, p50: at(0.5), p90: at(0.9), p95: at(0.95), p99: at(0.99) };
}

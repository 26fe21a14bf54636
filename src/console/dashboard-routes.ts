// /console: the overview with its charts (SVG drawn on the server, see charts.ts), and
// /console/analytics/<name>.csv: the same figures as /api/analytics/<name>?format=csv, from the
// same queries and CSV writer, for the signed-in administrator (the API wants a Bearer token).
import Router from '@koa/router';
import type { Context } from 'koa';
import type { AnalyticsQueries } from '../analytics/queries.js';
import { BadParameter, interval, oneOf, projectParam, range } from '../analytics/params.js';
import { toCsv } from '../analytics/csv.js';
import { addDays } from '../analytics/day.js';
import { HttpError } from '../http/errors.js';
import { cohortGrid, lineChart, shareAgainstTarget, stackedBars, type Cohort } from './charts.js';
import { showPage } from './page.js';
import type { ConsoleSession } from './session.js';

const DAYS = 30;
const RETENTION_DAYS = 365;

const money = (cents: number) => `$${(cents / 100).toLocaleString('en-US', { maximumFractionDigits: cents % 100 ? 2 : 0 })}`;
const count = (n: number) => Math.round(n).toLocaleString('en-US');
const percent = (share: number) => `${Math.round(share * 1000) / 10}%`;

/** The console's CSV exports: the dashboard's figures, parameters as in /api/analytics. */
function csvAnswers(queries: AnalyticsQueries): Record<string, (ctx: Context) => Promise<object>> {
  const today = () => queries.today();
  return {
    overview: (ctx) => queries.overview({ project: projectParam(ctx) }),
    activity: (ctx) => queries.activity({ ...range(ctx, today()), interval: interval(ctx), project: projectParam(ctx) }),
    'cross-project': (ctx) => queries.crossProject({ to: range(ctx, today()).to, project: projectParam(ctx) }),
    retention: (ctx) => queries.retention({ ...range(ctx, today(), RETENTION_DAYS), project: projectParam(ctx) }),
    revenue: (ctx) => queries.revenue({
      ...range(ctx, today()), interval: oneOf(ctx, 'interval', ['day', 'month'] as const, 'day'), project: projectParam(ctx),
    }),
  };
}

/** Retention rows (cohort × month offset) as one row per cohort with its shares from M+0. */
function cohortsOf(rows: Array<{ cohort: string; size: number; monthOffset: number; share: number }>): Cohort[] {
  const byCohort = new Map<string, Cohort>();
  for (const row of rows) {
    const cohort = byCohort.get(row.cohort) ?? { cohort: row.cohort, size: row.size, shares: [] };
    cohort.shares[row.monthOffset] = row.share;
    byCohort.set(row.cohort, cohort);
  }
  return [...byCohort.values()].map((c) => ({ ...c, shares: Array.from(c.shares, (s) => s ?? 0) }));
}

export function dashboardRoutes({ session, analytics }: { session: ConsoleSession; analytics: AnalyticsQueries }) {
  const router = new Router();
  const answers = csvAnswers(analytics);

  router.get('/console', async (ctx) => {
    const admin = await session.forPage(ctx);
    if (!admin) return;
    const to = analytics.today();
    const from = addDays(to, -(DAYS - 1));
    const [overview, all, revenue, retention] = await Promise.all([
      analytics.overview(),
      analytics.activity({ from, to, interval: 'day' }),
      analytics.revenue({ from, to, interval: 'day' }),
      analytics.retention({ from: addDays(to, -(RETENTION_DAYS - 1)), to }),
    ]);
    const perProject = await Promise.all(overview.projects.map(async ({ project }) => ({
      name: project, values: (await analytics.activity({ from, to, interval: 'day', project })).rows.map((row) => row.actives),
    })));
    const days = all.rows.map((row) => row.period);
    const revenueDays = revenue.rows.map((row) => String(row.period));
    const plans = revenue.plans.map((plan) => ({ name: plan, values: revenue.rows.map((row) => Number(row[`plan:${plan}`] ?? 0)) }));
    const cross = overview.kpis.crossProjectShare;
    await showPage(ctx, admin, 'dashboard', {
      title: 'Console', section: 'dashboard', from, to, overview,
      kpis: [
        { label: 'Users', value: count(overview.users.total), note: `${count(overview.users.new7d.current)} new in 7 days` },
        { label: 'Daily actives', value: count(overview.actives.dau.total), note: `${count(overview.actives.wau.total)} this week` },
        { label: 'Monthly actives', value: count(overview.actives.mau.total), note: `${percent(overview.kpis.monthlyActiveShare.actual)} of users (target ${percent(overview.kpis.monthlyActiveShare.target)})` },
        { label: 'MRR', value: money(overview.revenue.mrrCents), note: `${count(overview.revenue.payingUsers)} paying` },
        { label: 'Cross-project', value: percent(cross.actual), note: `target ${percent(cross.target)}` },
      ],
      charts: {
        signups: lineChart('Sign-ups per day', days, [{ name: 'Sign-ups', values: all.rows.map((row) => row.newUsers) }], count),
        actives: lineChart('Active users per day and project', days, perProject, count),
        revenue: stackedBars('MRR by plan per day', revenueDays, plans, money),
        cross: shareAgainstTarget('Share of monthly actives using 2+ projects against the 30% target', cross.actual, cross.target),
        retention: cohortGrid('Monthly retention cohorts (% of the cohort active in month M+n)', cohortsOf(retention.rows)),
      },
      actives: perProject.map((series) => series.name),
      plans: plans.map((series) => series.name),
      projects: overview.projects,
    });
  });

  router.get('/console/analytics/:name.csv', async (ctx) => {
    if (!(await session.forPage(ctx))) return;
    const answer = Object.hasOwn(answers, ctx.params.name) ? answers[ctx.params.name] : undefined;
    if (!answer) throw new HttpError(404, 'not_found', 'There is no such export.', 'Not found');
    let body: object;
    try {
      body = await answer(ctx);
    } catch (error) {
      if (error instanceof BadParameter) throw new HttpError(400, 'invalid_request', error.message, 'Bad request');
      throw error;
    }
    ctx.type = 'text/csv; charset=utf-8';
    ctx.set('Content-Disposition', `attachment; filename="nexus-${ctx.params.name}.csv"`);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = toCsv(body);
  });

  return router;
}

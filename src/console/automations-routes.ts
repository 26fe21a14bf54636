// /console/automations: the rules of automations.json and each one's last runs (the event bus
// records a run as an event_deliveries row with `rule` set). Read-only: rules change in the file.
import Router from '@koa/router';
import type pg from 'pg';
import type { AutomationRule } from '../events/automations.js';
import { showPage, when } from './page.js';
import type { ConsoleSession } from './session.js';

const RUNS_PER_RULE = 5;

interface Run {
  rule: string;
  eventType: string;
  status: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: Date;
  completedAt: Date | null;
}

/** The newest runs of each rule, in one statement. */
async function lastRuns(pool: pg.Pool, rules: string[]): Promise<Run[]> {
  if (!rules.length) return [];
  const { rows } = await pool.query<Run>(`
    SELECT r.rule, d."eventType", d.status, d.attempts, d."lastStatus", d."lastError", d."createdAt", d."completedAt"
    FROM unnest($1::text[]) AS r(rule) CROSS JOIN LATERAL (
      SELECT e.type AS "eventType", x.status, x.attempts, x.last_status AS "lastStatus", x.last_error AS "lastError",
        x.created_at AS "createdAt", x.completed_at AS "completedAt"
      FROM event_deliveries x JOIN events e ON e.id = x.event_id
      WHERE x.rule = r.rule ORDER BY x.created_at DESC LIMIT $2) d`, [rules, RUNS_PER_RULE]);
  return rows;
}

export function automationsRoutes({ session, rules, pool }: { session: ConsoleSession; rules: AutomationRule[]; pool: pg.Pool }) {
  const router = new Router();

  router.get('/console/automations', async (ctx) => {
    const admin = await session.forPage(ctx);
    if (!admin) return;
    const runs = await lastRuns(pool, rules.map((rule) => rule.id));
    await showPage(ctx, admin, 'automations', {
      title: 'Automations', section: 'automations',
      rules: rules.map((rule) => ({
        id: rule.id, description: rule.description, on: `${rule.on.source} · ${rule.on.type}`, call: `${rule.call.method} ${rule.call.project} ${rule.call.path}`,
        runs: runs.filter((run) => run.rule === rule.id).map((run) => ({
          eventType: run.eventType, status: run.status, attempts: run.attempts, answer: [run.lastStatus, run.lastError].filter(Boolean).join(' '),
          created: when(run.createdAt), completed: when(run.completedAt),
        })),
      })),
    });
  });

  return router;
}

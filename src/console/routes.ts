// The admin console (/console): its sign-in and every page group, on one ConsoleSession.
import Router from '@koa/router';
import type pg from 'pg';
import type { AdminOperations } from '../admin/operations.js';
import type { HubSessions } from '../accounts/hub-sessions.js';
import type { AnalyticsQueries } from '../analytics/queries.js';
import type { AutomationRule } from '../events/automations.js';
import type { ConsoleSession } from './session.js';
import { consoleSignInRoutes } from './session.js';
import { usersRoutes } from './users-routes.js';
import { projectsRoutes } from './projects-routes.js';
import { keysRoutes } from './keys-routes.js';
import { webhooksRoutes } from './webhooks-routes.js';
import { auditRoutes } from './audit-routes.js';
import { dashboardRoutes } from './dashboard-routes.js';
import { automationsRoutes } from './automations-routes.js';

export interface ConsoleDeps {
  issuer: string;
  session: ConsoleSession;
  ops: AdminOperations;
  sessions: HubSessions;
  analytics: AnalyticsQueries;
  /** automations.json's rules; their runs are read from `pool`. */
  rules: AutomationRule[];
  pool: pg.Pool;
}

export function consoleRoutes({ issuer, session, ops, sessions, analytics, rules, pool }: ConsoleDeps) {
  const router = new Router();
  const groups = [
    consoleSignInRoutes(issuer, issuer.startsWith('https:'), ops),
    dashboardRoutes({ session, analytics }),
    usersRoutes({ session, ops, sessions }),
    projectsRoutes({ session, ops }),
    keysRoutes({ session, ops }),
    webhooksRoutes({ session, ops }),
    auditRoutes({ session, ops }),
    automationsRoutes({ session, rules, pool }),
  ];
  for (const group of groups) router.use(group.routes());
  return router;
}

// /console/audit: the event log, filtered by type, project (the event's source), user (email or
// id) and time, oldest first from `since`, a page at a time (`after` = the last sequence shown).
import Router from '@koa/router';
import type { AdminOperations } from '../admin/operations.js';
import { attempt, PAGE_SIZE, queryText, showPage } from './page.js';
import type { ConsoleSession } from './session.js';

const DAY_MS = 86_400_000;

/** A `YYYY-MM-DD` or ISO time; an unreadable one is the default (the last 7 days). */
function sinceOf(text: string): Date {
  const date = /^\d{4}-\d{2}-\d{2}(T[\d:.]+Z?)?$/.test(text) ? new Date(text) : new Date(NaN);
  return Number.isNaN(date.getTime()) ? new Date(Date.now() - 7 * DAY_MS) : date;
}

export function auditRoutes({ session, ops }: { session: ConsoleSession; ops: AdminOperations }) {
  const router = new Router();

  router.get('/console/audit', async (ctx) => {
    const admin = await session.forPage(ctx);
    if (!admin) return;
    const filter = { type: queryText(ctx, 'type').slice(0, 200), project: queryText(ctx, 'project').slice(0, 200), user: queryText(ctx, 'user').slice(0, 320) };
    const since = sinceOf(queryText(ctx, 'since'));
    const after = /^\d{1,18}$/.test(queryText(ctx, 'after')) ? Number(queryText(ctx, 'after')) : undefined;
    const events = await attempt(() => ops.listEvents({
      type: filter.type || undefined, source: filter.project || undefined, subject: filter.user || undefined, since, afterSequence: after, limit: PAGE_SIZE + 1,
    }));
    const shown = events.slice(0, PAGE_SIZE);
    const next = events.length > PAGE_SIZE
      ? `/console/audit?${new URLSearchParams({ ...filter, since: since.toISOString(), after: String(shown.at(-1)!.sequence) })}`
      : null;
    await showPage(ctx, admin, 'audit', {
      title: 'Audit log', section: 'audit', filter, since: since.toISOString().slice(0, 10), next,
      events: shown.map((event) => ({
        sequence: event.sequence, type: event.type, source: event.source, subject: event.subject,
        actor: event.actor ? `${event.actor.type}:${event.actor.id}` : '', at: event.occurredAt.replace('T', ' ').slice(0, 19),
        data: JSON.stringify(event.data).slice(0, 300),
      })),
    });
  });

  return router;
}

// nexus events ... : the audit log of the event bus (every project's events and the hub's own).
import type { Actor, StoredEvent } from '../../events/event.js';
import { isEventPattern } from '../../events/event.js';
import { parseSince } from '../../events/routes.js';
import { HttpError } from '../../http/errors.js';
import { optionalString, table, UsageError, type CommandGroup, type Values } from '../command.js';

/** Rows a table shows unless --limit says otherwise. */
export const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 1000;
const SOURCE = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** --since: an ISO time or a duration back from now (24h, 7d), as the project API takes it. */
export function sinceFlag(values: Values): Date | undefined {
  try {
    return parseSince(optionalString(values, 'since'));
  } catch (error) {
    if (error instanceof HttpError) throw new UsageError('--since must be an ISO time such as 2026-12-01T10:00:00Z or a duration such as 24h');
    throw error;
  }
}

export function limitFlag(values: Values): number {
  const raw = optionalString(values, 'limit');
  if (raw === undefined) return DEFAULT_LIMIT;
  const limit = Number(raw);
  if (!/^\d+$/.test(raw) || limit < 1 || limit > MAX_LIMIT) throw new UsageError(`--limit must be a whole number from 1 to ${MAX_LIMIT}`);
  return limit;
}

/** A note under a table that stopped at the limit. */
export const moreNote = (shown: number, limit: number) => (shown === limit ? `\n(the newest ${limit}; --limit N shows more)` : '');

const actorText = (actor: Actor | null) => (actor ? `${actor.type}:${actor.id}` : '-');

function eventRows(events: StoredEvent[]) {
  return events.map((e) => ({ occurred: e.occurredAt, type: e.type, source: e.source, seq: e.sequence, subject: e.subject, actor: actorText(e.actor), id: e.id }));
}

export const events: CommandGroup = {
  summary: 'the event log (audit log of the event bus)',
  commands: {
    list: {
      summary: 'list events, newest first',
      usage: '[--type T] [--source P] [--subject EMAIL] [--since 24h|ISO-TIME] [--limit N]',
      options: { type: { type: 'string' }, source: { type: 'string' }, subject: { type: 'string' }, since: { type: 'string' }, limit: { type: 'string' } },
      async run(ctx, values) {
        const type = optionalString(values, 'type');
        if (type !== undefined && !isEventPattern(type)) throw new UsageError('--type must be an event type such as deal.won, or a pattern such as deal.*');
        const source = optionalString(values, 'source');
        if (source !== undefined && !SOURCE.test(source)) throw new UsageError('--source must be a project id, or nexus for the hub\'s own events');
        const subject = optionalString(values, 'subject');
        if (subject !== undefined && (subject.trim() === '' || subject.length > 320)) throw new UsageError('--subject must be a user\'s email');
        const limit = limitFlag(values);
        const found = await ctx.ops.listEvents({
          type: type === '*' ? undefined : type, source, subject, since: sinceFlag(values), limit, newestFirst: true,
        });
        return { data: found, text: `${table(eventRows(found), ['occurred', 'type', 'source', 'seq', 'subject', 'actor', 'id'])}${moreNote(found.length, limit)}` };
      },
    },
    show: {
      summary: 'show an event and what became of it: each webhook delivery and automation run',
      usage: 'ID',
      args: ['ID'],
      async run(ctx, _values, [id]) {
        const shown = await ctx.ops.events.showEvent(id);
        const { event, deliveries } = shown;
        const rows = deliveries.map((d) => ({
          to: d.rule ? `rule ${d.rule}` : `endpoint ${d.endpointId}`, status: d.status, attempts: d.attempts, http: d.lastStatus ?? '-', error: d.lastError ?? '-', id: d.id,
        }));
        const text = [
          `${event.type} from ${event.source} (#${event.sequence}) at ${event.occurredAt}`,
          `id:       ${event.id}`,
          `subject:  ${event.subject ?? '-'}`,
          `actor:    ${actorText(event.actor)}`,
          `data:     ${JSON.stringify(event.data)}`,
          ...(event.causedBy ? [`cause:    ${event.causedBy} (depth ${event.depth})`] : []),
          '',
          deliveries.length ? table(rows, ['to', 'status', 'attempts', 'http', 'error', 'id']) : 'No deliveries: no endpoint or rule took this event.',
        ].join('\n');
        return { data: shown, text };
      },
    },
  },
};

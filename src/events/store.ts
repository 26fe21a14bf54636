// The event store: the only writer of events and of their deliveries. One statement stores a
// batch of events of one source and, for each new one, a delivery to every endpoint that may
// see it and every automation rule it triggers, so an event and its deliveries exist together
// or not at all — inside the caller's transaction when there is one (a transactional outbox).
//
// Who sees what (the issue's rules, evaluated in SQL so that a just-added endpoint or a
// just-granted access counts at once, on every instance):
//   - an administrators' endpoint (no project) sees every event;
//   - a project's endpoint sees its own source's events;
//   - the hub's events about a user the project admits (open project, or a project_access row);
//     hub events about no user (client.*, endpoint.*) go to the project named in data.project;
//   - another project's events of the types it `publishes`, about a user the project admits;
//   - but the hub's project-private events (a session's end, carrying that project's `sid`) go
//     only to the project they name, whoever else admits the user.
import pg from 'pg';
import type { Actor, NewEvent, StoredEvent } from './event.js';
import { HUB_SOURCE, MAX_DEPTH } from './event.js';
import { CHANGE_CHANNEL } from '../db/changes.js';
import { SqlFilter } from './sql-filter.js';

/** Hub events about one project's view of a user, seen by that project (and administrators) only. */
const PROJECT_PRIVATE_TYPES = ['session.ended'];
const PROJECT_PRIVATE = `ARRAY[${PROJECT_PRIVATE_TYPES.map((type) => `'${type}'`).join(', ')}]::text[]`;

/** Anything that runs a parameterised statement: a pg pool or client, or a Prisma transaction (see prismaSql). */
export interface Sql {
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

/**
 * Runs one of the bus's hot statements as a named statement when `sql` is a pg pool or client:
 * PostgreSQL then parses, analyses and plans it once per connection instead of on every call
 * (the publish statement's planning alone was ~0.4 ms of PostgreSQL CPU per POST /api/events).
 * A Prisma transaction (prismaSql) runs it unnamed.
 */
export function prepared<R>(sql: Sql, name: string, text: string, values: unknown[]): Promise<{ rows: R[] }> {
  return sql instanceof pg.Pool || sql instanceof pg.Client ? sql.query<R & pg.QueryResultRow>({ name, text, values }) : sql.query<R>(text, values);
}

/** A Prisma interactive transaction as Sql, so a library can publish inside its own transaction. */
export function prismaSql(tx: { $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T> }): Sql {
  return { query: async <R>(text: string, values: unknown[] = []) => ({ rows: await tx.$queryRawUnsafe<R[]>(text, ...values) }) };
}

export interface PublishResult {
  events: Array<{ id: string; key: string | null; sequence: number; duplicate: boolean }>;
  /** Deliveries created (webhooks and automation runs): 0 means nothing to wake a worker for. */
  deliveries: number;
}

/** Automation rules by source: the rule ids each event type of that source triggers. */
export type RulesOf = (source: string) => Array<{ rule: string; type: string }>;


const sequenceName = (source: string) => `"events_seq_${source}"`;

// $1 events (jsonb), $2 source, $3 its sequence, $4 actor, $5 rules (jsonb), $6 notify (bool),
// $7 one endpoint that alone gets the events whatever it subscribes to (`webhooks test`), or NULL.
const PUBLISH = `
WITH input AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(n int, type text, subject uuid, data jsonb, occurred_at timestamptz, key text, caused_by uuid)
), stored AS (
  INSERT INTO events (id, type, source, sequence, user_id, data, actor, idempotency_key, depth, caused_by, occurred_at, created_at)
  SELECT gen_random_uuid(), i.type, $2, nextval($3::regclass), i.subject, i.data, $4::jsonb, i.key,
    COALESCE((SELECT c.depth + 1 FROM events c WHERE c.id = i.caused_by), 0), i.caused_by,
    COALESCE(i.occurred_at, now()), now() AT TIME ZONE 'UTC'
  FROM input i ORDER BY i.n
  ON CONFLICT (source, idempotency_key) DO NOTHING
  RETURNING id, type, user_id, sequence, idempotency_key, data, depth
), publishes AS (
  SELECT COALESCE((SELECT d.definition->'publishes' FROM oauth_clients d WHERE d.id = $2), '[]'::jsonb) AS types
), admitted AS (
  -- The events other projects may see as about a user they admit (the hub's, and this source's
  -- public types), each with every enabled project that admits its subject.
  SELECT s.id AS event_id, c.id AS project
  FROM stored s CROSS JOIN publishes JOIN oauth_clients c ON c.enabled
  LEFT JOIN project_access pa ON pa.user_id = s.user_id AND pa.project = c.id
  WHERE s.user_id IS NOT NULL AND ($2 = '${HUB_SOURCE}' OR publishes.types ? s.type)
    AND (c.definition->>'access' = 'open' OR pa.user_id IS NOT NULL)
), webhooks AS (
  -- Admission is joined, not a correlated EXISTS per (event, endpoint) pair: the planner costs
  -- such a subquery for every pair it estimates (100 × the endpoints), which put this statement
  -- above jit_above_cost and made PostgreSQL JIT-compile it on every call (~20 ms each).
  INSERT INTO event_deliveries (event_id, endpoint_id)
  SELECT s.id, e.id FROM stored s JOIN webhook_endpoints e ON e.enabled
  LEFT JOIN admitted a ON a.event_id = s.id AND a.project = e.project
  WHERE e.id = $7::uuid OR ($7::uuid IS NULL
    AND EXISTS (SELECT 1 FROM unnest(e.event_types) p WHERE p = '*' OR p = s.type OR (right(p, 2) = '.*' AND starts_with(s.type, left(p, -1))))
    AND (e.project IS NULL OR e.project = $2
    OR ($2 = '${HUB_SOURCE}' AND s.user_id IS NULL AND s.data->>'project' = e.project)
    OR (a.project IS NOT NULL AND NOT (s.type = ANY(${PROJECT_PRIVATE}) AND s.data->>'project' IS DISTINCT FROM e.project))))
  RETURNING 1
), runs AS (
  INSERT INTO event_deliveries (event_id, rule)
  SELECT s.id, r.rule FROM stored s JOIN jsonb_to_recordset($5::jsonb) AS r(rule text, type text) ON r.type = s.type
  WHERE $7::uuid IS NULL AND s.user_id IS NOT NULL AND s.depth < ${MAX_DEPTH}
  RETURNING 1
), counted AS (
  SELECT (SELECT count(*) FROM webhooks) + (SELECT count(*) FROM runs) AS deliveries
)
SELECT s.id, s.idempotency_key AS key, s.sequence::text AS sequence, counted.deliveries::int AS deliveries,
  -- As text: pg_notify answers void, which Prisma cannot read back (publish inside a Prisma transaction).
  CASE WHEN $6::boolean AND counted.deliveries > 0 THEN pg_notify('${CHANGE_CHANNEL}', 'events') END::text AS notified
FROM stored s, counted
`;

// A repeated key: the event stored the first time.
const EXISTING = `SELECT id, idempotency_key AS key, sequence::text AS sequence FROM events WHERE source = $1 AND idempotency_key = ANY(SELECT jsonb_array_elements_text($2::jsonb))`;

export class EventStore {
  private readonly sequences = new Set<string>([HUB_SOURCE]);

  /** The automation rules events may trigger (set once the rules are loaded; none before). */
  rulesOf: RulesOf = () => [];

  constructor(private readonly pool: Sql) {}

  /** Creates the source's sequence on its first event (outside any transaction, once per process). */
  private async ensureSequence(source: string) {
    if (this.sequences.has(source)) return;
    try {
      await this.pool.query(`CREATE SEQUENCE IF NOT EXISTS ${sequenceName(source)}`);
    } catch (error) {
      // Another instance created it at the same moment (IF NOT EXISTS is not race-free).
      if (!['23505', '42P07'].includes((error as { code?: string }).code ?? '')) throw error;
    }
    this.sequences.add(source);
  }

  /**
   * Stores events of one source with `sql` (a transaction of the caller, or the pool). With
   * `notifyOnCommit`, waiting delivery workers are woken by a NOTIFY that PostgreSQL sends when
   * the transaction commits; without it the caller wakes them (EventBus.emit does).
   */
  async publish(sql: Sql, source: string, actor: Actor | null, events: NewEvent[], notifyOnCommit = true, onlyEndpoint: string | null = null): Promise<PublishResult> {
    if (events.length === 0) return { events: [], deliveries: 0 };
    await this.ensureSequence(source);
    const input = events.map((event, n) => ({
      n, type: event.type, subject: event.subject ?? null, data: event.data ?? {}, key: event.key ?? null,
      occurred_at: event.occurredAt?.toISOString() ?? null, caused_by: event.causedBy ?? null,
    }));
    const rules = this.rulesOf(source);
    const { rows } = await prepared<{ id: string; key: string | null; sequence: string; deliveries: number }>(sql, 'events-publish', PUBLISH, [
      JSON.stringify(input), source, sequenceName(source), actor ? JSON.stringify(actor) : null, JSON.stringify(rules), notifyOnCommit, onlyEndpoint,
    ]);
    const stored = rows.map((row) => ({ id: row.id, key: row.key, sequence: Number(row.sequence), duplicate: false }));
    const repeated = input.filter((event) => event.key !== null && !rows.some((row) => row.key === event.key)).map((event) => event.key);
    let earlier: typeof stored = [];
    if (repeated.length) {
      const found = await sql.query<{ id: string; key: string; sequence: string }>(EXISTING, [source, JSON.stringify(repeated)]);
      earlier = found.rows.map((row) => ({ id: row.id, key: row.key, sequence: Number(row.sequence), duplicate: true }));
    }
    // In the order they were sent; a key repeated within one batch answers the same event twice.
    const byKey = new Map([...stored, ...earlier].filter((e) => e.key !== null).map((e) => [e.key, e]));
    let next = 0;
    const withoutKey = stored.filter((e) => e.key === null);
    const seen = new Set<string>();
    const answered = input.map((event) => {
      if (event.key === null) return withoutKey[next++];
      const found = byKey.get(event.key)!;
      if (found.duplicate || seen.has(event.key)) return { ...found, duplicate: true };
      seen.add(event.key);
      return found;
    });
    return { events: answered, deliveries: rows[0]?.deliveries ?? 0 };
  }

  async list(filter: EventFilter): Promise<StoredEvent[]> {
    const sql = new SqlFilter();
    if (filter.type) {
      if (filter.type.endsWith('.*')) sql.add('starts_with(type, ?)', filter.type.slice(0, -1));
      else sql.add('type = ?', filter.type);
    }
    if (filter.source) sql.add('source = ?', filter.source);
    if (filter.subject) sql.add('user_id = ?::uuid', filter.subject);
    if (filter.since) sql.add("created_at >= (?::timestamptz AT TIME ZONE 'UTC')", filter.since.toISOString());
    if (filter.afterSequence !== undefined) sql.add('sequence > ?', filter.afterSequence);
    const limit = sql.limit(filter.limit);
    // With a source, the sequence orders its events; across sources the recording time does.
    // Qualified: a bare `sequence` in ORDER BY would name the output column, sequence::text.
    const order = filter.source ? 'events.sequence' : 'events.created_at, events.sequence';
    const { rows } = await this.pool.query<EventRow>(
      `${SELECT_EVENT} ${sql.where} ORDER BY ${filter.newestFirst ? order.split(', ').map((c) => `${c} DESC`).join(', ') : order} ${limit}`,
      sql.values,
    );
    return rows.map(toStoredEvent);
  }

  async get(id: string): Promise<StoredEvent | undefined> {
    const { rows } = await this.pool.query<EventRow>(`${SELECT_EVENT} WHERE id = $1`, [id]);
    return rows[0] ? toStoredEvent(rows[0]) : undefined;
  }
}

export interface EventFilter {
  type?: string;
  source?: string;
  /** A user id. */
  subject?: string;
  since?: Date;
  afterSequence?: number;
  limit?: number;
  newestFirst?: boolean;
}

export interface EventRow {
  id: string;
  type: string;
  source: string;
  user_id: string | null;
  sequence: string;
  data: Record<string, unknown>;
  actor: Actor | null;
  occurred_at: Date;
  idempotency_key: string | null;
  depth: number;
  caused_by: string | null;
}

/** The columns toStoredEvent reads, of the events table under `alias`. */
export const eventColumns = (alias: string) =>
  ['id', 'type', 'source', 'user_id', 'sequence::text AS sequence', 'data', 'actor', 'occurred_at', 'idempotency_key', 'depth', 'caused_by'].map((c) => `${alias}.${c}`).join(', ');

const SELECT_EVENT = `SELECT ${eventColumns('events')} FROM events`;

export function toStoredEvent(row: EventRow): StoredEvent {
  return {
    id: row.id, type: row.type, source: row.source, subject: row.user_id, sequence: Number(row.sequence), data: row.data, actor: row.actor,
    occurredAt: new Date(row.occurred_at).toISOString(), key: row.idempotency_key, depth: row.depth, causedBy: row.caused_by,
  };
}

// Deliveries as a durable queue in PostgreSQL. A worker claims due deliveries with
// `FOR UPDATE SKIP LOCKED` and a lease (`locked_until`), so instances never take the same one,
// and a claim of a killed process simply lapses and the delivery is made again (at least once;
// receivers deduplicate on webhook-id). Outcomes are written in batches, with one attempt row each.
//
// Why not graphile-worker or pg-boss (the issue asks): a delivery must stay a row operators list,
// filter and replay, with its attempts, so a job queue would hold a second copy of every delivery,
// written in the same transaction as each event (the accept path's target is 10,000 events/s);
// graphile-worker releases a crashed worker's jobs only after 4 hours, and pg-boss polls (≥ 0.5 s,
// no LISTEN) where the latency target is p99 < 500 ms. The queue part here is two statements.
import type { StoredEvent } from './event.js';
import { eventColumns, prepared, toStoredEvent, type EventRow, type Sql } from './store.js';
import { SqlFilter } from './sql-filter.js';

export interface ClaimedDelivery {
  id: string;
  /** This attempt's number, from 1. */
  attempt: number;
  event: StoredEvent;
  endpoint?: { id: string; url: string; secretSealed: string; previousSecretSealed: string | null; previousSecretUntil: Date | null };
  rule?: string;
}

export interface Outcome {
  id: string;
  endpointId?: string;
  ok: boolean;
  status?: number;
  latencyMs: number;
  /** The first KB of the answer, as text. */
  response?: string;
  error?: string;
  /** When to try again; null: never (the schedule is spent). Ignored when ok. */
  retryAt: Date | null;
}

export interface DeliveryInfo {
  id: string;
  eventId: string;
  eventType: string;
  endpointId: string | null;
  rule: string | null;
  status: string;
  attempts: number;
  nextAttemptAt: Date;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: Date;
  completedAt: Date | null;
}

export interface AttemptInfo {
  attemptedAt: Date;
  status: number | null;
  latencyMs: number | null;
  response: string | null;
  error: string | null;
}

/** What a worker may claim now. */
const CLAIMABLE = "d.status = 'pending' AND d.next_attempt_at <= now() AND (d.locked_until IS NULL OR d.locked_until < now())";

// $1 how many, $2 lease in ms.
const CLAIM = `
WITH due AS (
  SELECT d.id FROM event_deliveries d
  WHERE ${CLAIMABLE}
  ORDER BY d.next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE event_deliveries d SET locked_until = now() + $2 * interval '1 millisecond', attempts = d.attempts + 1
  FROM due WHERE d.id = due.id
  RETURNING d.id AS delivery_id, d.event_id, d.endpoint_id, d.rule, d.attempts
)
SELECT c.delivery_id, c.attempts, c.rule, c.endpoint_id, w.url, w.secret_sealed, w.previous_secret_sealed, w.previous_secret_until, ${eventColumns('e')}
FROM claimed c JOIN events e ON e.id = c.event_id LEFT JOIN webhook_endpoints w ON w.id = c.endpoint_id
`;

// $1 outcomes (jsonb), $2 endpoints with a success, $3 endpoints with only failures, $4 ms of
// failing that disables. A lapsed claim that another worker took meanwhile is still recorded:
// both tried. The endpoints' health is noted in the same statement (one round trip per batch);
// answers the endpoints that have now failed for $4 ms.
const RECORD = `
WITH r AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(id uuid, ok boolean, status int, latency_ms int, response text, error text, retry_at timestamptz)
), updated AS (
  UPDATE event_deliveries d SET
    status = CASE WHEN r.ok THEN 'delivered' WHEN r.retry_at IS NULL THEN 'failed' ELSE 'pending' END,
    next_attempt_at = COALESCE(r.retry_at, d.next_attempt_at),
    locked_until = NULL, last_status = r.status, last_error = r.error,
    completed_at = CASE WHEN r.ok OR r.retry_at IS NULL THEN now() END
  FROM r WHERE d.id = r.id AND d.status = 'pending'
  RETURNING d.id
), attempts AS (
  INSERT INTO event_delivery_attempts (delivery_id, status, latency_ms, response, error)
  SELECT r.id, r.status, r.latency_ms, r.response, r.error FROM r JOIN event_deliveries d ON d.id = r.id
), healthy AS (
  UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ANY($2::uuid[]) AND failing_since IS NOT NULL
), failing AS (
  UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, now()) WHERE id = ANY($3::uuid[]) RETURNING id, enabled, failing_since
)
SELECT id FROM failing WHERE enabled AND failing_since < now() - $4 * interval '1 millisecond'
`;

const SELECT_DELIVERY = `SELECT d.id, d.event_id AS "eventId", e.type AS "eventType", d.endpoint_id AS "endpointId", d.rule, d.status, d.attempts,
  d.next_attempt_at AS "nextAttemptAt", d.last_status AS "lastStatus", d.last_error AS "lastError", d.created_at AS "createdAt", d.completed_at AS "completedAt"
  FROM event_deliveries d JOIN events e ON e.id = d.event_id`;

interface ClaimRow {
  delivery_id: string;
  attempts: number;
  rule: string | null;
  endpoint_id: string | null;
  url: string | null;
  secret_sealed: string | null;
  previous_secret_sealed: string | null;
  previous_secret_until: Date | null;
}

/** Text PostgreSQL can store: no NUL (the rest of a decoded answer is valid UTF-16 already). */
export const storable = (text: string) => text.replace(/\u0000/g, '\uFFFD');

export class DeliveryQueue {
  constructor(private readonly pool: Sql) {}

  async claim(limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    const { rows } = await prepared<ClaimRow & EventRow>(this.pool, 'events-claim', CLAIM, [limit, leaseMs]);
    return rows.map((row) => ({
      id: row.delivery_id,
      attempt: row.attempts,
      event: toStoredEvent(row),
      ...(row.rule ? { rule: row.rule } : {}),
      ...(row.endpoint_id && row.url && row.secret_sealed
        ? { endpoint: { id: row.endpoint_id, url: row.url, secretSealed: row.secret_sealed, previousSecretSealed: row.previous_secret_sealed, previousSecretUntil: row.previous_secret_until } }
        : {}),
    }));
  }

  /**
   * Records a batch of outcomes, one attempt row each, and each endpoint's health; answers the
   * endpoints that have now failed every delivery for `disableAfterMs`.
   */
  async record(outcomes: Outcome[], disableAfterMs: number): Promise<string[]> {
    if (outcomes.length === 0) return [];
    const succeeded = new Set<string>();
    const failed = new Set<string>();
    for (const o of outcomes) if (o.endpointId) (o.ok ? succeeded : failed).add(o.endpointId);
    for (const id of succeeded) failed.delete(id);
    const { rows } = await prepared<{ id: string }>(this.pool, 'events-record', RECORD, [JSON.stringify(outcomes.map((o) => ({
      id: o.id, ok: o.ok, status: o.status ?? null, latency_ms: Math.round(o.latencyMs), response: o.response === undefined ? null : storable(o.response),
      error: o.error === undefined ? null : storable(o.error), retry_at: o.ok ? null : o.retryAt?.toISOString() ?? null,
    }))), [...succeeded], [...failed], disableAfterMs]);
    return rows.map((row) => row.id);
  }

  /** Whether a worker would claim something now. */
  async anyDue(): Promise<boolean> {
    const { rows } = await prepared(this.pool, 'events-any-due', `SELECT 1 FROM event_deliveries d WHERE ${CLAIMABLE} LIMIT 1`, []);
    return rows.length > 0;
  }

  /** Pending deliveries due now or overdue (the queue's depth). */
  async depth(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>("SELECT count(*)::text AS n FROM event_deliveries WHERE status = 'pending' AND next_attempt_at <= now()");
    return Number(rows[0].n);
  }

  async list(filter: { endpointId?: string; eventId?: string; status?: string; since?: Date; limit?: number }): Promise<DeliveryInfo[]> {
    const sql = new SqlFilter();
    if (filter.endpointId) sql.add('d.endpoint_id = ?::uuid', filter.endpointId);
    if (filter.eventId) sql.add('d.event_id = ?::uuid', filter.eventId);
    if (filter.status) sql.add('d.status = ?', filter.status);
    if (filter.since) sql.add('d.created_at >= ?::timestamptz', filter.since.toISOString());
    const limit = sql.limit(filter.limit);
    const { rows } = await this.pool.query<DeliveryInfo>(`${SELECT_DELIVERY} ${sql.where} ORDER BY d.created_at DESC ${limit}`, sql.values);
    return rows;
  }

  async get(id: string): Promise<(DeliveryInfo & { attemptLog: AttemptInfo[] }) | undefined> {
    const { rows } = await this.pool.query<DeliveryInfo>(`${SELECT_DELIVERY} WHERE d.id = $1::uuid`, [id]);
    if (!rows[0]) return undefined;
    const attempts = await this.pool.query<AttemptInfo>(
      'SELECT attempted_at AS "attemptedAt", status, latency_ms AS "latencyMs", response, error FROM event_delivery_attempts WHERE delivery_id = $1 ORDER BY id', [id],
    );
    return { ...rows[0], attemptLog: attempts.rows };
  }

  /**
   * Sends finished deliveries again as new ones (the history of the old ones stays): one by id,
   * or an endpoint's failed ones since a time — of each event only its latest failed delivery,
   * so replays that failed too are not replayed beside their originals (each call would double
   * the copies of every event while the endpoint stays down). Only to enabled endpoints.
   * Answers the new ids.
   */
  async replay(filter: { deliveryId: string } | { endpointId: string; failedSince: Date }): Promise<string[]> {
    const [where, values] = 'deliveryId' in filter
      ? ["d.id = $1::uuid AND d.status <> 'pending'", [filter.deliveryId]]
      : [`d.endpoint_id = $1::uuid AND d.status = 'failed' AND d.created_at >= $2::timestamptz
          AND NOT EXISTS (SELECT 1 FROM event_deliveries later WHERE later.event_id = d.event_id AND later.endpoint_id = d.endpoint_id
            AND later.status = 'failed' AND later.created_at > d.created_at)`,
        [filter.endpointId, filter.failedSince.toISOString()]];
    const { rows } = await this.pool.query<{ id: string }>(
      `INSERT INTO event_deliveries (event_id, endpoint_id, rule)
       SELECT d.event_id, d.endpoint_id, d.rule FROM event_deliveries d LEFT JOIN webhook_endpoints w ON w.id = d.endpoint_id
       WHERE ${where} AND (d.endpoint_id IS NULL OR w.enabled) RETURNING id`,
      values,
    );
    return rows.map((row) => row.id);
  }
}

// The daily job. The MRR snapshot: every subscription's plan, status and monthly amount as the
// hub has it (kept current by the Stripe webhooks), copied into subscription_snapshots once per
// UTC day; revenue figures read these rows only, so history never changes when Stripe data does.
// And the removal of deleted users' activity (activity-cleanup.ts).
import type pg from 'pg';
import { isoDay } from './day.js';
import { removeDeletedUsersActivity } from './activity-cleanup.js';

// One lock per day for all instances: whichever takes it first after midnight writes the day's
// rows. Per day, not one for all days: an instance still writing another day's snapshot (a late
// clock at midnight, a start-up's) must not make the others skip this one until the next midnight.
const SNAPSHOT_LOCK = 0x6e78_0014;

/**
 * Takes `day`'s snapshot unless it exists, then removes the activity of deleted users (cheap and
 * idempotent, so also when the snapshot was there already); true when this call wrote the snapshot.
 */
export async function takeSnapshot(pool: pg.Pool, day: string): Promise<boolean> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const locked = await client.query("SELECT pg_try_advisory_xact_lock($1, $2::date - date '1970-01-01') AS ok", [SNAPSHOT_LOCK, day]);
    if (!locked.rows[0].ok) {
      await client.query('ROLLBACK');
      return false; // another instance is taking it
    }
    const taken = await client.query(`
      INSERT INTO subscription_snapshots (day, user_id, plan, status, mrr_cents)
      SELECT $1::date, user_id, plan, status, mrr_cents FROM subscriptions
      WHERE NOT EXISTS (SELECT 1 FROM subscription_snapshots WHERE day = $1::date)`, [day]);
    await client.query('COMMIT');
    // Outside the snapshot's transaction: whatever happens to it must not cost the day's snapshot.
    await removeDeletedUsersActivity(client);
    return (taken.rowCount ?? 0) > 0;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/** Today's snapshot (UTC) of the clock. */
export function takeTodaysSnapshot(pool: pg.Pool, now: Date = new Date()) {
  return takeSnapshot(pool, isoDay(now));
}

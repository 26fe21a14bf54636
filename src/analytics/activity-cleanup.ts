// Deleted users' activity goes from activity_days and both rollups, by the daily job (see
// snapshots.ts) rather than when the user is deleted: activity has no foreign key (the recorder
// must never fail a batch over one user), so a sighting queued before the deletion and flushed
// after it would bring rows back; a sweep of whoever is not in users any more catches those too.
import type pg from 'pg';

/** Removes the activity rows of users who no longer exist; the number of such users. */
export async function removeDeletedUsersActivity(db: pg.Pool | pg.PoolClient): Promise<number> {
  // activity_users has a row for every user with activity, so the anti-join is over one row per
  // user. Their rows are locked first, in user_id order like the activity trigger's, so a flush
  // of one of them waits (and recreates what it brings) instead of deadlocking.
  const { rowCount } = await db.query(`
    WITH gone AS (
      SELECT user_id FROM activity_users a WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = a.user_id)
      ORDER BY user_id FOR UPDATE),
    days AS (DELETE FROM activity_days WHERE user_id IN (SELECT user_id FROM gone)),
    pairs AS (DELETE FROM activity_last WHERE user_id IN (SELECT user_id FROM gone))
    DELETE FROM activity_users WHERE user_id IN (SELECT user_id FROM gone)`);
  return rowCount ?? 0;
}

// Who was active where (activity_days): one row per (UTC day, project, user). The token and
// gateway paths call record(), which is a Set lookup: the first sighting of the day is queued,
// later ones cost nothing, and the queue is written in one statement per flush. The trigger on
// activity_days (migration 20261201190000_activity_rollups) keeps the rollups the overview reads,
// activity_last and activity_users, in that same statement: a flush is written whole or not at
// all, and a retried one adds nothing twice (ON CONFLICT DO NOTHING; the rollups keep maxima).
import type pg from 'pg';
import { Today } from './day.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Past this many (project, user) pairs in a day the Set starts again: memory stays bounded and
// the repeats it forgets are absorbed by ON CONFLICT DO NOTHING.
const MAX_SEEN = 1_000_000;

export class ActivityRecorder {
  private readonly today: Today;
  /** The day `seen` is of. */
  private day = '';
  private seen = new Set<string>();
  private queue: Array<[day: string, project: string, userId: string]> = [];

  constructor(private readonly pool: pg.Pool, clock: () => number = Date.now) {
    this.today = new Today(clock);
  }

  /** The user did something in the project now (a token issued or refreshed, a gateway request). */
  record(project: string, userId: string) {
    const day = this.today.get();
    if (day !== this.day || this.seen.size >= MAX_SEEN) {
      this.day = day;
      this.seen = new Set();
    }
    const key = `${project} ${userId}`;
    if (this.seen.has(key)) return;
    if (!project || !UUID.test(userId)) return; // not a user of ours: nothing the table can hold
    this.seen.add(key);
    this.queue.push([this.day, project, userId]);
  }

  /** Writes the queued sightings; on failure they are kept for the next flush. */
  async flush() {
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    try {
      // In key order: the flushes of two instances that hold the same rows wait for each other
      // one way, never in a cycle (a deadlock would fail one of them).
      await this.pool.query(`
        INSERT INTO activity_days (day, project, user_id)
        SELECT * FROM unnest($1::date[], $2::text[], $3::uuid[]) ORDER BY 1, 2, 3
        ON CONFLICT DO NOTHING`, [batch.map((r) => r[0]), batch.map((r) => r[1]), batch.map((r) => r[2])]);
    } catch (error) {
      this.queue = batch.concat(this.queue);
      throw error;
    }
  }
}

// Daily counters (daily_counts): sign-ins by outcome, gateway requests by project and status
// class, and the gateway's latency histogram. Counted in memory on the request path (a Map
// increment) and added to the table in one statement per flush, so no request waits on them.
import type pg from 'pg';
import { Today } from './day.js';

/** Upper bounds (ms) of the gateway latency buckets; slower requests go to 'inf'. */
export const LATENCY_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000] as const;

/** The sign-in outcomes the login handler reports. */
export type LoginOutcome = 'success' | 'wrong_password' | 'locked' | 'mfa' | 'disabled';

const SEPARATOR = '\u0000';

export class DailyCounters {
  private pending = new Map<string, number>();
  private readonly today: Today;

  constructor(private readonly pool: pg.Pool, clock: () => number = Date.now) {
    this.today = new Today(clock);
  }

  add(metric: string, key: string, count = 1) {
    const id = `${this.today.get()}${SEPARATOR}${metric}${SEPARATOR}${key}`;
    this.pending.set(id, (this.pending.get(id) ?? 0) + count);
  }

  /** A sign-in decided: hub-wide by outcome, and per project when the sign-in is for one. */
  login(outcome: LoginOutcome, project?: string) {
    this.add('logins', outcome);
    if (project) this.add('project_logins', `${project}:${outcome}`);
  }

  /** A gateway request answered: by project and status class ('2xx'), and its latency bucket. */
  gatewayRequest(project: string, status: number, ms: number) {
    if (!project) return; // refused before a project was known: nothing to attribute it to
    this.add('gateway', `${project}:${Math.floor(status / 100)}xx`);
    if (status === 101) return; // a WebSocket's time is its whole connection, not a latency
    const bucket = LATENCY_BUCKETS_MS.find((bound) => ms <= bound);
    this.add('gateway_latency', `${project}:${bucket ?? 'inf'}`);
  }

  /** Adds what was counted since the last flush; on failure it is kept for the next one. */
  async flush() {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const days: string[] = []; const metrics: string[] = []; const keys: string[] = []; const counts: number[] = [];
    for (const [id, count] of batch) {
      const [day, metric, key] = id.split(SEPARATOR);
      days.push(day); metrics.push(metric); keys.push(key); counts.push(count);
    }
    try {
      await this.pool.query(`
        INSERT INTO daily_counts (day, metric, key, count)
        SELECT * FROM unnest($1::date[], $2::text[], $3::text[], $4::bigint[])
        ON CONFLICT (day, metric, key) DO UPDATE SET count = daily_counts.count + excluded.count`, [days, metrics, keys, counts]);
    } catch (error) {
      for (const [id, count] of batch) this.pending.set(id, (this.pending.get(id) ?? 0) + count);
      throw error;
    }
  }
}

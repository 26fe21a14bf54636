// The analytics statements read a month or a year of rows, which puts PostgreSQL's cost estimate
// above jit_above_cost: it JIT-compiled each of them on every call (~200 ms, more than the revenue
// query's own work of ~170 ms). Only these run with JIT off — each in a transaction of its own
// with SET LOCAL, so nothing leaks into the pooled connection (PgBouncer's transaction mode
// included); the hub's other statements are short and never reach the threshold.
import type pg from 'pg';

export interface AnalyticsSql {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export function withoutJit(pool: pg.Pool): AnalyticsSql {
  return {
    async query<R extends pg.QueryResultRow>(text: string, values?: unknown[]) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN; SET LOCAL jit = off');
        const result = await client.query<R>(text, values);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((failed: Error) => { broken = failed; });
        throw error;
      } finally {
        // A connection that could not even roll back is dropped, not reused.
        client.release(broken);
      }
    },
  };
}

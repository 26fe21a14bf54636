// The pg pool under a PrismaClient. Prisma's driver-adapter query engine (Wasm) costs about
// 1.5 ms of CPU per query on this machine against ~0.15 ms for the same statement sent with
// `pg` directly: the statements run on every sign-in (the oidc-provider adapter, the user, role
// and plan lookups) go straight to the pool that Prisma itself uses (src/db/database.ts builds
// it and hands it to PrismaPg). Callers that have the Database at hand pass `db.pool` instead.
import type pg from 'pg';
import type { PrismaClient } from '../generated/prisma/client.js';

const pools = new WeakMap<PrismaClient, pg.Pool>();

/** Records the pool a PrismaClient was built on (src/db/database.ts, the one place that builds one). */
export function registerSqlPool(prisma: PrismaClient, pool: pg.Pool): void {
  pools.set(prisma, pool);
}

export function sqlPoolOf(prisma: PrismaClient): pg.Pool {
  const pool = pools.get(prisma);
  if (!pool) throw new Error('this PrismaClient was not opened by openDatabase (src/db/database.ts): its pg pool is unknown');
  return pool;
}

/**
 * A Date as `timestamp(3)` (without time zone) takes it: Prisma stores UTC wall-clock digits, and
 * PostgreSQL ignores the offset of a timestamp literal for such a column, so the ISO form
 * (UTC, `Z`) stores the same digits whatever the process's time zone.
 */
export function sqlTimestamp(date: Date): string {
  return date.toISOString();
}

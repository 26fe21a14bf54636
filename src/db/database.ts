// Opens the one PostgreSQL database: a pg pool shared by Prisma (through its driver adapter),
// the migration runner, the rate limiter and LISTEN/NOTIFY.
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.js';
import type { Logger } from '../logger.js';
import { startEmbeddedPostgres } from './embedded.js';
import { migrate } from './migrate.js';
import { registerSqlPool } from '../accounts/sql-pool.js';

export type { PrismaClient };

export interface Database {
  prisma: PrismaClient;
  pool: pg.Pool;
  url: string;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl: string | undefined;
  dataDir: string;
  embeddedPgPort: number;
  poolSize?: number;
}

export async function openDatabase(options: DatabaseOptions, log: Logger): Promise<Database> {
  const embedded = options.databaseUrl
    ? undefined
    : await startEmbeddedPostgres(options.dataDir, options.embeddedPgPort, log);
  const url = options.databaseUrl ?? embedded!.url;

  const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10 });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', (error) => log.warn({ err: error.message }, 'idle database connection lost'));

  try {
    await migrate(pool, log);
  } catch (error) {
    await pool.end();
    await embedded?.stop();
    throw error;
  }

  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  registerSqlPool(prisma, pool);
  return {
    prisma,
    pool,
    url,
    async close() {
      await prisma.$disconnect();
      await pool.end().catch(() => {});
      await embedded?.stop();
    },
  };
}

// Creates the benchmark account in the hub's database through the hub's own library, so the
// password hash is exactly what sign-up would store (bcrypt cost 11).
// Run by bench/run.ts:  node --import tsx bench/create-user.ts
// Env: DATABASE_URL, DATA_DIR, BENCH_EMAIL, BENCH_PASSWORD.
import { openDatabase } from '../src/db/database.js';
import { Users } from '../src/accounts/users.js';
import { createLogger } from '../src/logger.js';

const { DATABASE_URL, DATA_DIR, BENCH_EMAIL, BENCH_PASSWORD } = process.env;
if (!DATABASE_URL || !DATA_DIR || !BENCH_EMAIL || !BENCH_PASSWORD) throw new Error('DATABASE_URL, DATA_DIR, BENCH_EMAIL and BENCH_PASSWORD are required');

const db = await openDatabase({ databaseUrl: DATABASE_URL, dataDir: DATA_DIR, embeddedPgPort: 0, poolSize: 1 }, createLogger('warn'));
try {
  const user = await new Users(db.prisma).create({ email: BENCH_EMAIL, password: BENCH_PASSWORD, fullName: 'Bench User' });
  process.stdout.write(`${user.id}\n`);
} finally {
  await db.close();
}

// What the mail tests share: fixture templates (the flows' own templates belong to their
// features), a quick retry schedule, and a queue of their own on a hub's database, for a hub
// that runs as a separate process.
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { openDatabase } from '../../src/db/database.js';
import { loadMasterKey } from '../../src/secrets/master-key.js';
import { SecretBox } from '../../src/secrets/box.js';
import { Mailer } from '../../src/mail/mailer.js';
import type { PrismaClient } from '../../src/generated/prisma/client.js';

export { eventually, sleep } from '../events/support.js';

export const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));

/** Fixture templates, and retries a second apart. */
export const MAIL_ENV = { MAIL_TEMPLATES_DIR: FIXTURES, MAIL_RETRY_SCHEDULE: '1s,1s,1s,1s,1s' };

/** A link as flows mail them: a token, and a query with `&` that must reach the reader intact. */
export const link = (issuer: string, token: string) => `${issuer}/account/verify?token=${token}&next=%2Faccount`;

/** A Mailer on the database and master key of a hub described by `env` (its DATA_DIR). */
export async function openQueue(env: Record<string, string>): Promise<{ mailer: Mailer; prisma: PrismaClient; close(): Promise<void> }> {
  const config = loadConfig(env);
  const db = await openDatabase({ ...config, poolSize: 4 }, createLogger('silent'));
  const box = new SecretBox(await loadMasterKey(config.masterKey, config.dataDir));
  return { mailer: new Mailer(db.prisma, box), prisma: db.prisma, close: () => db.close() };
}

export const rowsTo = (prisma: PrismaClient, to: string) => prisma.mailMessage.findMany({ where: { to }, orderBy: { createdAt: 'asc' } });

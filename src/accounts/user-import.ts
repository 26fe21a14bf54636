// `nexus users import`: users from another system, with their bcrypt hashes, names, avatars,
// verified flags and project roles. The whole file is read and checked before anything is
// written (a file that cannot be read imports nothing); then the good rows are written in
// batches, each one transaction with its events. Idempotent by email: a user who exists is left
// as they are, except that project roles from the file they have no grant in are added.
import type { Prisma, PrismaClient, User } from '../generated/prisma/client.js';
import { HUB_AUDIENCE } from '../clients/definition.js';
import { HubEvents, userData, type Actor, type EventPublisher } from './identity-events.js';
import { accessEvent } from './access.js';
import { sqlPoolOf } from './sql-pool.js';
import { looksLikeJson, readSourceFile } from './user-import-file.js';
import { checkRows, type ImportFormat, type ImportUser, type RejectedRow } from './user-import-rows.js';

export { IMPORT_FORMATS, type ImportFormat } from './user-import-rows.js';
export { ImportFileError } from './user-import-file.js';

// Rows per transaction: 10,000 users are ten statements of each kind, and a batch holds its
// rows' locks (parallel imports of one file wait on each other's batches) for well under a second.
const BATCH = 1000;
// A batch may wait for another import's batch of the same addresses.
const BATCH_TIMEOUT_MS = 60_000;

export interface ImportReport {
  file: string;
  format: ImportFormat;
  dryRun: boolean;
  /** Rows read from the file. */
  rows: number;
  /** Users created (in a dry run: that would be). */
  created: number;
  /** Of those, created without a password (they set one through password reset) and created disabled. */
  withoutPassword: number;
  disabled: number;
  /** Rows whose address already had an account: left as they are. */
  existing: number;
  /** Project roles given to those existing users (only in projects where they had no grant). */
  rolesAdded: number;
  rejected: RejectedRow[];
}

interface Outcome {
  created: ImportUser[];
  existing: number;
  rolesAdded: number;
}

export class UserImporter {
  private readonly events: HubEvents;

  constructor(private readonly prisma: PrismaClient, publisher?: EventPublisher) {
    this.events = new HubEvents(prisma, publisher);
  }

  /**
   * Imports `file`. `projects`: the registered projects (roles may name any but the hub's own);
   * `dryRun`: checks and counts, writes nothing. Throws ImportFileError when the file cannot be read.
   */
  async importFile(file: string, format: ImportFormat, options: { projects: Array<{ id: string; audience: string }>; dryRun: boolean; actor: Actor }): Promise<ImportReport> {
    const container = format === 'supabase' ? ((await looksLikeJson(file)) ? 'json' : 'csv') : format;
    const source = await readSourceFile(file, container);
    const hubProject = options.projects.find((project) => project.audience === HUB_AUDIENCE)?.id;
    const { users, rejected } = checkRows(source, format, { projects: new Set(options.projects.map((project) => project.id)), hubProject });
    const outcome = options.dryRun ? await this.preview(users) : await this.write(users, options.actor);
    return {
      file, format, dryRun: options.dryRun, rows: source.records.length,
      created: outcome.created.length,
      withoutPassword: outcome.created.filter((user) => !user.passwordHash).length,
      disabled: outcome.created.filter((user) => user.disabled).length,
      existing: outcome.existing, rolesAdded: outcome.rolesAdded, rejected,
    };
  }

  private async write(users: ImportUser[], actor: Actor): Promise<Outcome> {
    const outcome: Outcome = { created: [], existing: 0, rolesAdded: 0 };
    for (const batch of batches(users)) {
      await this.prisma.$transaction(async (tx) => {
        const created = await insertUsers(tx, batch);
        const ids = new Map(created.map((user) => [user.email, user.id]));
        const newIds = new Set(ids.values());
        const existing = batch.filter((user) => !ids.has(user.email));
        if (existing.length) {
          const found = await tx.$queryRaw<Array<{ id: string; email: string }>>`
            SELECT id::text, email FROM users WHERE email = ANY(${existing.map((user) => user.email)}::text[])`;
          for (const user of found) ids.set(user.email, user.id);
        }
        const grants = batch.flatMap((user) => {
          const userId = ids.get(user.email);
          return userId ? user.roles.map(({ project, role }) => ({ userId, project, role })) : [];
        }).sort((a, b) => compare(`${a.userId} ${a.project}`, `${b.userId} ${b.project}`));
        const granted = await insertGrants(tx, grants);
        await this.events.inTransaction(tx, actor, [
          ...created.map((user) => ({ type: 'user.created', subject: user.id, data: userData(user) })),
          ...granted.map((grant) => accessEvent('access.granted', grant.userId, { project: grant.project, role: grant.role, source: grant.source })),
        ]);
        const createdEmails = new Set(created.map((user) => user.email));
        outcome.created.push(...batch.filter((user) => createdEmails.has(user.email)));
        outcome.existing += existing.length;
        outcome.rolesAdded += granted.filter((grant) => !newIds.has(grant.userId)).length;
      }, { timeout: BATCH_TIMEOUT_MS });
    }
    return outcome;
  }

  /** What write() would do, read without a transaction: nothing is locked or written. */
  private async preview(users: ImportUser[]): Promise<Outcome> {
    const outcome: Outcome = { created: [], existing: 0, rolesAdded: 0 };
    for (const batch of batches(users)) {
      const { rows } = await sqlPoolOf(this.prisma).query<{ email: string; projects: string[] }>(
        `SELECT u.email, coalesce(array_agg(a.project) FILTER (WHERE a.project IS NOT NULL), '{}') AS projects
         FROM users u LEFT JOIN project_access a ON a.user_id = u.id WHERE u.email = ANY($1::text[]) GROUP BY u.email`,
        [batch.map((user) => user.email)],
      );
      const existing = new Map(rows.map((row) => [row.email, new Set(row.projects)]));
      for (const user of batch) {
        const projects = existing.get(user.email);
        if (!projects) outcome.created.push(user);
        else outcome.existing++, outcome.rolesAdded += user.roles.filter(({ project }) => !projects.has(project)).length;
      }
    }
    return outcome;
  }
}

// The inserts are plain SQL over arrays: Prisma's createMany spends ~15 times the statement's own
// time building and reading 1,000 rows (see sql-pool.ts). Timestamps are UTC `timestamp(3)`, as
// Prisma writes them.

/**
 * The batch's new users, in the batch's order. ON CONFLICT DO NOTHING: an address registered
 * meanwhile, by a sign-up or a parallel import, waits for that transaction and is then left alone.
 */
function insertUsers(tx: Prisma.TransactionClient, batch: ImportUser[]): Promise<User[]> {
  const column = <T>(pick: (user: ImportUser) => T) => batch.map(pick);
  return tx.$queryRaw<User[]>`
    INSERT INTO users (id, email, password_hash, full_name, avatar_url, email_verified, disabled_at, created_at, updated_at)
    SELECT gen_random_uuid(), r.email, r.hash, r.name, r.avatar, r.verified,
      CASE WHEN r.disabled THEN now() AT TIME ZONE 'UTC' END, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
    FROM unnest(${column((u) => u.email)}::text[], ${column((u) => u.passwordHash)}::text[], ${column((u) => u.fullName)}::text[],
      ${column((u) => u.avatarUrl)}::text[], ${column((u) => u.emailVerified)}::boolean[], ${column((u) => u.disabled)}::boolean[])
      WITH ORDINALITY AS r(email, hash, name, avatar, verified, disabled, n)
    ORDER BY r.n
    ON CONFLICT (email) DO NOTHING
    RETURNING id::text, email, password_hash AS "passwordHash", email_verified AS "emailVerified", full_name AS "fullName",
      avatar_url AS "avatarUrl", disabled_at AS "disabledAt", created_at AS "createdAt", updated_at AS "updatedAt"`;
}

/** The grants made. A grant already in force is never changed: whoever made it chose that role. */
function insertGrants(tx: Prisma.TransactionClient, grants: Array<{ userId: string; project: string; role: string }>) {
  if (!grants.length) return Promise.resolve([]);
  return tx.$queryRaw<Array<{ userId: string; project: string; role: string; source: string }>>`
    INSERT INTO project_access (user_id, project, role, source, granted_at)
    SELECT g.user_id, g.project, g.role::"ProjectRole", 'admin', now() AT TIME ZONE 'UTC'
    FROM unnest(${grants.map((g) => g.userId)}::uuid[], ${grants.map((g) => g.project)}::text[], ${grants.map((g) => g.role)}::text[])
      WITH ORDINALITY AS g(user_id, project, role, n)
    ORDER BY g.n
    ON CONFLICT (user_id, project) DO NOTHING
    RETURNING user_id::text AS "userId", project, role::text AS role, source`;
}

/**
 * Batches in address order (and grants in key order): transactions that take the same rows' locks
 * take them in one order, so parallel imports wait for each other instead of deadlocking.
 */
function* batches(users: ImportUser[]): Generator<ImportUser[]> {
  for (let start = 0; start < users.length; start += BATCH) {
    yield users.slice(start, start + BATCH).sort((a, b) => compare(a.email, b.email));
  }
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

// Who may use which project, and with what role (project_access). Open projects admit every
// signed-up user with the project's default role; granted projects need an explicit row.
import type { Prisma, PrismaClient } from '../generated/prisma/client.js';
import { ROLES, type Role } from '../clients/definition.js';
import { sqlPoolOf } from './sql-pool.js';
import { HubEvents, SYSTEM_ACTOR, type Actor, type EventPublisher } from './identity-events.js';

export interface ProjectPolicy {
  id: string;
  access: 'open' | 'granted';
  defaultRole: Role;
}

/** Who made a grant: an administrator, or a billing plan (plan grants follow the plan). */
export type GrantSource = 'admin' | 'plan';

/** A user's row in a project: the role, and who granted it (`source`, a GrantSource). */
export interface ProjectGrant {
  role: Role;
  source: string;
}

export interface AccessEntry {
  userId: string;
  email: string;
  project: string;
  role: Role;
  source: GrantSource;
  grantedAt: Date;
}

export class AccessError extends Error {
  constructor(readonly code: 'invalid_role' | 'not_found', message: string) {
    super(message);
    this.name = 'AccessError';
  }
}

/** `access.granted` / `access.revoked`: what a receiver needs of a grant. */
export const accessEvent = (type: 'access.granted' | 'access.revoked', userId: string, data: { project: string; role: string; source: string } & Record<string, unknown>) =>
  ({ type, subject: userId, data });

export class ProjectAccess {
  private readonly events: HubEvents;

  constructor(private readonly prisma: PrismaClient, publisher?: EventPublisher) {
    this.events = new HubEvents(prisma, publisher);
  }

  /** The user's grant in a project, if any: plain SQL, as every token issuance asks (see sql-pool.ts). */
  async grantOf(userId: string, project: string): Promise<ProjectGrant | undefined> {
    const { rows } = await sqlPoolOf(this.prisma).query<ProjectGrant>(
      'SELECT role::text AS role, source FROM project_access WHERE user_id = $1 AND project = $2',
      [userId, project],
    );
    return rows[0];
  }

  /**
   * The user's role in the project, or undefined when they may not use it. `grant`: the user's
   * grant there when the caller has read it already (see src/oidc/user-lookups.ts).
   */
  async roleFor(userId: string, project: ProjectPolicy, grant: Promise<ProjectGrant | undefined> = this.grantOf(userId, project.id)): Promise<Role | undefined> {
    const row = await grant;
    if (row) return row.role;
    return project.access === 'open' ? project.defaultRole : undefined;
  }

  /** Whether an administrator (not a plan) gave the user access to the project. `grant`: as roleFor. */
  async hasAdminGrant(userId: string, project: string, grant: Promise<ProjectGrant | undefined> = this.grantOf(userId, project)): Promise<boolean> {
    const row = await grant;
    return row?.source === 'admin';
  }

  /**
   * Gives the user `role` in the project. One `access.granted` per real change: a new grant, or
   * another role or source (with the previous ones); granting what is already in force changes
   * nothing. Concurrent grants and revokes of one access take turns on its row.
   */
  async grant(userId: string, project: string, role: string, source: GrantSource = 'admin', actor: Actor = SYSTEM_ACTOR): Promise<AccessEntry> {
    if (!(ROLES as readonly string[]).includes(role)) throw new AccessError('invalid_role', `role must be one of ${ROLES.join(', ')}`);
    return this.prisma.$transaction(async (tx) => {
      const change = await grantRow(tx, userId, project, role as Role, source);
      if (change) await this.events.inTransaction(tx, actor, [accessEvent('access.granted', userId, { project, role, source, ...change })]);
      const row = await tx.projectAccess.findUniqueOrThrow({ where: { userId_project: { userId, project } }, include: { user: { select: { email: true } } } });
      return { userId, email: row.user.email, project, role: row.role, source: row.source as GrantSource, grantedAt: row.grantedAt };
    });
  }

  /**
   * Removes a grant. `access.revoked` is published while the row still exists, in the same
   * transaction, so the project's own endpoints (which see only users it admits) are told too.
   * Returns false when there was none.
   */
  async revoke(userId: string, project: string, actor: Actor = SYSTEM_ACTOR): Promise<boolean> {
    return this.prisma.$transaction(async (tx) => {
      // Concurrent revokes wait here; the ones after the first find no row.
      const [row] = await tx.$queryRaw<ProjectGrant[]>`
        SELECT role::text AS role, source FROM project_access WHERE user_id = ${userId}::uuid AND project = ${project} FOR UPDATE`;
      if (!row) return false;
      await this.events.inTransaction(tx, actor, [accessEvent('access.revoked', userId, { project, role: row.role, source: row.source })]);
      await tx.$executeRaw`DELETE FROM project_access WHERE user_id = ${userId}::uuid AND project = ${project}`;
      return true;
    });
  }

  async list(filter: { userId?: string; project?: string } = {}): Promise<AccessEntry[]> {
    const rows = await this.prisma.projectAccess.findMany({
      where: filter,
      include: { user: { select: { email: true } } },
      orderBy: [{ project: 'asc' }, { grantedAt: 'asc' }],
    });
    return rows.map((row) => ({
      userId: row.userId, email: row.user.email, project: row.project, role: row.role, source: row.source as GrantSource, grantedAt: row.grantedAt,
    }));
  }
}

/**
 * Makes (userId, project) hold `role` from `source`; what it replaced, or undefined when that
 * was in force already. The insert waits for a concurrent writer of the row; an existing row is
 * locked before it is compared, so each caller sees the changes before its own.
 */
async function grantRow(tx: Prisma.TransactionClient, userId: string, project: string, role: Role, source: string): Promise<{ previousRole?: string; previousSource?: string } | undefined> {
  // granted_at is a UTC timestamp without time zone (as Prisma writes it).
  for (;;) {
    const inserted = await tx.$queryRaw<unknown[]>`
      INSERT INTO project_access (user_id, project, role, source, granted_at)
      VALUES (${userId}::uuid, ${project}, ${role}::"ProjectRole", ${source}, now() AT TIME ZONE 'UTC')
      ON CONFLICT (user_id, project) DO NOTHING RETURNING 1`;
    if (inserted.length) return {};
    const [current] = await tx.$queryRaw<ProjectGrant[]>`
      SELECT role::text AS role, source FROM project_access WHERE user_id = ${userId}::uuid AND project = ${project} FOR UPDATE`;
    // Revoked between the two statements: insert again.
    if (!current) continue;
    if (current.role === role && current.source === source) return undefined;
    await tx.$executeRaw`
      UPDATE project_access SET role = ${role}::"ProjectRole", source = ${source}, granted_at = now() AT TIME ZONE 'UTC'
      WHERE user_id = ${userId}::uuid AND project = ${project}`;
    return { previousRole: current.role, previousSource: current.source };
  }
}

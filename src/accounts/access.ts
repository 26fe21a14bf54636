// Who may use which project, and with what role (project_access). Open projects admit every
// signed-up user with the project's default role; granted projects need an explicit row.
import type { PrismaClient } from '../generated/prisma/client.js';
import { ROLES, type Role } from '../clients/definition.js';
import { sqlPoolOf } from './sql-pool.js';

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

export class ProjectAccess {
  constructor(private readonly prisma: PrismaClient) {}

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

  async grant(userId: string, project: string, role: string, source: GrantSource = 'admin'): Promise<AccessEntry> {
    if (!(ROLES as readonly string[]).includes(role)) throw new AccessError('invalid_role', `role must be one of ${ROLES.join(', ')}`);
    const row = await this.prisma.projectAccess.upsert({
      where: { userId_project: { userId, project } },
      create: { userId, project, role: role as Role, source },
      update: { role: role as Role, source, grantedAt: new Date() },
      include: { user: { select: { email: true } } },
    });
    return { userId, email: row.user.email, project, role: row.role, source: row.source as GrantSource, grantedAt: row.grantedAt };
  }

  /** Removes a grant. Returns false when there was none. */
  async revoke(userId: string, project: string): Promise<boolean> {
    const { count } = await this.prisma.projectAccess.deleteMany({ where: { userId, project } });
    return count > 0;
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

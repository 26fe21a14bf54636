// Who may use which project, and with what role (project_access). Open projects admit every
// signed-up user with the project's default role; granted projects need an explicit row.
import type { PrismaClient } from '../generated/prisma/client.js';
import type { Role } from '../clients/definition.js';

export interface ProjectPolicy {
  id: string;
  access: 'open' | 'granted';
  defaultRole: Role;
}

export class ProjectAccess {
  constructor(private readonly prisma: PrismaClient) {}

  /** The user's role in the project, or undefined when they may not use it. */
  async roleFor(userId: string, project: ProjectPolicy): Promise<Role | undefined> {
    const row = await this.prisma.projectAccess.findUnique({ where: { userId_project: { userId, project: project.id } } });
    if (row) return row.role;
    return project.access === 'open' ? project.defaultRole : undefined;
  }
}

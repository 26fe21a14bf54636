// nexus access ...
import { ROLES } from '../../clients/definition.js';
import { CLI_ACTOR } from '../../admin/operations.js';
import { optionalString, requireString, table, UsageError, type CommandGroup } from '../command.js';

export const access: CommandGroup = {
  summary: 'who may sign in to which project, with which role',
  commands: {
    grant: {
      summary: 'give a user a role in a project',
      usage: `--email E --project P --role ${ROLES.join('|')}`,
      options: { email: { type: 'string' }, project: { type: 'string' }, role: { type: 'string' } },
      async run(ctx, values) {
        const entry = await ctx.ops.grantAccess(requireString(values, 'email'), requireString(values, 'project'), requireString(values, 'role'), CLI_ACTOR);
        return { data: entry, text: `${entry.email} is now ${entry.role} in ${entry.project}.` };
      },
    },
    revoke: {
      summary: "remove a user's grant for a project (effective at their next token or refresh)",
      usage: '--email E --project P',
      options: { email: { type: 'string' }, project: { type: 'string' } },
      async run(ctx, values) {
        const result = await ctx.ops.revokeAccess(requireString(values, 'email'), requireString(values, 'project'), CLI_ACTOR);
        return { data: result, text: `Revoked ${result.email}'s access to ${result.project}.` };
      },
    },
    list: {
      summary: 'list grants',
      usage: '[--email E | --project P]',
      options: { email: { type: 'string' }, project: { type: 'string' } },
      async run(ctx, values) {
        const email = optionalString(values, 'email');
        const project = optionalString(values, 'project');
        if (email && project) throw new UsageError('use either --email or --project');
        const entries = await ctx.ops.listAccess({ email, project });
        return { data: entries, text: table(entries as unknown as Array<Record<string, unknown>>, ['email', 'project', 'role', 'source', 'grantedAt']) };
      },
    },
  },
};

// nexus users ...
import { CLI_ACTOR, publicUser } from '../../admin/operations.js';
import { optionalString, requireString, table, UsageError, type CommandGroup, type Values } from '../command.js';
import type { CliContext } from '../context.js';
import { confirm } from '../confirm.js';

/** The password from --password, --password-stdin, or nothing (an account without password). */
async function passwordFrom(ctx: CliContext, values: Values, required: boolean): Promise<string | undefined> {
  const given = optionalString(values, 'password');
  if (given !== undefined && values['password-stdin']) throw new UsageError('use either --password or --password-stdin');
  if (given !== undefined) return given;
  if (values['password-stdin']) {
    const line = (await ctx.stdin()).replace(/\r?\n$/, '');
    if (!line) throw new UsageError('--password-stdin read an empty password');
    return line;
  }
  if (required) throw new UsageError('give the password with --password P or --password-stdin');
  return undefined;
}

export const users: CommandGroup = {
  summary: 'user accounts',
  commands: {
    create: {
      summary: 'create a user',
      usage: '--email E [--password P | --password-stdin] [--name N] [--admin]',
      options: { email: { type: 'string' }, password: { type: 'string' }, 'password-stdin': { type: 'boolean' }, name: { type: 'string' }, admin: { type: 'boolean' } },
      async run(ctx, values) {
        const email = requireString(values, 'email');
        const password = await passwordFrom(ctx, values, false);
        const user = await ctx.ops.createUser({ email, password, name: optionalString(values, 'name'), admin: Boolean(values.admin) }, CLI_ACTOR);
        return {
          data: { ...publicUser(user), admin: Boolean(values.admin) },
          text: `Created user ${user.email} (${user.id})${values.admin ? ' with the hub admin role' : ''}.${password ? '' : ' It has no password yet: run `nexus users set-password`.'}`,
        };
      },
    },
    list: {
      summary: 'list users',
      usage: '[--search S]',
      options: { search: { type: 'string' } },
      async run(ctx, values) {
        const found = await ctx.ops.listUsers(optionalString(values, 'search'));
        const rows = found.map((u) => ({ email: u.email, name: u.fullName, id: u.id, status: u.disabledAt ? 'disabled' : 'active', created: u.createdAt }));
        return { data: found.map(publicUser), text: table(rows, ['email', 'name', 'id', 'status', 'created']) };
      },
    },
    show: {
      summary: 'show a user, their project access and API keys',
      usage: 'EMAIL',
      args: ['EMAIL'],
      async run(ctx, _values, [email]) {
        const { user, access, apiKeys: keys } = await ctx.ops.getUser(email);
        const text = [
          `email:    ${user.email}`,
          `name:     ${user.fullName ?? '-'}`,
          `id:       ${user.id}`,
          `status:   ${user.disabledAt ? `disabled since ${user.disabledAt.toISOString()}` : 'active'}`,
          `created:  ${user.createdAt.toISOString()}`,
          `access:   ${access.map((a) => `${a.project}=${a.role}`).join(', ') || '(open projects only)'}`,
          `API keys: ${keys.filter((k) => !k.revokedAt).length} active`,
        ].join('\n');
        return { data: { ...publicUser(user), access, apiKeys: keys }, text };
      },
    },
    disable: {
      summary: 'disable a user: ends their sessions and revokes their grants and refresh tokens',
      usage: 'EMAIL',
      args: ['EMAIL'],
      async run(ctx, _values, [email]) {
        const user = await ctx.ops.disableUser(email, CLI_ACTOR);
        return { data: publicUser(user), text: `Disabled ${user.email}; their sessions and refresh tokens are revoked.` };
      },
    },
    enable: {
      summary: 'enable a disabled user',
      usage: 'EMAIL',
      args: ['EMAIL'],
      async run(ctx, _values, [email]) {
        const user = await ctx.ops.enableUser(email, CLI_ACTOR);
        return { data: publicUser(user), text: `Enabled ${user.email}.` };
      },
    },
    'set-password': {
      summary: "set a user's password (signs them out everywhere)",
      usage: 'EMAIL (--password P | --password-stdin)',
      args: ['EMAIL'],
      options: { password: { type: 'string' }, 'password-stdin': { type: 'boolean' } },
      async run(ctx, values, [email]) {
        const password = (await passwordFrom(ctx, values, true))!;
        const user = await ctx.ops.setPassword(email, password, CLI_ACTOR);
        return { data: publicUser(user), text: `Password set for ${user.email}; their sessions were ended.` };
      },
    },
    delete: {
      summary: 'delete a user and everything they own',
      usage: 'EMAIL --yes',
      args: ['EMAIL'],
      options: { yes: { type: 'boolean' } },
      async run(ctx, values, [email]) {
        const { user } = await ctx.ops.getUser(email);
        await confirm(ctx, values, `Delete ${user.email} with their access grants and API keys?`);
        await ctx.ops.deleteUser(email, CLI_ACTOR);
        return { data: { email: user.email, id: user.id, deleted: true }, text: `Deleted ${user.email}.` };
      },
    },
  },
};

// nexus users ...
import path from 'node:path';
import { CLI_ACTOR, publicUser } from '../../admin/operations.js';
import { IMPORT_FORMATS, ImportFileError, type ImportFormat, type ImportReport } from '../../accounts/user-import.js';
import { CliError, optionalString, requireString, table, UsageError, type CommandGroup, type Values } from '../command.js';
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

/** --format, or the one the file's name implies (a Supabase export must be named with --format). */
function importFormat(values: Values, file: string): ImportFormat {
  const given = optionalString(values, 'format');
  if (given !== undefined) {
    if (!(IMPORT_FORMATS as readonly string[]).includes(given)) throw new UsageError(`--format must be one of ${IMPORT_FORMATS.join(', ')}, not ${JSON.stringify(given)}`);
    return given as ImportFormat;
  }
  const extension = path.extname(file).slice(1).toLowerCase();
  if (extension === 'json' || extension === 'csv') return extension;
  throw new UsageError(`cannot tell the format of ${file} from its name: give --format ${IMPORT_FORMATS.join('|')}`);
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

function importText(report: ImportReport): string {
  const { dryRun } = report;
  const notes = [
    ...(report.withoutPassword ? [`${report.withoutPassword} without a password: they set one through password reset`] : []),
    ...(report.disabled ? [`${report.disabled} disabled: banned in the source`] : []),
  ];
  const roles = report.rolesAdded ? ` (${count(report.rolesAdded, 'missing project role')} ${dryRun ? 'to add' : 'added'})` : '';
  const line = (label: string, value: string) => `${label}:`.padEnd(11) + value;
  return [
    dryRun ? `Dry run of ${report.file} (${count(report.rows, 'row')}, ${report.format}); nothing was written.` : `Imported ${report.file} (${count(report.rows, 'row')}, ${report.format}).`,
    line(dryRun ? 'to create' : 'created', `${report.created}${notes.length ? ` (${notes.join('; ')})` : ''}`),
    line('existing', `${report.existing}, left as they are${roles}`),
    line('rejected', `${report.rejected.length}${report.rejected.length ? ' (listed on standard error)' : ''}`),
  ].join('\n');
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
          `2-step:   ${[user.hasTotp ? 'authenticator app' : '', user.hasPasskeys ? 'passkeys' : ''].filter(Boolean).join(', ') || 'off (password only)'}`,
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
    'reset-mfa': {
      summary: "remove a user's second factors (authenticator app, recovery codes, passkeys); the user is told by mail",
      usage: 'EMAIL',
      args: ['EMAIL'],
      async run(ctx, _values, [email]) {
        const { user, removed } = await ctx.ops.resetMfa(email, CLI_ACTOR);
        const what = [removed.totp ? 'authenticator app' : '', removed.recoveryCodes ? `${removed.recoveryCodes} recovery code(s)` : '', removed.passkeys ? `${removed.passkeys} passkey(s)` : ''].filter(Boolean);
        return { data: { email: user.email, ...removed }, text: `Second factors of ${user.email} reset (${what.join(', ') || 'none were set up'}); they were told by mail.` };
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
    import: {
      summary: 'import users from another system (JSON, CSV or a Supabase auth.users export) with their bcrypt password hashes',
      usage: '--file F [--format json|csv|supabase] [--dry-run]',
      options: { file: { type: 'string' }, format: { type: 'string' }, 'dry-run': { type: 'boolean' } },
      async run(ctx, values) {
        const file = requireString(values, 'file');
        const format = importFormat(values, file);
        const dryRun = Boolean(values['dry-run']);
        let report: ImportReport;
        try {
          report = await ctx.userImport.importFile(file, format, { projects: await ctx.ops.listClients(), dryRun, actor: CLI_ACTOR });
        } catch (error) {
          if (error instanceof ImportFileError) throw new CliError(`cannot import ${file}: ${error.message}`, 'invalid_file');
          throw error;
        }
        const { rejected } = report;
        return {
          data: report,
          text: importText(report),
          ...(rejected.length ? {
            incomplete: {
              lines: rejected.map((row) => `line ${row.line} (${row.email}): ${row.reason}`),
              summary: `${rejected.length} of ${count(report.rows, 'row')} rejected; ${dryRun ? 'nothing was written (dry run)' : 'the other rows were imported'}`,
            },
          } : {}),
        };
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

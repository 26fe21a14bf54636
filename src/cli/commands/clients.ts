// nexus clients ...
import type { RegisteredClient } from '../../clients/registry.js';
import { CLI_ACTOR } from '../../admin/operations.js';
import { list, optionalString, requireString, table, UsageError, type CommandGroup, type Values } from '../command.js';
import { confirm } from '../confirm.js';

const DEFINITION_OPTIONS = {
  name: { type: 'string' },
  'redirect-uri': { type: 'string', multiple: true },
  'post-logout-uri': { type: 'string', multiple: true },
  grant: { type: 'string', multiple: true },
  scope: { type: 'string', multiple: true },
  audience: { type: 'string' },
  access: { type: 'string' },
  'default-role': { type: 'string' },
  pkce: { type: 'string' },
  upstream: { type: 'string' },
  'first-party': { type: 'boolean' },
  publishes: { type: 'string' },
  'require-verified-email': { type: 'boolean' },
  'require-mfa': { type: 'boolean' },
  'backchannel-logout-uri': { type: 'string' },
  'backchannel-logout-session-required': { type: 'boolean' },
} as const;

/** The definition fields the flags set (only those given). */
function definitionFromFlags(values: Values) {
  const fields: Record<string, unknown> = {};
  const set = (key: string, value: unknown) => { if (value !== undefined) fields[key] = value; };
  set('name', optionalString(values, 'name'));
  set('redirectUris', list(values, 'redirect-uri'));
  set('postLogoutRedirectUris', list(values, 'post-logout-uri'));
  set('grantTypes', list(values, 'grant'));
  set('scopes', list(values, 'scope'));
  set('audience', optionalString(values, 'audience'));
  set('access', optionalString(values, 'access'));
  set('defaultRole', optionalString(values, 'default-role'));
  set('pkce', optionalString(values, 'pkce'));
  // Comma-separated, like `webhooks add --events`; `--publishes ''` publishes nothing.
  if (typeof values.publishes === 'string') fields.publishes = values.publishes.split(',').map((type) => type.trim()).filter(Boolean);
  // `--upstream ''` takes the project out of the gateway.
  if (typeof values.upstream === 'string') fields.upstream = values.upstream.trim() === '' ? null : values.upstream;
  if (values['first-party']) fields.firstParty = true;
  if (values['third-party']) fields.firstParty = false;
  if (values.public) fields.public = true;
  if (values.confidential) fields.public = false;
  if (values['require-verified-email']) fields.requireVerifiedEmail = true;
  if (values['allow-unverified-email']) fields.requireVerifiedEmail = false;
  if (values['require-mfa']) fields.requireMfa = true;
  if (values['no-require-mfa']) fields.requireMfa = false;
  // `--backchannel-logout-uri ''` stops the logout tokens.
  if (typeof values['backchannel-logout-uri'] === 'string') fields.backchannelLogoutUri = values['backchannel-logout-uri'].trim() === '' ? null : values['backchannel-logout-uri'];
  if (values['backchannel-logout-session-required']) fields.backchannelLogoutSessionRequired = true;
  if (values['backchannel-logout-session-optional']) fields.backchannelLogoutSessionRequired = false;
  return fields;
}

function describe(client: RegisteredClient) {
  return [
    `id:            ${client.id}`,
    `name:          ${client.name}`,
    `type:          ${client.public ? 'public (PKCE, no secret)' : 'confidential'}${client.firstParty ? ', first-party' : ''}`,
    `pkce:          ${client.pkce === 'optional' ? 'optional (weaker: a code is protected by the secret alone)' : 'required (S256)'}`,
    `enabled:       ${client.enabled}`,
    `audience:      ${client.audience}`,
    `access:        ${client.access} (default role ${client.defaultRole})`,
    `grant types:   ${client.grantTypes.join(', ')}`,
    `scopes:        ${client.scopes.join(' ') || '-'}`,
    `redirect URIs: ${client.redirectUris.join(' ') || '-'}`,
    `logout URIs:   ${client.postLogoutRedirectUris.join(' ') || '-'}`,
    `upstream:      ${client.upstream ?? '- (not behind the gateway)'}`,
    `publishes:     ${client.publishes.join(', ') || '- (other projects receive none of its events)'}`,
    `verified:      ${client.requireVerifiedEmail ? 'email required before a code (requireVerifiedEmail)' : 'not required'}`,
    `second factor: ${client.requireMfa ? 'required before a code (requireMfa)' : 'not required'}`,
    `logout:        ${client.backchannelLogoutUri ? `${client.backchannelLogoutUri}${client.backchannelLogoutSessionRequired ? ' (sid required)' : ''}` : '- (no back-channel logout)'}`,
    ...(client.rotationGraceUntil ? [`old secret:    works until ${client.rotationGraceUntil.toISOString()}`] : []),
  ].join('\n');
}

const secretNotice = (id: string, secret: string) =>
  `Client secret for ${id} (shown once, store it now):\n${secret}`;

export const clients: CommandGroup = {
  summary: 'registered projects (OAuth clients)',
  commands: {
    list: {
      summary: 'list registered clients',
      usage: '',
      async run(ctx) {
        const all = await ctx.ops.listClients();
        const rows = all.map((c) => ({ id: c.id, name: c.name, type: c.public ? 'public' : 'confidential', firstParty: c.firstParty, access: c.access, enabled: c.enabled }));
        return { data: all, text: table(rows, ['id', 'name', 'type', 'firstParty', 'access', 'enabled']) };
      },
    },
    show: {
      summary: 'show one client',
      usage: 'ID',
      args: ['ID'],
      async run(ctx, _values, [id]) {
        const client = await ctx.ops.getClient(id);
        return { data: client, text: describe(client) };
      },
    },
    add: {
      summary: 'register a project; prints its secret once',
      usage: '--id ID --name NAME --redirect-uri URL... [--post-logout-uri URL...] [--public] [--grant TYPE...] [--first-party] [--scope S...] [--audience URI] [--access open|granted] [--default-role ROLE] [--pkce required|optional] [--upstream URL] [--publishes deal.won,lead.qualified] [--require-verified-email] [--require-mfa] [--backchannel-logout-uri URL [--backchannel-logout-session-required]]',
      options: { ...DEFINITION_OPTIONS, id: { type: 'string' }, public: { type: 'boolean' } },
      async run(ctx, values) {
        const id = requireString(values, 'id');
        requireString(values, 'name');
        const { client, secret } = await ctx.ops.addClient({ id, ...definitionFromFlags(values) }, CLI_ACTOR);
        return {
          data: { client, secret: secret ?? null },
          text: `Added client ${client.id}.${secret ? `\n${secretNotice(client.id, secret)}` : ' It is public: it has no secret.'}`,
        };
      },
    },
    update: {
      summary: 'change a client (only the flags given)',
      usage: 'ID [--name NAME] [--redirect-uri URL...] [--post-logout-uri URL...] [--grant TYPE...] [--scope S...] [--public|--confidential] [--first-party|--third-party] [--audience URI] [--access open|granted] [--default-role ROLE] [--pkce required|optional] [--upstream URL] [--publishes deal.won,lead.qualified] [--require-verified-email|--allow-unverified-email] [--require-mfa|--no-require-mfa] [--backchannel-logout-uri URL] [--backchannel-logout-session-required|--backchannel-logout-session-optional]',
      args: ['ID'],
      options: { ...DEFINITION_OPTIONS, public: { type: 'boolean' }, confidential: { type: 'boolean' }, 'third-party': { type: 'boolean' }, 'allow-unverified-email': { type: 'boolean' }, 'no-require-mfa': { type: 'boolean' }, 'backchannel-logout-session-optional': { type: 'boolean' } },
      async run(ctx, values, [id]) {
        const changes = definitionFromFlags(values);
        if (Object.keys(changes).length === 0) throw new UsageError('nothing to change: give at least one flag');
        const { client, secret } = await ctx.ops.updateClient(id, changes, CLI_ACTOR);
        return { data: { client, secret: secret ?? null }, text: `Updated client ${id}.${secret ? `\n${secretNotice(id, secret)}` : ''}` };
      },
    },
    'rotate-secret': {
      summary: 'replace a client secret; prints the new one once (--grace: the old one keeps working that long)',
      usage: 'ID [--grace 0|30m|24h|7d]',
      args: ['ID'],
      options: { grace: { type: 'string' } },
      async run(ctx, values, [id]) {
        const rotated = await ctx.ops.rotateClientSecret(id, CLI_ACTOR, optionalString(values, 'grace'));
        const old = rotated.rotationGraceUntil
          ? `The old secret keeps working until ${rotated.rotationGraceUntil.toISOString()}; an older one, if any, no longer works.`
          : 'The old secret no longer works.';
        return { data: rotated, text: `${secretNotice(id, rotated.secret)}\n${old}` };
      },
    },
    disable: {
      summary: 'stop a client from getting or refreshing tokens',
      usage: 'ID',
      args: ['ID'],
      async run(ctx, _values, [id]) {
        const client = await ctx.ops.setClientEnabled(id, false, CLI_ACTOR);
        return { data: client, text: `Disabled client ${id}.` };
      },
    },
    enable: {
      summary: 'enable a disabled client',
      usage: 'ID',
      args: ['ID'],
      async run(ctx, _values, [id]) {
        const client = await ctx.ops.setClientEnabled(id, true, CLI_ACTOR);
        return { data: client, text: `Enabled client ${id}.` };
      },
    },
    remove: {
      summary: 'delete a client registration',
      usage: 'ID [--yes]',
      args: ['ID'],
      options: { yes: { type: 'boolean' } },
      async run(ctx, values, [id]) {
        await ctx.ops.getClient(id);
        await confirm(ctx, values, `Remove client ${id}? Its users will no longer be able to sign in to it.`);
        await ctx.ops.removeClient(id, CLI_ACTOR);
        return { data: { id, removed: true }, text: `Removed client ${id}.` };
      },
    },
    sync: {
      summary: 'apply clients.json: add new, update changed, report (never delete) the rest',
      usage: '[--file PATH]',
      options: { file: { type: 'string' } },
      async run(ctx, values) {
        const result = await ctx.ops.syncClients(CLI_ACTOR, optionalString(values, 'file'));
        const lines = [
          `Synced ${result.file}: ${result.created.length} added, ${result.updated.length} updated, ${result.unchanged.length} unchanged.`,
          ...result.created.filter((c) => c.secret).map((c) => secretNotice(c.id, c.secret!)),
          ...(result.notInFile.length ? [`Registered but not in the file (left alone; use \`nexus clients remove\`): ${result.notInFile.join(', ')}`] : []),
        ];
        return { data: result, text: lines.join('\n') };
      },
    },
  },
};

// nexus apikeys ...
import { CLI_ACTOR } from '../../admin/operations.js';
import { optionalString, requireString, table, UsageError, type CommandGroup } from '../command.js';

export const apikeys: CommandGroup = {
  summary: 'API keys for scripts (exchanged for JWTs at the token endpoint)',
  commands: {
    create: {
      summary: 'create an API key for a user; prints it once',
      usage: '--email E --name N --env live|test [--rate-limit N] [--expires 30d]',
      options: { email: { type: 'string' }, name: { type: 'string' }, env: { type: 'string' }, 'rate-limit': { type: 'string' }, expires: { type: 'string' } },
      async run(ctx, values) {
        const limit = optionalString(values, 'rate-limit');
        if (limit !== undefined && !/^\d+$/.test(limit)) throw new UsageError('--rate-limit takes a whole number of exchanges per minute');
        const { key, info } = await ctx.ops.createApiKey({
          email: requireString(values, 'email'),
          name: requireString(values, 'name'),
          env: requireString(values, 'env'),
          rateLimit: limit === undefined ? undefined : Number(limit),
          expiresIn: optionalString(values, 'expires'),
        }, CLI_ACTOR);
        return {
          data: { ...info, key },
          text: `API key ${info.id} for ${info.email} (shown once, store it now):\n${key}${info.expiresAt ? `\nExpires ${info.expiresAt.toISOString()}.` : ''}`,
        };
      },
    },
    list: {
      summary: 'list API keys (never the keys themselves)',
      usage: '[--email E]',
      options: { email: { type: 'string' } },
      async run(ctx, values) {
        const email = optionalString(values, 'email');
        const keys = await ctx.ops.listApiKeys(email);
        const rows = keys.map((k) => ({ ...k, status: k.revokedAt ? 'revoked' : k.expiresAt && k.expiresAt <= new Date() ? 'expired' : 'active' }));
        return { data: keys, text: table(rows, ['id', 'email', 'name', 'env', 'prefix', 'status', 'rateLimit', 'lastUsedAt', 'expiresAt']) };
      },
    },
    revoke: {
      summary: 'revoke an API key',
      usage: 'ID',
      args: ['ID'],
      async run(ctx, _values, [id]) {
        const info = await ctx.ops.revokeApiKey(id, CLI_ACTOR);
        return { data: info, text: `Revoked API key ${id} (${info.name}, ${info.email}).` };
      },
    },
  },
};

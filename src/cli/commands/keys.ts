// nexus keys ...
import { RELOAD_INTERVAL_MS } from '../../db/changes.js';
import { table, type CommandGroup } from '../command.js';

const pickup = `Running hubs pick the change up at once (LISTEN/NOTIFY), and within ${RELOAD_INTERVAL_MS / 1000} s at worst.`;

export const keys: CommandGroup = {
  summary: 'signing keys (JWKS) and cookie keys',
  commands: {
    list: {
      summary: 'list keys, newest first',
      usage: '',
      async run(ctx) {
        const all = await ctx.ops.listKeys();
        const rows = all.map((k) => ({ ...k, status: k.retiredAt ? 'retired' : k.current ? 'current' : 'published' }));
        return { data: all, text: table(rows, ['kid', 'use', 'alg', 'status', 'createdAt', 'retiredAt']) };
      },
    },
    rotate: {
      summary: 'add a new signing key that signs from now on; the old one stays published',
      usage: '',
      async run(ctx) {
        const key = await ctx.ops.rotateKeys();
        return {
          data: key,
          text: `New signing key ${key.kid}. ${pickup}\nKeep the previous key published until tokens it signed have expired, then run \`nexus keys retire KID\`.`,
        };
      },
    },
    retire: {
      summary: 'withdraw a key from the JWKS (tokens it signed stop verifying)',
      usage: 'KID',
      args: ['KID'],
      async run(ctx, _values, [kid]) {
        const key = await ctx.ops.retireKey(kid);
        return { data: key, text: `Retired key ${kid}. ${pickup}` };
      },
    },
  },
};

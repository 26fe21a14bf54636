// nexus plans ...
import { PLAN_ORDER } from '../../billing/plans.js';
import { CLI_ACTOR } from '../../admin/operations.js';
import { requireString, type CommandGroup } from '../command.js';

const describe = (state: { email: string; plan: string; status: string; currentPeriodEnd: Date | null }) =>
  `${state.email}: ${state.plan} (${state.status}${state.currentPeriodEnd ? `, renews ${state.currentPeriodEnd.toISOString().slice(0, 10)}` : ''})`;

export const plans: CommandGroup = {
  summary: "users' billing plans",
  commands: {
    show: {
      summary: "show a user's plan and subscription status",
      usage: 'EMAIL',
      args: ['EMAIL'],
      async run(ctx, _values, [email]) {
        const state = await ctx.ops.getPlan(email);
        return { data: state, text: describe(state) };
      },
    },
    set: {
      summary: "set a user's plan directly (no Stripe); tokens show it at the next issuance",
      usage: `--email E --plan ${PLAN_ORDER.join('|')}`,
      options: { email: { type: 'string' }, plan: { type: 'string' } },
      async run(ctx, values) {
        const state = await ctx.ops.setPlan(requireString(values, 'email'), requireString(values, 'plan'), CLI_ACTOR, 'cli');
        return { data: state, text: `Plan set. ${describe(state)}` };
      },
    },
  },
};

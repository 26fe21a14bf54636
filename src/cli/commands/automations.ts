// nexus automations ... : the cross-project rules this hub runs (automations.json), as loaded.
// Each run's outcome is a delivery of its event: `nexus events show ID`.
import { Automations } from '../../events/automations.js';
import { table, type CommandGroup } from '../command.js';

export const automations: CommandGroup = {
  summary: 'cross-project automation rules (automations.json)',
  commands: {
    list: {
      summary: 'list the rules in AUTOMATIONS_FILE, validated as the hub validates them at start',
      usage: '',
      async run(ctx) {
        const projects = (await ctx.ops.listClients()).map((client) => client.id);
        const { rules } = Automations.fromFile(ctx.config.automationsFile, projects, ctx.config.automationsFileNamed);
        const rows = rules.map((rule) => ({
          id: rule.id, on: `${rule.on.source} ${rule.on.type}`, call: `${rule.call.method} ${rule.call.project} ${rule.call.path}`, description: rule.description,
        }));
        const text = rules.length ? table(rows, ['id', 'on', 'call', 'description']) : `No rules in ${ctx.config.automationsFile}.`;
        return { data: { file: ctx.config.automationsFile, rules }, text };
      },
    },
  },
};

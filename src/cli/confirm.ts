// Confirmation of destructive commands: --yes, or an answer typed at a terminal.
import readline from 'node:readline/promises';
import { CliError, type Values } from './command.js';
import type { CliContext } from './context.js';

export async function confirm(ctx: CliContext, values: Values, question: string): Promise<void> {
  if (values.yes) return;
  if (!ctx.interactive) throw new CliError('refusing without confirmation: add --yes');
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new CliError('cancelled');
  } finally {
    rl.close();
  }
}

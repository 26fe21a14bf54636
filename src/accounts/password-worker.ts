// Runs inside a thread of the password pool (password-pool.ts), never on the event loop:
// bcryptjs is pure JavaScript and spends ~100 ms of CPU per call at cost 11. The thread does
// nothing else, so the synchronous calls are used: they skip the async variants' yielding.
import bcrypt from 'bcryptjs';

export function hash({ password, cost }: { password: string; cost: number }): string {
  return bcrypt.hashSync(password, cost);
}

export function compare({ password, hash }: { password: string; hash: string }): boolean {
  return bcrypt.compareSync(password, hash);
}

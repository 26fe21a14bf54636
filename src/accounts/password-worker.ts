// Runs inside a thread of the password pool (password-pool.ts), never on the event loop:
// bcryptjs is pure JavaScript and spends ~100 ms of CPU per call at cost 11.
import bcrypt from 'bcryptjs';

export function hash({ password, cost }: { password: string; cost: number }): Promise<string> {
  return bcrypt.hash(password, cost);
}

export function compare({ password, hash }: { password: string; hash: string }): Promise<boolean> {
  return bcrypt.compare(password, hash);
}

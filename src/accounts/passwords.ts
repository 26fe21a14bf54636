// Password hashing with bcrypt, in the process's worker pool (password-pool.ts) so that it never
// blocks the event loop. Verification of an unknown account still spends a full bcrypt
// comparison, so response time does not reveal which emails are registered.
import { randomBytes } from 'node:crypto';
import { passwordPool } from './password-pool.js';

const COST = 11;
export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 128;

// A real hash of a random password, computed on first need: comparing against it costs the same
// as a comparison against a user's hash.
let dummyHash: Promise<string> | undefined;

export function passwordProblem(password: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `Password must be at least ${MIN_PASSWORD_LENGTH} characters.`;
  // bcrypt reads only 72 bytes; a longer limit would silently ignore the rest.
  if (Buffer.byteLength(password) > 72 || password.length > MAX_PASSWORD_LENGTH) return 'Password must be at most 72 bytes.';
  return undefined;
}

/** A bcrypt (`$2b$`, cost 11) hash; rejects with PasswordPoolBusy when the pool's queue is full. */
export function hashPassword(password: string): Promise<string> {
  return passwordPool().hash(password, COST);
}

/** Whether the password matches; rejects with PasswordPoolBusy when the pool's queue is full. */
export async function verifyPassword(password: string, hash: string | null | undefined): Promise<boolean> {
  // A failed attempt to make the dummy (a full queue) is not kept: the next call tries again.
  dummyHash ??= hashPassword(`dummy-${randomBytes(16).toString('hex')}`).catch((error: unknown) => {
    dummyHash = undefined;
    throw error;
  });
  const matches = await passwordPool().compare(password, hash ?? (await dummyHash));
  return matches && Boolean(hash);
}

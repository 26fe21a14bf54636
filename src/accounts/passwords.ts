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

// A bcrypt hash as other systems store it: `$2a$` (Supabase, older libraries), `$2b$` (ours) or
// `$2y$` (PHP), which bcryptjs all verifies alike; a cost of 04-31; then 53 characters of bcrypt's
// base64 (22 of salt, 31 of hash).
const BCRYPT_HASH = /^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$/;

/** Whether `hash` is a bcrypt hash verifyPassword can check (for users imported with their hash). */
export function isBcryptHash(hash: string): boolean {
  return BCRYPT_HASH.test(hash);
}

/**
 * The highest cost an imported hash may have. Each step doubles the work: a cost-31 hash would
 * hold a password worker for about a day per sign-in attempt, so two attempts would stall every
 * login. 13 is four times our own cost.
 */
export const MAX_IMPORTED_COST = 13;

/** The cost of a hash that passed isBcryptHash. */
export const bcryptCost = (hash: string): number => Number(hash.slice(4, 6));

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

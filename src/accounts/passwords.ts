// Password hashing with bcrypt. Verification of an unknown account still spends a full bcrypt
// comparison, so response time does not reveal which emails are registered.
import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';

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

export function hashPassword(password: string): Promise<string> {
  return bcrypt.hash(password, COST);
}

export async function verifyPassword(password: string, hash: string | null | undefined): Promise<boolean> {
  dummyHash ??= bcrypt.hash(`dummy-${randomBytes(16).toString('hex')}`, COST);
  const matches = await bcrypt.compare(password, hash ?? (await dummyHash));
  return matches && Boolean(hash);
}

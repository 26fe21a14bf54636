// Recovery codes: 10 single-use codes shown once at enrolment (and when regenerated), stored as
// SHA-256 only. Spending one is a compare-and-set on used_at, so of parallel uses one wins.
import { randomInt } from 'node:crypto';
import type { Prisma, PrismaClient } from '../generated/prisma/client.js';
import { sha256Hex } from '../secrets/tokens.js';
import { isUuid } from '../db/ids.js';
import type { HubEvents, Actor } from '../accounts/identity-events.js';

export const RECOVERY_CODE_COUNT = 10;
// No 0/o, 1/l/i: codes are copied by hand from paper. 10 characters of 31: 49 bits each.
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const LENGTH = 10;

/** What a person may type for a code: any case, spaces and dashes ignored. */
export function normalizeRecoveryCode(text: string): string {
  return text.toLowerCase().replace(/[\s-]/g, '');
}

export function looksLikeRecoveryCode(text: string): boolean {
  const code = normalizeRecoveryCode(text);
  return code.length === LENGTH && [...code].every((c) => ALPHABET.includes(c));
}

// Salted with the user id: equal codes of two users never share a hash (code_hash is unique).
const hashOf = (userId: string, code: string) => sha256Hex(`${userId}:${normalizeRecoveryCode(code)}`);

function newCode(): string {
  const chars = Array.from({ length: LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
  return `${chars.slice(0, 5)}-${chars.slice(5)}`;
}

/** Replaces the user's codes inside `tx`; the new codes, to be shown once. */
export async function replaceRecoveryCodes(tx: Prisma.TransactionClient, userId: string): Promise<string[]> {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newCode);
  await tx.recoveryCode.deleteMany({ where: { userId } });
  await tx.recoveryCode.createMany({ data: codes.map((code) => ({ userId, codeHash: hashOf(userId, code) })) });
  return codes;
}

export class RecoveryCodes {
  constructor(private readonly prisma: PrismaClient, private readonly events: HubEvents) {}

  remaining(userId: string): Promise<number> {
    return this.prisma.recoveryCode.count({ where: { userId, usedAt: null } });
  }

  /** Spends `code` (compare-and-set): true exactly once per code, for the first caller. */
  async spend(userId: string, code: string, actor: Actor = { type: 'user', id: userId }): Promise<boolean> {
    if (!isUuid(userId) || !looksLikeRecoveryCode(code)) return false;
    return this.prisma.$transaction(async (tx) => {
      const { count } = await tx.recoveryCode.updateMany({ where: { userId, codeHash: hashOf(userId, code), usedAt: null }, data: { usedAt: new Date() } });
      if (count !== 1) return false;
      const remaining = await tx.recoveryCode.count({ where: { userId, usedAt: null } });
      await this.events.inTransaction(tx, actor, [{ type: 'mfa.recovery_code_used', subject: userId, data: { remaining } }]);
      return true;
    });
  }

  /** New codes for a user with TOTP (the old ones stop working); undefined without TOTP. */
  async regenerate(userId: string, actor: Actor = { type: 'user', id: userId }): Promise<string[] | undefined> {
    return this.prisma.$transaction(async (tx) => {
      const factor = await tx.totpFactor.findUnique({ where: { userId } });
      if (!factor?.confirmedAt) return undefined;
      const codes = await replaceRecoveryCodes(tx, userId);
      await this.events.inTransaction(tx, actor, [{ type: 'mfa.recovery_codes_regenerated', subject: userId, data: { count: codes.length } }]);
      return codes;
    });
  }
}

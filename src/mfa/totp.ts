// TOTP factors (RFC 6238 with otpauth: SHA-1, 6 digits, 30 s, one step of drift either way).
// The secret is sealed with the hub's SecretBox; a code is accepted only for a time step later
// than the last accepted one (a compare-and-set on last_used_step), so no code works twice,
// not even two parallel posts of the same code.
import { Secret, TOTP } from 'otpauth';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { SecretBox } from '../secrets/box.js';
import { isUuid } from '../db/ids.js';
import type { Actor, HubEvents } from '../accounts/identity-events.js';
import { replaceRecoveryCodes } from './recovery-codes.js';

export const TOTP_ISSUER = 'Nexus';
const PARAMETERS = { algorithm: 'SHA1', digits: 6, period: 30 } as const;
const DRIFT_STEPS = 1;

const sealContext = (userId: string) => `totp:${userId}`;

export const isTotpCode = (text: string) => /^\d{6}$/.test(text);
/** A code as typed: spaces (apps show "123 456") are not part of it. */
export const cleanCode = (text: string) => text.replace(/\s/g, '');

export interface Enrolment {
  /** Base32, for manual entry. */
  secret: string;
  /** The otpauth:// URI the QR code holds. */
  uri: string;
}

export class TotpFactors {
  constructor(private readonly prisma: PrismaClient, private readonly box: SecretBox, private readonly events: HubEvents) {}

  /** Whether the user has a confirmed TOTP factor. */
  async enabled(userId: string): Promise<boolean> {
    const factor = await this.prisma.totpFactor.findUnique({ where: { userId }, select: { confirmedAt: true } });
    return Boolean(factor?.confirmedAt);
  }

  /**
   * The secret being enrolled: the same one until it is confirmed (reloading the page must not
   * invalidate a QR code already scanned); undefined when TOTP is already on.
   */
  async pendingEnrolment(userId: string, email: string): Promise<Enrolment | undefined> {
    let factor = await this.prisma.totpFactor.findUnique({ where: { userId } });
    if (factor?.confirmedAt) return undefined;
    if (!factor) {
      // INSERT … ON CONFLICT DO NOTHING: of parallel first visits one row wins, and all show it.
      const secretSealed = this.box.seal(new Secret({ size: 20 }).base32, sealContext(userId));
      await this.prisma.totpFactor.createMany({ data: [{ userId, secretSealed }], skipDuplicates: true });
      factor = await this.prisma.totpFactor.findUniqueOrThrow({ where: { userId } });
      if (factor.confirmedAt) return undefined;
    }
    const secret = this.box.open(factor.secretSealed, sealContext(userId));
    return { secret, uri: this.totp(secret, email).toString() };
  }

  /**
   * Confirms the pending enrolment with a valid code: TOTP is on, and the 10 recovery codes
   * (to be shown once) are returned. Undefined for a wrong code or nothing pending.
   */
  async confirm(userId: string, code: string): Promise<string[] | undefined> {
    const factor = await this.prisma.totpFactor.findUnique({ where: { userId } });
    if (!factor || factor.confirmedAt || !isTotpCode(code)) return undefined;
    const step = this.acceptedStep(this.box.open(factor.secretSealed, sealContext(userId)), code);
    if (step === undefined) return undefined;
    return this.prisma.$transaction(async (tx) => {
      // Compare-and-set: of parallel confirmations one turns it on.
      const { count } = await tx.totpFactor.updateMany({ where: { userId, confirmedAt: null }, data: { confirmedAt: new Date(), lastUsedStep: step } });
      if (count !== 1) return undefined;
      const codes = await replaceRecoveryCodes(tx, userId);
      await this.events.inTransaction(tx, { type: 'user', id: userId }, [{ type: 'mfa.enabled', subject: userId, data: { method: 'totp' } }]);
      return codes;
    });
  }

  /** A code of the confirmed factor, spent: true once per time step, for the first caller. */
  async verify(userId: string, code: string): Promise<boolean> {
    if (!isUuid(userId) || !isTotpCode(code)) return false;
    const factor = await this.prisma.totpFactor.findUnique({ where: { userId } });
    if (!factor?.confirmedAt) return false;
    const step = this.acceptedStep(this.box.open(factor.secretSealed, sealContext(userId)), code);
    if (step === undefined) return false;
    const { count } = await this.prisma.totpFactor.updateMany({
      where: { userId, confirmedAt: { not: null }, OR: [{ lastUsedStep: null }, { lastUsedStep: { lt: step } }] },
      data: { lastUsedStep: step },
    });
    return count === 1;
  }

  /** Turns TOTP off and drops the recovery codes (the caller has checked a code). */
  async disable(userId: string, actor: Actor = { type: 'user', id: userId }): Promise<boolean> {
    return this.prisma.$transaction(async (tx) => {
      const { count } = await tx.totpFactor.deleteMany({ where: { userId, confirmedAt: { not: null } } });
      if (count !== 1) return false;
      await tx.recoveryCode.deleteMany({ where: { userId } });
      await this.events.inTransaction(tx, actor, [{ type: 'mfa.disabled', subject: userId, data: { method: 'totp' } }]);
      return true;
    });
  }

  private totp(secret: string, email: string) {
    return new TOTP({ issuer: TOTP_ISSUER, label: email, ...PARAMETERS, secret: Secret.fromBase32(secret) });
  }

  /** The time step `code` belongs to (now, or one step either side), or undefined. */
  private acceptedStep(secret: string, code: string): bigint | undefined {
    const timestamp = Date.now();
    const delta = TOTP.validate({ token: code, secret: Secret.fromBase32(secret), ...PARAMETERS, timestamp, window: DRIFT_STEPS });
    return delta === null ? undefined : BigInt(TOTP.counter({ period: PARAMETERS.period, timestamp }) + delta);
  }
}

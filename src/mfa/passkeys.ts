// Passkeys (WebAuthn credentials): registration from the account center, sign-in with one
// (passwordless, or as the second factor after a password), and the user's list. The
// cryptography (attestation, COSE keys, signatures, origin/RP ID/flags checks) is
// @simplewebauthn/server's; the rules are ours: the RP is the ISSUER (never the Host header),
// challenges are single-use (webauthn_challenges), resident keys are required so a passkey can
// name its user, user verification is preferred, and a signature counter that does not move
// forward (a cloned authenticator) is refused.
import {
  generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse,
  type AuthenticationResponseJSON, type PublicKeyCredentialCreationOptionsJSON, type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { Prisma, type Passkey, type PrismaClient } from '../generated/prisma/client.js';
import { HubEvents, type Actor, type EventPublisher } from '../accounts/identity-events.js';
import { isUuid } from '../db/ids.js';
import { ACR_MFA, authentication, type Factor } from './amr.js';
import { WebauthnChallenges, CHALLENGE_TTL_MS } from './webauthn-challenges.js';
import { parsePasskeyResponse } from './webauthn-response.js';
import { PasskeyError } from './webauthn-errors.js';

export { PasskeyError };

/** Passkeys one account may hold: enough for every device a person owns, not a table to fill. */
export const MAX_PASSKEYS = 20;
export const MAX_NAME_LENGTH = 64;


export interface PasskeyInfo {
  id: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  /** Synced between a person's devices (iCloud Keychain, Google Password Manager) or bound to one. */
  synced: boolean;
  backedUp: boolean;
}

/** A verified passkey sign-in: whose it is and what it proves. */
export interface PasskeySignIn {
  userId: string;
  passkey: PasskeyInfo;
  userVerified: boolean;
  /** RFC 8176: `swk` for a synced (multi-device) passkey, whose key leaves the hardware; `hwk` for a device-bound one. */
  factor: Extract<Factor, 'hwk' | 'swk'>;
}

/**
 * What a passwordless sign-in proves: a user-verified passkey is two factors on its own (the
 * device, and the PIN or biometric that unlocked it), so `mfa` and the MFA class; without user
 * verification it is the one factor of possession.
 */
export function passwordlessAuthentication(signIn: PasskeySignIn): { amr: string[]; acr: string } {
  return signIn.userVerified ? { amr: [signIn.factor, 'mfa'], acr: ACR_MFA } : authentication([signIn.factor]);
}

function info(row: Passkey): PasskeyInfo {
  return { id: row.id, name: row.name, createdAt: row.createdAt, lastUsedAt: row.lastUsedAt, synced: row.deviceType === 'multiDevice', backedUp: row.backedUp };
}

/** What `passkey.*` events carry: never the public key or the counter. */
const passkeyEvent = (type: 'passkey.added' | 'passkey.removed', userId: string, passkey: PasskeyInfo) =>
  ({ type, subject: userId, data: { id: passkey.id, name: passkey.name, synced: passkey.synced, backedUp: passkey.backedUp } });

/** A passkey's name as people type it; the reason it cannot be used, or undefined. */
function nameProblem(name: string): string | undefined {
  if (!name) return 'Give the passkey a name, e.g. “MacBook Touch ID”.';
  if ([...name].length > MAX_NAME_LENGTH) return `A passkey name has at most ${MAX_NAME_LENGTH} characters.`;
  if (/[\p{Cc}\p{Cf}\p{Cs}]/u.test(name)) return 'A passkey name cannot contain control or invisible characters.';
  return undefined;
}

export class Passkeys {
  private readonly events: HubEvents;
  private readonly challenges: WebauthnChallenges;
  /** The relying party: the ISSUER's origin and host, from the configuration only. */
  private readonly origin: string;
  private readonly rpId: string;

  constructor(private readonly prisma: PrismaClient, issuer: string, publisher?: EventPublisher) {
    this.events = new HubEvents(prisma, publisher);
    this.challenges = new WebauthnChallenges(prisma);
    const url = new URL(issuer);
    this.origin = url.origin;
    this.rpId = url.hostname;
  }

  async list(userId: string): Promise<PasskeyInfo[]> {
    if (!isUuid(userId)) return [];
    const rows = await this.prisma.passkey.findMany({ where: { userId }, orderBy: { createdAt: 'asc' } });
    return rows.map(info);
  }

  /** Options for navigator.credentials.create(): a discoverable credential for this user. */
  async registrationOptions(user: { id: string; email: string; fullName: string | null }): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const existing = await this.prisma.passkey.findMany({ where: { userId: user.id }, select: { id: true, transports: true } });
    if (existing.length >= MAX_PASSKEYS) throw new PasskeyError('too_many', `You already have ${MAX_PASSKEYS} passkeys, the most one account may hold: remove one you no longer use first.`);
    const challenge = await this.challenges.issue('registration', user.id);
    return generateRegistrationOptions({
      rpName: 'Nexus', rpID: this.rpId, userName: user.email, userDisplayName: user.fullName || user.email,
      // The user handle a passkey returns at sign-in: the account id, never the address.
      userID: new TextEncoder().encode(user.id),
      challenge: challengeBytes(challenge), timeout: CHALLENGE_TTL_MS, attestationType: 'none',
      excludeCredentials: existing.map((row) => ({ id: row.id, transports: row.transports })),
      authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'preferred' },
    });
  }

  /** Verifies a registration response against this user's live challenge and stores the passkey. */
  async register(userId: string, name: string, response: unknown, actor: Actor): Promise<PasskeyInfo> {
    const trimmed = name.trim();
    const problem = nameProblem(trimmed);
    if (problem) throw new PasskeyError('invalid_name', problem);
    const parsed = parsePasskeyResponse(response, 'webauthn.create');
    if (!(await this.challenges.spend(parsed.challenge, 'registration', userId))) throw challengeError();
    let verified;
    try {
      verified = await verifyRegistrationResponse({
        response: parsed.response as RegistrationResponseJSON, expectedChallenge: parsed.challenge,
        expectedOrigin: this.origin, expectedRPID: this.rpId, requireUserVerification: false,
      });
    } catch (error) {
      throw new PasskeyError('invalid_response', `The passkey could not be checked: ${(error as Error).message}`);
    }
    if (!verified.verified) throw new PasskeyError('invalid_response', 'The passkey could not be checked.');
    const { credential, credentialDeviceType, credentialBackedUp } = verified.registrationInfo;
    try {
      return await this.prisma.$transaction(async (tx) => {
        // Serialised per user, so parallel registrations cannot all pass the count.
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`passkeys:${userId}`}))`;
        if (await tx.passkey.count({ where: { userId } }) >= MAX_PASSKEYS) throw new PasskeyError('too_many', `You already have ${MAX_PASSKEYS} passkeys: remove one first.`);
        const row = await tx.passkey.create({
          data: {
            id: credential.id, userId, name: trimmed, publicKey: Buffer.from(credential.publicKey), counter: BigInt(credential.counter),
            transports: (credential.transports ?? []).slice(0, 8), deviceType: credentialDeviceType, backedUp: credentialBackedUp,
          },
        });
        await this.events.inTransaction(tx, actor, [passkeyEvent('passkey.added', userId, info(row))]);
        return info(row);
      });
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
        throw new PasskeyError('already_registered', 'This passkey is already registered.');
      }
      throw error;
    }
  }

  /**
   * Options for navigator.credentials.get(). Without a user (passwordless) the browser offers
   * every discoverable passkey of this site; with one (the second factor) only theirs.
   */
  async authenticationOptions(userId: string | null): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const allowed = userId ? await this.prisma.passkey.findMany({ where: { userId }, select: { id: true, transports: true } }) : [];
    const challenge = await this.challenges.issue('authentication', userId);
    return generateAuthenticationOptions({
      rpID: this.rpId, challenge: challengeBytes(challenge), timeout: CHALLENGE_TTL_MS, userVerification: 'preferred',
      allowCredentials: allowed.map((row) => ({ id: row.id, transports: row.transports })),
    });
  }

  /**
   * Verifies a sign-in with a passkey. `userId`: the account that must own it (the second factor
   * after a password); null for a passwordless sign-in, where the passkey names its account.
   */
  async authenticate(response: unknown, userId: string | null): Promise<PasskeySignIn> {
    const parsed = parsePasskeyResponse(response, 'webauthn.get');
    if (!(await this.challenges.spend(parsed.challenge, 'authentication', userId))) throw challengeError();
    const row = await this.prisma.passkey.findUnique({ where: { id: parsed.credentialId } });
    // Someone else's passkey reads exactly like an unknown one.
    if (!row || (userId && row.userId !== userId)) throw new PasskeyError('unknown_credential', 'This passkey is not registered with Nexus. Sign in with your password.');
    let verified;
    try {
      verified = await verifyAuthenticationResponse({
        response: parsed.response as AuthenticationResponseJSON, expectedChallenge: parsed.challenge,
        expectedOrigin: this.origin, expectedRPID: this.rpId, requireUserVerification: false,
        credential: { id: row.id, publicKey: new Uint8Array(row.publicKey), counter: Number(row.counter), transports: row.transports },
      });
    } catch (error) {
      const message = (error as Error).message;
      if (/counter/i.test(message)) throw new PasskeyError('counter', 'This passkey answered with a signature counter that went backwards, as a copied authenticator would: it was refused.');
      throw new PasskeyError('invalid_response', `The passkey could not be checked: ${message}`);
    }
    if (!verified.verified) throw new PasskeyError('invalid_response', 'The passkey could not be checked.');
    const { newCounter, userVerified, credentialDeviceType, credentialBackedUp } = verified.authenticationInfo;
    // Compare-and-set on the counter that was checked: two sign-ins racing with one counter value
    // (which only a copy of the key can produce) cannot both win.
    const { count } = await this.prisma.passkey.updateMany({
      where: { id: row.id, counter: row.counter },
      data: { counter: BigInt(newCounter), lastUsedAt: new Date(), backedUp: credentialBackedUp },
    });
    if (!count) throw new PasskeyError('counter', 'This passkey was used twice at once: try again.');
    const passkey = info({ ...row, lastUsedAt: new Date(), backedUp: credentialBackedUp });
    return { userId: row.userId, passkey, userVerified, factor: credentialDeviceType === 'multiDevice' ? 'swk' : 'hwk' };
  }

  async rename(userId: string, id: string, name: string): Promise<PasskeyInfo> {
    const trimmed = name.trim();
    const problem = nameProblem(trimmed);
    if (problem) throw new PasskeyError('invalid_name', problem);
    if (!isCredentialId(id)) throw notFound();
    const { count } = await this.prisma.passkey.updateMany({ where: { id, userId }, data: { name: trimmed } });
    if (!count) throw notFound();
    return info(await this.prisma.passkey.findUniqueOrThrow({ where: { id } }));
  }

  /** Removes one of the user's passkeys; `passkey.removed` once, also under parallel removals. */
  async remove(userId: string, id: string, actor: Actor): Promise<PasskeyInfo> {
    if (!isUuid(userId) || !isCredentialId(id)) throw notFound();
    return this.prisma.$transaction(async (tx) => {
      const rows = await tx.$queryRaw<Passkey[]>`
        DELETE FROM passkeys WHERE id = ${id} AND user_id = ${userId}::uuid
        RETURNING id, user_id AS "userId", name, public_key AS "publicKey", counter, transports, device_type AS "deviceType",
          backed_up AS "backedUp", created_at AS "createdAt", last_used_at AS "lastUsedAt"`;
      if (!rows[0]) throw notFound();
      const removed = info(rows[0]);
      await this.events.inTransaction(tx, actor, [passkeyEvent('passkey.removed', userId, removed)]);
      return removed;
    });
  }
}

/** The library base64url-encodes a string challenge as UTF-8; ours is base64url already, so it gets the bytes. */
const challengeBytes = (challenge: string) => new Uint8Array(Buffer.from(challenge, 'base64url'));
/** Credential ids are base64url (at most 1,023 bytes): anything else names no passkey (and never reaches SQL). */
const isCredentialId = (id: string) => id.length <= 1400 && /^[A-Za-z0-9_-]+$/.test(id);
const challengeError = () => new PasskeyError('challenge', 'This passkey request has expired or was already used. Try again.');
const notFound = () => new PasskeyError('not_found', 'There is no such passkey in your account.');

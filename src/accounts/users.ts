// Users: sign-up, credential checks, administration. Emails are stored normalised (see email.ts).
import type { PrismaClient, User as UserRow } from '../generated/prisma/client.js';
import { Prisma } from '../generated/prisma/client.js';
import { hashPassword, passwordProblem, verifyPassword } from './passwords.js';
import { isUuid } from '../db/ids.js';
import { isUsableEmail, normalizeEmail } from './email.js';
import { sqlPoolOf } from './sql-pool.js';
import { HubEvents, SYSTEM_ACTOR, userData, type Actor, type EventPublisher } from './identity-events.js';
import { signOutElsewhere, signOutEverywhere } from './hub-sessions.js';

/**
 * A user as the hub reads it. The sign-in's own read of the user (SELECT_USER) also says whether
 * it has second factors, so a password sign-in without them costs no statement more.
 */
export type User = UserRow & { hasTotp?: boolean; hasPasskeys?: boolean };
export { normalizeEmail };

export class UserError extends Error {
  constructor(readonly code: 'invalid_email' | 'invalid_name' | 'invalid_avatar' | 'weak_password' | 'email_taken' | 'not_found', message: string) {
    super(message);
    this.name = 'UserError';
  }
}

export const MAX_NAME_LENGTH = 200;
// Names may hold format characters (ZWNJ is part of Persian and Indic spelling), but not
// controls: NUL cannot be stored and newlines would forge lines wherever the name is printed.
const CONTROL = /\p{Cc}/u;

export function nameProblem(fullName: string): string | undefined {
  if (fullName.length > MAX_NAME_LENGTH) return `Name must be at most ${MAX_NAME_LENGTH} characters.`;
  if (CONTROL.test(fullName)) return 'Name must not contain control characters.';
  return undefined;
}

export const MAX_AVATAR_URL_LENGTH = 2048;

/**
 * The avatar as stored: '' (none) or an https URL in its normalised form. Pages and tokens
 * (`picture`) hand it to browsers, so anything but https, and credentials in the URL, are refused.
 */
export function avatarUrlOf(text: string): { url: string } | { problem: string } {
  if (text === '') return { url: '' };
  if (text.length > MAX_AVATAR_URL_LENGTH) return { problem: `The avatar URL must be at most ${MAX_AVATAR_URL_LENGTH} characters.` };
  if (/[\p{Cc}\p{Cf}\s]/u.test(text)) return { problem: 'The avatar URL must not contain spaces, control or invisible characters.' };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: 'The avatar URL must be a full address starting with https://.' };
  }
  if (url.protocol !== 'https:' || !url.hostname) return { problem: 'The avatar URL must start with https://.' };
  if (url.username || url.password) return { problem: 'The avatar URL must not contain a user name or password.' };
  return url.href.length > MAX_AVATAR_URL_LENGTH ? { problem: `The avatar URL must be at most ${MAX_AVATAR_URL_LENGTH} characters.` } : { url: url.href };
}

/** PostgreSQL refuses NUL in text: an address holding one cannot be stored, so it matches nobody. */
function canMatch(normalized: string): boolean {
  return !normalized.includes('\0');
}

/** The mail a public sign-up sends (see register): it never tells the page which case it was. */
export interface SignUpMail {
  /** Inside the new account's transaction: the link that verifies its address. */
  created(tx: Prisma.TransactionClient, user: User): Promise<void>;
  /** The address already had an account: its owner hears that someone tried. */
  existing(email: string): Promise<void>;
}

export interface NewUser {
  email: string;
  password?: string;
  fullName?: string;
  emailVerified?: boolean;
}

// The user as Prisma returns it, read with plain SQL (every sign-in and token issuance reads the
// user; see sql-pool.ts). Timestamps are `timestamp(3)` holding UTC, read as such.
const SELECT_USER = `SELECT id, email, password_hash AS "passwordHash", email_verified AS "emailVerified", full_name AS "fullName",
  avatar_url AS "avatarUrl", disabled_at AT TIME ZONE 'UTC' AS "disabledAt", created_at AT TIME ZONE 'UTC' AS "createdAt",
  updated_at AT TIME ZONE 'UTC' AS "updatedAt",
  EXISTS (SELECT 1 FROM totp_factors t WHERE t.user_id = users.id AND t.confirmed_at IS NOT NULL) AS "hasTotp",
  EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = users.id) AS "hasPasskeys" FROM users`;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export class Users {
  private readonly events: HubEvents;

  constructor(private readonly prisma: PrismaClient, publisher?: EventPublisher) {
    this.events = new HubEvents(prisma, publisher);
  }

  private async selectUser(where: string, value: string): Promise<User | null> {
    const { rows } = await sqlPoolOf(this.prisma).query<User>(`${SELECT_USER} WHERE ${where} = $1`, [value]);
    return rows[0] ?? null;
  }

  /** `actor`: who creates the account; undefined for a sign-up (the new user acts). */
  async create({ email, password, fullName, emailVerified = false }: NewUser, actor?: Actor, alsoInTransaction?: (tx: Prisma.TransactionClient, user: User) => Promise<void>): Promise<User> {
    const normalized = normalizeEmail(email);
    if (!isUsableEmail(normalized)) throw new UserError('invalid_email', 'Enter a valid email address.');
    const name = fullName?.trim() ?? '';
    const badName = nameProblem(name);
    if (badName) throw new UserError('invalid_name', badName);
    if (password !== undefined) {
      const problem = passwordProblem(password);
      if (problem) throw new UserError('weak_password', problem);
    }
    // Hashed before the transaction opens: it must not hold a connection through bcrypt.
    const passwordHash = password === undefined ? null : await hashPassword(password);
    try {
      return await this.prisma.$transaction(async (tx) => {
        const user = await tx.user.create({ data: { email: normalized, passwordHash, fullName: name || null, emailVerified } });
        await this.events.inTransaction(tx, actor ?? { type: 'user', id: user.id }, [{ type: 'user.created', subject: user.id, data: userData(user) }]);
        await alsoInTransaction?.(tx, user);
        return user;
      });
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
        throw new UserError('email_taken', 'An account with this email already exists.');
      }
      throw error;
    }
  }

  /**
   * Sign-up from the public page. The answer must not tell whether the address is registered,
   * so both cases do the same work (create() hashes the password before it tries the insert)
   * and a taken address is not an error: the new user, or undefined when the address already
   * had an account (left untouched).
   */
  async register(newUser: { email: string; password: string; fullName?: string }, mail?: SignUpMail): Promise<User | undefined> {
    try {
      return await this.create(newUser, undefined, mail?.created);
    } catch (error) {
      if (error instanceof UserError && error.code === 'email_taken') {
        await mail?.existing(normalizeEmail(newUser.email));
        return undefined;
      }
      throw error;
    }
  }

  /** The user for these credentials, or undefined. Same work whether or not the email exists. */
  async authenticate(email: string, password: string): Promise<User | undefined> {
    const user = await this.findByEmail(email);
    const valid = await verifyPassword(password, user?.passwordHash);
    return valid && user && !user.disabledAt ? user : undefined;
  }

  /** Records a sign-in to `clientId` (one statement: a sign-in changes no row of ours). */
  signedIn(userId: string, clientId: string): Promise<void> {
    return this.events.alone({ type: 'user', id: userId }, [{ type: 'user.signed_in', subject: userId, data: { clientId } }]);
  }

  findById(id: string): Promise<User | null> {
    // Account ids come from tokens and sessions; anything that is not a UUID cannot match.
    if (!isUuid(id)) return Promise.resolve(null);
    return this.selectUser('id', id);
  }

  findByEmail(email: string): Promise<User | null> {
    const normalized = normalizeEmail(email);
    if (!canMatch(normalized)) return Promise.resolve(null);
    // pg would send a lone surrogate as U+FFFD; Prisma refuses it as bad input (400), as before.
    if (LONE_SURROGATE.test(normalized)) return this.prisma.user.findUnique({ where: { email: normalized } });
    return this.selectUser('email', normalized);
  }

  async get(email: string): Promise<User> {
    const user = await this.findByEmail(email);
    if (!user) throw new UserError('not_found', `no user with email ${normalizeEmail(email)}`);
    return user;
  }

  list(search?: string): Promise<User[]> {
    // Prisma's `contains` passes % and _ through to LIKE as wildcards: escape them.
    const term = search?.trim().replace(/[\\%_]/g, (c) => `\\${c}`);
    if (term && !canMatch(term)) return Promise.resolve([]);
    return this.prisma.user.findMany({
      where: term ? { OR: [{ email: { contains: term, mode: 'insensitive' } }, { fullName: { contains: term, mode: 'insensitive' } }] } : {},
      orderBy: { createdAt: 'asc' },
    });
  }

  /**
   * The user's own profile: name and avatar URL (empty clears them). `user.updated` names only
   * the fields that really changed; the row is locked first, so parallel identical posts change
   * it (and publish) once.
   */
  async updateProfile(userId: string, profile: { fullName: string; avatarUrl: string }, actor: Actor = { type: 'user', id: userId }): Promise<User> {
    const name = profile.fullName.trim();
    const badName = nameProblem(name);
    if (badName) throw new UserError('invalid_name', badName);
    const avatar = avatarUrlOf(profile.avatarUrl.trim());
    if ('problem' in avatar) throw new UserError('invalid_avatar', avatar.problem);
    if (!isUuid(userId)) throw new UserError('not_found', 'no such user');
    return this.prisma.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT 1 FROM users WHERE id = ${userId}::uuid FOR UPDATE`;
      const current = await tx.user.findUnique({ where: { id: userId } });
      if (!current) throw new UserError('not_found', 'no such user');
      const changed = [
        ...((current.fullName ?? '') !== name ? ['name'] : []),
        ...((current.avatarUrl ?? '') !== avatar.url ? ['avatarUrl'] : []),
      ];
      if (!changed.length) return current;
      const updated = await tx.user.update({ where: { id: userId }, data: { fullName: name || null, avatarUrl: avatar.url || null } });
      await this.events.inTransaction(tx, actor, [{ type: 'user.updated', subject: userId, data: { ...userData(updated), avatarUrl: updated.avatarUrl, changed } }]);
      return updated;
    });
  }

  /**
   * Disables the account and, in the same transaction, ends its sessions and revokes every
   * grant, code and refresh token issued to it. Access tokens already issued expire on their own.
   * `user.disabled` only when it was enabled: disabling twice is one change.
   */
  async disable(email: string, actor: Actor = SYSTEM_ACTOR): Promise<User> {
    const user = await this.get(email);
    return this.prisma.$transaction(async (tx) => {
      const { count } = await tx.user.updateMany({ where: { id: user.id, disabledAt: null }, data: { disabledAt: new Date() } });
      await signOutEverywhere({ tx, events: this.events, actor, reason: 'disabled' }, user.id);
      const updated = await tx.user.findUniqueOrThrow({ where: { id: user.id } });
      if (count) await this.events.inTransaction(tx, actor, [{ type: 'user.disabled', subject: user.id, data: userData(updated) }]);
      return updated;
    });
  }

  async enable(email: string, actor: Actor = SYSTEM_ACTOR): Promise<User> {
    const user = await this.get(email);
    return this.prisma.$transaction(async (tx) => {
      const { count } = await tx.user.updateMany({ where: { id: user.id, disabledAt: { not: null } }, data: { disabledAt: null } });
      const updated = await tx.user.findUniqueOrThrow({ where: { id: user.id } });
      if (count) await this.events.inTransaction(tx, actor, [updatedEvent(updated, 'disabled')]);
      return updated;
    });
  }

  /** Sets a new password and signs the user out everywhere. */
  async setPassword(email: string, password: string, actor: Actor = SYSTEM_ACTOR): Promise<User> {
    const problem = passwordProblem(password);
    if (problem) throw new UserError('weak_password', problem);
    const user = await this.get(email);
    const passwordHash = await hashPassword(password);
    return this.prisma.$transaction(async (tx) => {
      const updated = await tx.user.update({ where: { id: user.id }, data: { passwordHash } });
      await signOutEverywhere({ tx, events: this.events, actor, reason: 'password_changed' }, user.id);
      await this.events.inTransaction(tx, actor, [{ type: 'user.password_changed', subject: user.id, data: userData(updated) }]);
      return updated;
    });
  }

  /**
   * The user's own change (account center): undefined when `currentPassword` is wrong (or the
   * account is disabled). Every other browser is signed out and every grant and token the user
   * holds elsewhere is revoked; the browser of `keepSessionId` (oidc-provider's Session id)
   * stays signed in with its grants.
   */
  async changePassword(userId: string, currentPassword: string, newPassword: string, keepSessionId: string): Promise<User | undefined> {
    const problem = passwordProblem(newPassword);
    if (problem) throw new UserError('weak_password', problem);
    const user = await this.findById(userId);
    if (!(await verifyPassword(currentPassword, user?.passwordHash)) || !user || user.disabledAt) return undefined;
    const passwordHash = await hashPassword(newPassword);
    return this.prisma.$transaction(async (tx) => {
      // Compare-and-set on the hash that was checked: of concurrent changes one wins, and for the
      // others the password they gave is no longer the current one.
      const { count } = await tx.user.updateMany({ where: { id: user.id, passwordHash: user.passwordHash, disabledAt: null }, data: { passwordHash } });
      if (!count) return undefined;
      const updated = await tx.user.findUniqueOrThrow({ where: { id: user.id } });
      await signOutElsewhere({ tx, events: this.events, actor: { type: 'user', id: user.id }, reason: 'password_changed' }, user.id, keepSessionId);
      await this.events.inTransaction(tx, { type: 'user', id: user.id }, [{ type: 'user.password_changed', subject: user.id, data: userData(updated) }]);
      return updated;
    });
  }

  // --- mailed links (account-links.ts): each runs in the transaction that spends its link ---

  /**
   * Marks `email` verified if it is still the user's address (a link mailed to an earlier
   * address verifies nothing): the user then, else undefined. `user.email_verified` only when
   * this changes the account.
   */
  async confirmEmail(tx: Prisma.TransactionClient, userId: string, email: string): Promise<User | undefined> {
    const { count } = await tx.user.updateMany({ where: { id: userId, email, emailVerified: false }, data: { emailVerified: true } });
    const user = await tx.user.findUnique({ where: { id: userId } });
    if (count && user) await this.events.inTransaction(tx, { type: 'user', id: userId }, [{ type: 'user.email_verified', subject: userId, data: userData(user) }]);
    return user?.email === email ? user : undefined;
  }

  /**
   * Moves the account to `email`, verified by the link mailed there. A taken address throws
   * `email_taken`, which rolls the transaction (and the spending of the link) back.
   */
  async moveEmail(tx: Prisma.TransactionClient, userId: string, email: string): Promise<User> {
    const before = await tx.user.findUniqueOrThrow({ where: { id: userId } });
    if (before.email === email) return this.confirmEmail(tx, userId, email).then((user) => user ?? before);
    let user: User;
    try {
      user = await tx.user.update({ where: { id: userId }, data: { email, emailVerified: true } });
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') throw new UserError('email_taken', 'An account with this email already exists.');
      throw error;
    }
    await this.events.inTransaction(tx, { type: 'user', id: userId }, [
      { type: 'user.updated', subject: userId, data: { ...userData(user), previousEmail: before.email, changed: ['email'] } },
      { type: 'user.email_verified', subject: userId, data: userData(user) },
    ]);
    return user;
  }

  /**
   * A new password from a reset link (hashed by the caller, before the transaction): every
   * session, grant, code and refresh token of the user ends. Undefined for a disabled user.
   */
  async resetPassword(tx: Prisma.TransactionClient, userId: string, passwordHash: string): Promise<User | undefined> {
    const { count } = await tx.user.updateMany({ where: { id: userId, disabledAt: null }, data: { passwordHash } });
    if (!count) return undefined;
    await signOutEverywhere({ tx, events: this.events, actor: { type: 'user', id: userId }, reason: 'password_reset' }, userId);
    const user = await tx.user.findUniqueOrThrow({ where: { id: userId } });
    await this.events.inTransaction(tx, { type: 'user', id: userId }, [{ type: 'user.password_reset', subject: userId, data: userData(user) }]);
    return user;
  }

  /**
   * `user.deleted` is published before the row goes, in the same transaction: the endpoints that
   * could see the user (through their project access, deleted with them) are the ones told.
   */
  async delete(email: string, actor: Actor = SYSTEM_ACTOR): Promise<void> {
    const user = await this.get(email);
    await this.prisma.$transaction(async (tx) => {
      await this.events.inTransaction(tx, actor, [{ type: 'user.deleted', subject: user.id, data: userData(user) }]);
      await signOutEverywhere({ tx, events: this.events, actor, reason: 'deleted' }, user.id);
      // Deleted meanwhile by someone else: P2025, and this transaction's event goes with it.
      await tx.user.delete({ where: { id: user.id } });
    });
  }
}

/** `user.updated`, naming what changed (never its value when it is a secret). */
const updatedEvent = (user: User, changed: 'disabled') => ({ type: 'user.updated', subject: user.id, data: { ...userData(user), changed: [changed] } });

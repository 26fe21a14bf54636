// API keys for scripts and research apps: `nxk_<env>_<43 chars>` (256 random bits), shown once,
// stored only as a SHA-256 hash (the key's entropy makes a slow hash unnecessary). A key is
// exchanged at the token endpoint for a short-lived JWT (see oidc/token-exchange.ts).
import type { ApiKey, PrismaClient, User } from '../generated/prisma/client.js';
import { randomSecret, sha256Hex } from '../secrets/tokens.js';
import { isUuid } from '../db/ids.js';
import { HubEvents, SYSTEM_ACTOR, type Actor, type EventPublisher } from './identity-events.js';

export const API_KEY_ENVIRONMENTS = ['live', 'test'] as const;
export type ApiKeyEnvironment = (typeof API_KEY_ENVIRONMENTS)[number];

const KEY_PATTERN = /^nxk_(live|test)_[A-Za-z0-9_-]{43}$/;

export class ApiKeyError extends Error {
  constructor(readonly code: 'invalid_env' | 'invalid_expiry' | 'invalid_rate_limit' | 'invalid_name' | 'not_found' | 'invalid_key' | 'too_many_keys', message: string) {
    super(message);
    this.name = 'ApiKeyError';
  }
}

export interface ApiKeyInfo {
  id: string;
  userId: string;
  email: string;
  name: string;
  env: ApiKeyEnvironment;
  /** The first characters of the key, to recognise it in lists. */
  prefix: string;
  rateLimit: number | null;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  createdAt: Date;
}

/** Parses `30d`, `12h`, `90m` or `3600s` into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d{1,6})([smhd])$/.exec(text.trim());
  if (!match) throw new ApiKeyError('invalid_expiry', `"${text}" is not a duration: use a number followed by s, m, h or d (e.g. 30d)`);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  const ms = Number(match[1]) * unit;
  if (ms <= 0) throw new ApiKeyError('invalid_expiry', 'the duration must be positive');
  return ms;
}

function toInfo(row: ApiKey & { user: { email: string } }): ApiKeyInfo {
  return {
    id: row.id, userId: row.userId, email: row.user.email, name: row.name, env: row.env as ApiKeyEnvironment, prefix: row.prefix,
    rateLimit: row.rateLimit, lastUsedAt: row.lastUsedAt, expiresAt: row.expiresAt, revokedAt: row.revokedAt, createdAt: row.createdAt,
  };
}

export interface NewApiKey {
  userId: string;
  name: string;
  env: string;
  /** Exchanges per minute; unset means no limit. */
  rateLimit?: number;
  /** Lifetime, e.g. `30d`; unset means it does not expire. */
  expiresIn?: string;
  /** At most this many usable (neither revoked nor expired) keys for the user, this one included. */
  maxUsable?: number;
}

/** What `apikey.*` events carry of a key: never the key or its hash. */
const keyEvent = (type: 'apikey.created' | 'apikey.revoked', info: ApiKeyInfo) =>
  ({ type, subject: info.userId, data: { id: info.id, name: info.name, env: info.env, prefix: info.prefix } });

export class ApiKeys {
  private readonly events: HubEvents;

  constructor(private readonly prisma: PrismaClient, publisher?: EventPublisher) {
    this.events = new HubEvents(prisma, publisher);
  }

  /** Creates a key. The returned `key` is the only time the secret exists outside its hash. */
  async create({ userId, name, env, rateLimit, expiresIn, maxUsable }: NewApiKey, actor: Actor = SYSTEM_ACTOR): Promise<{ key: string; info: ApiKeyInfo }> {
    if (!(API_KEY_ENVIRONMENTS as readonly string[]).includes(env)) throw new ApiKeyError('invalid_env', 'env must be live or test');
    if (!name.trim() || name.length > 100) throw new ApiKeyError('invalid_name', 'name must be 1 to 100 characters');
    // Key names are printed in lists, logs of the CLI and pages: no NUL, newlines or other controls.
    if (/\p{Cc}/u.test(name)) throw new ApiKeyError('invalid_name', 'name must not contain control characters');
    if (rateLimit !== undefined && (!Number.isInteger(rateLimit) || rateLimit < 1 || rateLimit > 100_000)) {
      throw new ApiKeyError('invalid_rate_limit', 'rate limit must be a whole number of requests per minute from 1 to 100000');
    }
    const expiresAt = expiresIn ? new Date(Date.now() + parseDuration(expiresIn)) : null;
    const key = `nxk_${env}_${randomSecret(32)}`;
    const info = await this.prisma.$transaction(async (tx) => {
      if (maxUsable !== undefined) {
        // Serialised per user, so parallel creations cannot all pass the count.
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`apikeys:${userId}`}))`;
        const usable = await tx.apiKey.count({ where: { userId, revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] } });
        if (usable >= maxUsable) throw new ApiKeyError('too_many_keys', `you already have ${usable} API keys in use, the most one account may hold: revoke one you no longer need first`);
      }
      const created = toInfo(await tx.apiKey.create({
        data: { userId, name: name.trim(), env, prefix: key.slice(0, 13), keyHash: sha256Hex(key), rateLimit: rateLimit ?? null, expiresAt },
        include: { user: { select: { email: true } } },
      }));
      await this.events.inTransaction(tx, actor, [keyEvent('apikey.created', created)]);
      return created;
    });
    return { key, info };
  }

  async list(userId?: string): Promise<ApiKeyInfo[]> {
    const rows = await this.prisma.apiKey.findMany({
      where: userId ? { userId } : {},
      include: { user: { select: { email: true } } },
      orderBy: { createdAt: 'asc' },
    });
    return rows.map(toInfo);
  }

  /**
   * Revokes a key; `apikey.revoked` only the first time (revoking twice is one change). With
   * `ownerId`, only that user's key: another user's id is not found.
   */
  async revoke(id: string, actor: Actor = SYSTEM_ACTOR, ownerId?: string): Promise<ApiKeyInfo> {
    if (!isUuid(id)) throw new ApiKeyError('not_found', `no API key with id ${id}`);
    const mine = { id, ...(ownerId ? { userId: ownerId } : {}) };
    return this.prisma.$transaction(async (tx) => {
      const { count } = await tx.apiKey.updateMany({ where: { ...mine, revokedAt: null }, data: { revokedAt: new Date() } });
      const row = await tx.apiKey.findFirst({ where: mine, include: { user: { select: { email: true } } } });
      if (!row) throw new ApiKeyError('not_found', `no API key with id ${id}`);
      const info = toInfo(row);
      if (count) await this.events.inTransaction(tx, actor, [keyEvent('apikey.revoked', info)]);
      return info;
    });
  }

  /**
   * The key's record and owner when the key is valid (known, not revoked, not expired, owner
   * enabled); records its use. Lookup is by hash, so no secret is ever compared directly.
   */
  async verify(presented: string): Promise<{ info: ApiKeyInfo; user: User }> {
    if (!KEY_PATTERN.test(presented)) throw new ApiKeyError('invalid_key', 'not a Nexus API key');
    const row = await this.prisma.apiKey.findUnique({ where: { keyHash: sha256Hex(presented) }, include: { user: true } });
    if (!row) throw new ApiKeyError('invalid_key', 'unknown API key');
    if (row.revokedAt) throw new ApiKeyError('invalid_key', 'the API key was revoked');
    if (row.expiresAt && row.expiresAt <= new Date()) throw new ApiKeyError('invalid_key', 'the API key has expired');
    if (row.user.disabledAt) throw new ApiKeyError('invalid_key', 'the API key owner is disabled');
    const updated = await this.prisma.apiKey.update({ where: { id: row.id }, data: { lastUsedAt: new Date() }, include: { user: { select: { email: true } } } });
    return { info: toInfo(updated), user: row.user };
  }
}

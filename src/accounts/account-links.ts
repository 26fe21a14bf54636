// Links mailed to a user that prove they read that mailbox: verify an address, reset a password,
// move the account to a new address. The link carries a random token; only its SHA-256 is
// stored (a dump of account_tokens opens no account). Spending one is a compare-and-set, so of
// any number of concurrent uses exactly one succeeds.
import type { Prisma } from '../generated/prisma/client.js';
import { randomSecret, sha256Hex } from '../secrets/tokens.js';

const HOUR = 3600;

/** What each kind of link does, where it opens, and for how long it works. */
export const LINK_PURPOSES = {
  verify_email: { path: '/account/verify', ttlSeconds: 24 * HOUR },
  reset_password: { path: '/account/reset', ttlSeconds: HOUR / 2 },
  change_email: { path: '/account/email/confirm', ttlSeconds: 24 * HOUR },
} as const;
export type LinkPurpose = keyof typeof LINK_PURPOSES;

/** The account a spent link belongs to, and the address it was sent to. */
export interface LinkHolder {
  userId: string;
  email: string;
}

// randomSecret(32): 43 base64url characters. Anything else (NUL, 100 KB, another alphabet) was
// never issued, so it is refused without a statement.
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

const hashOf = (token: unknown) => (typeof token === 'string' && TOKEN_SHAPE.test(token) ? sha256Hex(token) : undefined);

export class AccountLinks {
  constructor(private readonly issuer: string) {}

  /**
   * A new link of `purpose` to the user's `email`, inside `tx` (it exists only if the change that
   * sends it commits). The user's older unused links of the same purpose stop working: only the
   * latest mail is the one to click.
   */
  async issue(tx: Prisma.TransactionClient, purpose: LinkPurpose, userId: string, email: string): Promise<string> {
    const token = randomSecret(32);
    const { path, ttlSeconds } = LINK_PURPOSES[purpose];
    await tx.accountToken.updateMany({ where: { userId, purpose, consumedAt: null }, data: { consumedAt: new Date() } });
    await tx.accountToken.create({ data: { userId, purpose, email, tokenHash: sha256Hex(token), expiresAt: new Date(Date.now() + ttlSeconds * 1000) } });
    // From ISSUER only, never from the request's Host: a forged Host must not forge the link.
    return `${this.issuer}${path}?token=${token}`;
  }

  /** Spends the link: its holder the first time, inside `db`'s transaction; undefined if unknown, used or expired. */
  async spend(db: Prisma.TransactionClient, purpose: LinkPurpose, token: unknown): Promise<LinkHolder | undefined> {
    const hash = hashOf(token);
    if (!hash) return undefined;
    const rows = await db.$queryRaw<LinkHolder[]>`UPDATE account_tokens SET consumed_at = now()
      WHERE token_hash = ${hash} AND purpose = ${purpose} AND consumed_at IS NULL AND expires_at > now()
      RETURNING user_id::text AS "userId", email`;
    return rows[0];
  }

  /** Whether the link would work now (the page that shows its button); spends nothing. */
  async isLive(db: Prisma.TransactionClient, purpose: LinkPurpose, token: unknown): Promise<boolean> {
    const hash = hashOf(token);
    if (!hash) return false;
    const live = await db.accountToken.count({ where: { tokenHash: hash, purpose, consumedAt: null, expiresAt: { gt: new Date() } } });
    return live > 0;
  }

  /** Every unused link of the user stops working (the address they were mailed to is no longer theirs). */
  async retireAll(tx: Prisma.TransactionClient, userId: string): Promise<void> {
    await tx.accountToken.updateMany({ where: { userId, consumedAt: null }, data: { consumedAt: new Date() } });
  }

  /** What a link's page binds its form to (the CSRF subject): the link itself, never the token in clear. */
  static formSubject(token: unknown): string {
    return `link:${hashOf(token) ?? 'none'}`;
  }
}

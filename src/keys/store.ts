// Signing keys (RS256, published in the JWKS) and cookie-signing keys, persisted in PostgreSQL
// with private parts sealed by the master key. The newest active signing key signs; older
// active ones stay published so tokens they signed still verify; retired ones are withdrawn.
import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { SecretBox } from '../secrets/box.js';

const generateRsa = promisify(generateKeyPair);
const KEY_CREATION_LOCK = 0x6b657973; // "keys"
/** For the lock and the inserts of a first start (instances starting together wait on each other). */
const ENSURE_TIMEOUT_MS = 30_000;

export const SIGNING_ALG = 'RS256';

export interface KeyInfo {
  kid: string;
  use: 'sig' | 'cookie';
  alg: string;
  createdAt: Date;
  retiredAt: Date | null;
  /** Whether this key signs new tokens (the newest active signing key). */
  current: boolean;
}

export interface LoadedKeys {
  /** Private JWKs for oidc-provider, newest first: the first one signs. */
  jwks: { keys: JWK[] };
  /** Cookie keys, newest first: the first signs, all verify. */
  cookieKeys: string[];
}

async function newSigningKey() {
  const { privateKey } = await generateRsa('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  // The creation date tells operators which key is which; 96 bits of the RFC 7638 thumbprint
  // keep kids unique. Never starts with "-", so it is safe as a command-line argument.
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '');
  const kid = `${day}-${(await calculateJwkThumbprint(jwk)).slice(0, 16)}`;
  const { kty, n, e } = jwk;
  return { kid, privateJwk: { ...jwk, kid, alg: SIGNING_ALG, use: 'sig' }, publicJwk: { kty, n, e, kid, alg: SIGNING_ALG, use: 'sig' } };
}

export class KeyStore {
  constructor(private readonly prisma: PrismaClient, private readonly box: SecretBox) {}

  /** Creates the first signing key and cookie key if the database has none (safe to race). */
  async ensure(): Promise<void> {
    const missing = await this.missingUses(this.prisma);
    if (missing.size === 0) return;
    // The RSA key is generated before the transaction: on a loaded machine it took longer than
    // Prisma's 5 s for an interactive transaction, while holding the lock every other starting
    // instance waits on. A key made here and not needed (another instance stored one first) is
    // dropped.
    const made = { sig: missing.has('sig') ? await this.sealSigningKey() : undefined, cookie: this.sealCookieKey() };
    await this.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${KEY_CREATION_LOCK})`;
      const still = await this.missingUses(tx);
      if (still.has('sig')) await tx.key.create({ data: made.sig ?? (await this.sealSigningKey()) });
      if (still.has('cookie')) await tx.key.create({ data: made.cookie });
    }, { maxWait: ENSURE_TIMEOUT_MS, timeout: ENSURE_TIMEOUT_MS });
  }

  /** The uses ('sig', 'cookie') that have no active key. */
  private async missingUses(db: Pick<PrismaClient, 'key'>): Promise<Set<string>> {
    const active = await db.key.groupBy({ by: ['use'], where: { retiredAt: null }, _count: true });
    const has = new Set(active.map((row) => row.use));
    return new Set(['sig', 'cookie'].filter((use) => !has.has(use)));
  }

  async load(): Promise<LoadedKeys> {
    const rows = await this.prisma.key.findMany({
      where: { retiredAt: null },
      orderBy: [{ createdAt: 'desc' }, { kid: 'asc' }],
    });
    const jwks: JWK[] = [];
    const cookieKeys: string[] = [];
    for (const row of rows) {
      const secret = this.box.open(row.privateEncrypted, `key:${row.kid}`);
      if (row.use === 'sig') jwks.push(JSON.parse(secret) as JWK);
      else cookieKeys.push(secret);
    }
    return { jwks: { keys: jwks }, cookieKeys };
  }

  async list(): Promise<KeyInfo[]> {
    const rows = await this.prisma.key.findMany({ orderBy: [{ createdAt: 'desc' }, { kid: 'asc' }] });
    const currentByUse = new Map<string, string>();
    for (const row of rows) if (!row.retiredAt && !currentByUse.has(row.use)) currentByUse.set(row.use, row.kid);
    return rows.map((row) => ({
      kid: row.kid,
      use: row.use as KeyInfo['use'],
      alg: row.alg,
      createdAt: row.createdAt,
      retiredAt: row.retiredAt,
      current: currentByUse.get(row.use) === row.kid,
    }));
  }

  /** Adds a new signing key (and a new cookie key); it signs from the next reload on. */
  async rotate(): Promise<KeyInfo> {
    const data = await this.sealSigningKey();
    const row = await this.prisma.key.create({ data });
    await this.prisma.key.create({ data: this.sealCookieKey() });
    return { kid: row.kid, use: 'sig', alg: row.alg, createdAt: row.createdAt, retiredAt: null, current: true };
  }

  /** Withdraws a key from the JWKS. The current signing key cannot be retired: rotate first. */
  async retire(kid: string): Promise<KeyInfo> {
    const keys = await this.list();
    const key = keys.find((k) => k.kid === kid);
    if (!key) throw new KeyError('not_found', `no key with kid ${kid}`);
    if (key.retiredAt) throw new KeyError('already_retired', `key ${kid} is already retired`);
    if (key.current) throw new KeyError('current_key', `key ${kid} signs current tokens; run \`nexus keys rotate\` first`);
    const row = await this.prisma.key.update({ where: { kid }, data: { retiredAt: new Date() } });
    return { ...key, retiredAt: row.retiredAt };
  }

  private async sealSigningKey() {
    const { kid, privateJwk, publicJwk } = await newSigningKey();
    return {
      kid,
      use: 'sig',
      alg: SIGNING_ALG,
      publicJwk,
      privateEncrypted: this.box.seal(JSON.stringify(privateJwk), `key:${kid}`),
    };
  }

  private sealCookieKey() {
    const kid = `cookie-${randomBytes(8).toString('hex')}`;
    return {
      kid,
      use: 'cookie',
      alg: 'HS256',
      privateEncrypted: this.box.seal(randomBytes(32).toString('base64url'), `key:${kid}`),
    };
  }
}

export class KeyError extends Error {
  constructor(readonly code: 'not_found' | 'already_retired' | 'current_key', message: string) {
    super(message);
    this.name = 'KeyError';
  }
}

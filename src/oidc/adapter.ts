// oidc-provider storage in PostgreSQL: every model in one table keyed by (model, id), with
// indexed grant_id / user_code / uid for the adapter's lookups. Clients are not stored here:
// they come from the client registry. Expired rows are ignored on read and swept periodically.
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { ClientRegistry } from '../clients/registry.js';
import type pg from 'pg';
import { sqlPoolOf, sqlTimestamp } from '../accounts/sql-pool.js';

// The ids, uids and user codes oidc-provider makes are 8–64 characters. Anything a caller sends
// that is longer, or that holds a NUL byte (which PostgreSQL refuses in text and would turn into
// a 500), cannot name a record: it is simply not found.
const MAX_KEY_LENGTH = 512;
function isLookupKey(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_KEY_LENGTH && !value.includes('\0');
}

function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\0');
  if (Array.isArray(value)) return value.some(containsNul);
  if (value && typeof value === 'object') return Object.entries(value).some(([key, inner]) => key.includes('\0') || containsNul(inner));
  return false;
}

/** A row as the adapter selects it: `consumed` is consumed_at in whole seconds since the epoch. */
interface PayloadRow { payload: AdapterPayload; consumed: number | null }

// consumed_at is a `timestamp(3)` holding UTC (as Prisma writes it): its epoch is taken as UTC.
const SELECT_PAYLOAD = 'SELECT payload, floor(extract(epoch FROM consumed_at))::float8 AS consumed FROM oidc_payloads';
const NOT_EXPIRED = '(expires_at IS NULL OR expires_at > $3)';

function toPayload(row: PayloadRow | undefined): AdapterPayload | undefined {
  if (!row) return undefined;
  return row.consumed !== null ? { ...row.payload, consumed: row.consumed } : row.payload;
}

const UPSERT = `INSERT INTO oidc_payloads (model, id, payload, grant_id, account_id, user_code, uid, expires_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
  ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id, account_id = EXCLUDED.account_id,
    user_code = EXCLUDED.user_code, uid = EXCLUDED.uid, expires_at = EXCLUDED.expires_at`;

/**
 * `pool`: the pg pool Prisma runs on (by default the one under `prisma`). The adapter runs on
 * every OpenID request, several statements each, so it sends plain SQL through `pg`: Prisma's
 * query engine costs ~10× the CPU of the statement itself (see src/accounts/sql-pool.ts). The
 * statements of every login are named (prepared once per connection): PostgreSQL then skips
 * parsing and planning them on each call.
 */
export function createAdapterFactory(prisma: PrismaClient, clients: ClientRegistry, pool: pg.Pool = sqlPoolOf(prisma)) {
  class ClientAdapter implements Adapter {
    async find(id: string) {
      if (!isLookupKey(id)) return undefined;
      return (await clients.findOidcMetadata(id)) as AdapterPayload | undefined;
    }
    async upsert() { throw new Error('clients are managed by the client registry'); }
    async findByUserCode() { return undefined; }
    async findByUid() { return undefined; }
    async consume() {}
    async destroy() {}
    async revokeByGrantId() {}
  }

  /** Deletes every record issued under a grant, and the grant itself. */
  async function revokeGrant(grantId: string) {
    await pool.query('DELETE FROM oidc_payloads WHERE grant_id = $1 OR (model = \'Grant\' AND id = $1)', [grantId]);
  }

  class PostgresAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number) {
      // PostgreSQL cannot store a NUL character in jsonb. Payloads carry request parameters
      // (state, login_hint, ui_locales, ...), so such a request is invalid, not a server error.
      if (containsNul(payload)) throw new errors.InvalidRequest('request parameters must not contain NUL characters');
      await pool.query({
        name: 'oidc-upsert',
        text: UPSERT,
        values: [
          this.model, id, JSON.stringify(payload),
          payload.grantId ?? null, payload.accountId ?? null, payload.userCode ?? null, payload.uid ?? null,
          expiresIn ? sqlTimestamp(new Date(Date.now() + expiresIn * 1000)) : null,
        ],
      });
    }

    private async findWhere(column: 'id' | 'user_code' | 'uid', value: string) {
      const { rows } = await pool.query<PayloadRow>({
        name: `oidc-find-by-${column}`,
        text: `${SELECT_PAYLOAD} WHERE model = $1 AND ${column} = $2 AND ${NOT_EXPIRED} LIMIT 1`,
        values: [this.model, value, sqlTimestamp(new Date())],
      });
      return toPayload(rows[0]);
    }

    async find(id: string) {
      if (!isLookupKey(id)) return undefined;
      return this.findWhere('id', id);
    }

    async findByUserCode(userCode: string) {
      if (!isLookupKey(userCode)) return undefined;
      return this.findWhere('user_code', userCode);
    }

    async findByUid(uid: string) {
      if (!isLookupKey(uid)) return undefined;
      return this.findWhere('uid', uid);
    }

    /**
     * Marks a code or token spent, as a compare-and-set: of concurrent redemptions that all read
     * it unspent, exactly one wins. oidc-provider checks `consumed` on the payload it read earlier
     * and treats a consumed one as reuse; a loser here is the same reuse, caught a moment later,
     * so it gets the same answer: invalid_grant, and the grant with every token issued under it
     * is revoked (the winner's new tokens die with it: one of the two parties is an attacker).
     */
    async consume(id: string) {
      const { rowCount } = await pool.query({
        name: 'oidc-consume',
        text: 'UPDATE oidc_payloads SET consumed_at = $3 WHERE model = $1 AND id = $2 AND consumed_at IS NULL',
        values: [this.model, id, sqlTimestamp(new Date())],
      });
      if (rowCount === 1) return;
      const { rows } = await pool.query<{ grant_id: string | null }>('SELECT grant_id FROM oidc_payloads WHERE model = $1 AND id = $2', [this.model, id]);
      const grantId = rows[0]?.grant_id;
      if (grantId) await revokeGrant(grantId);
      throw new errors.InvalidGrant(`${this.model} already used`);
    }

    async destroy(id: string) {
      if (!isLookupKey(id)) return;
      await pool.query({ name: 'oidc-destroy', text: 'DELETE FROM oidc_payloads WHERE model = $1 AND id = $2', values: [this.model, id] });
    }

    // A grant's codes, tokens and sessions share its grantId; all of them go.
    async revokeByGrantId(grantId: string) {
      if (!isLookupKey(grantId)) return;
      await pool.query('DELETE FROM oidc_payloads WHERE grant_id = $1', [grantId]);
    }
  }

  return function adapterFor(model: string): Adapter {
    return model === 'Client' ? new ClientAdapter() : new PostgresAdapter(model);
  };
}

/** Deletes rows that expired more than `graceSeconds` ago. Returns how many. */
export async function sweepExpired(prisma: PrismaClient, graceSeconds = 300): Promise<number> {
  const { count } = await prisma.oidcPayload.deleteMany({
    where: { expiresAt: { lt: new Date(Date.now() - graceSeconds * 1000) } },
  });
  return count;
}

// oidc-provider storage in PostgreSQL: every model in one table keyed by (model, id), with
// indexed grant_id / user_code / uid for the adapter's lookups. Clients are not stored here:
// they come from the client registry. Expired rows are ignored on read and swept periodically.
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { PrismaClient } from '../generated/prisma/client.js';
import { Prisma } from '../generated/prisma/client.js';
import type { ClientRegistry } from '../clients/registry.js';

const notExpired = () => ({ OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] });

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

function toPayload(row: { payload: Prisma.JsonValue; consumedAt: Date | null } | null): AdapterPayload | undefined {
  if (!row) return undefined;
  const payload = row.payload as AdapterPayload;
  return row.consumedAt ? { ...payload, consumed: Math.floor(row.consumedAt.getTime() / 1000) } : payload;
}

export function createAdapterFactory(prisma: PrismaClient, clients: ClientRegistry) {
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
    await prisma.oidcPayload.deleteMany({ where: { OR: [{ grantId }, { model: 'Grant', id: grantId }] } });
  }

  class PrismaAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number) {
      // PostgreSQL cannot store a NUL character in jsonb. Payloads carry request parameters
      // (state, login_hint, ui_locales, ...), so such a request is invalid, not a server error.
      if (containsNul(payload)) throw new errors.InvalidRequest('request parameters must not contain NUL characters');
      const data = {
        payload: payload as Prisma.InputJsonValue,
        grantId: payload.grantId ?? null,
        accountId: payload.accountId ?? null,
        userCode: payload.userCode ?? null,
        uid: payload.uid ?? null,
        expiresAt: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
      };
      await prisma.oidcPayload.upsert({
        where: { model_id: { model: this.model, id } },
        create: { model: this.model, id, ...data },
        update: data,
      });
    }

    async find(id: string) {
      if (!isLookupKey(id)) return undefined;
      return toPayload(await prisma.oidcPayload.findFirst({ where: { model: this.model, id, ...notExpired() } }));
    }

    async findByUserCode(userCode: string) {
      if (!isLookupKey(userCode)) return undefined;
      return toPayload(await prisma.oidcPayload.findFirst({ where: { model: this.model, userCode, ...notExpired() } }));
    }

    async findByUid(uid: string) {
      if (!isLookupKey(uid)) return undefined;
      return toPayload(await prisma.oidcPayload.findFirst({ where: { model: this.model, uid, ...notExpired() } }));
    }

    /**
     * Marks a code or token spent, as a compare-and-set: of concurrent redemptions that all read
     * it unspent, exactly one wins. oidc-provider checks `consumed` on the payload it read earlier
     * and treats a consumed one as reuse; a loser here is the same reuse, caught a moment later,
     * so it gets the same answer: invalid_grant, and the grant with every token issued under it
     * is revoked (the winner's new tokens die with it: one of the two parties is an attacker).
     */
    async consume(id: string) {
      const { count } = await prisma.oidcPayload.updateMany({
        where: { model: this.model, id, consumedAt: null },
        data: { consumedAt: new Date() },
      });
      if (count === 1) return;
      const spent = await prisma.oidcPayload.findUnique({ where: { model_id: { model: this.model, id } }, select: { grantId: true } });
      if (spent?.grantId) await revokeGrant(spent.grantId);
      throw new errors.InvalidGrant(`${this.model} already used`);
    }

    async destroy(id: string) {
      if (!isLookupKey(id)) return;
      await prisma.oidcPayload.deleteMany({ where: { model: this.model, id } });
    }

    // A grant's codes, tokens and sessions share its grantId; all of them go.
    async revokeByGrantId(grantId: string) {
      if (!isLookupKey(grantId)) return;
      await prisma.oidcPayload.deleteMany({ where: { grantId } });
    }
  }

  return function adapterFor(model: string): Adapter {
    return model === 'Client' ? new ClientAdapter() : new PrismaAdapter(model);
  };
}

/** Deletes rows that expired more than `graceSeconds` ago. Returns how many. */
export async function sweepExpired(prisma: PrismaClient, graceSeconds = 300): Promise<number> {
  const { count } = await prisma.oidcPayload.deleteMany({
    where: { expiresAt: { lt: new Date(Date.now() - graceSeconds * 1000) } },
  });
  return count;
}

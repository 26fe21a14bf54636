// oidc-provider storage in PostgreSQL: every model in one table keyed by (model, id), with
// indexed grant_id / user_code / uid for the adapter's lookups. Clients are not stored here:
// they come from the client registry. Expired rows are ignored on read and swept periodically.
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { PrismaClient } from '../generated/prisma/client.js';
import { Prisma } from '../generated/prisma/client.js';
import type { ClientRegistry } from '../clients/registry.js';

const notExpired = () => ({ OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] });

function toPayload(row: { payload: Prisma.JsonValue; consumedAt: Date | null } | null): AdapterPayload | undefined {
  if (!row) return undefined;
  const payload = row.payload as AdapterPayload;
  return row.consumedAt ? { ...payload, consumed: Math.floor(row.consumedAt.getTime() / 1000) } : payload;
}

export function createAdapterFactory(prisma: PrismaClient, clients: ClientRegistry) {
  class ClientAdapter implements Adapter {
    async find(id: string) {
      return (await clients.findOidcMetadata(id)) as AdapterPayload | undefined;
    }
    async upsert() { throw new Error('clients are managed by the client registry'); }
    async findByUserCode() { return undefined; }
    async findByUid() { return undefined; }
    async consume() {}
    async destroy() {}
    async revokeByGrantId() {}
  }

  class PrismaAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number) {
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
      return toPayload(await prisma.oidcPayload.findFirst({ where: { model: this.model, id, ...notExpired() } }));
    }

    async findByUserCode(userCode: string) {
      return toPayload(await prisma.oidcPayload.findFirst({ where: { model: this.model, userCode, ...notExpired() } }));
    }

    async findByUid(uid: string) {
      return toPayload(await prisma.oidcPayload.findFirst({ where: { model: this.model, uid, ...notExpired() } }));
    }

    async consume(id: string) {
      await prisma.oidcPayload.updateMany({ where: { model: this.model, id }, data: { consumedAt: new Date() } });
    }

    async destroy(id: string) {
      await prisma.oidcPayload.deleteMany({ where: { model: this.model, id } });
    }

    // A grant's codes, tokens and sessions share its grantId; all of them go.
    async revokeByGrantId(grantId: string) {
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

// The registered projects: storage, secrets, and the cached view oidc-provider reads on every
// request. The cache is refreshed on change notifications and expires after CACHE_TTL_MS anyway.
import type { PrismaClient } from '../generated/prisma/client.js';
import { Prisma } from '../generated/prisma/client.js';
import type { SecretBox } from '../secrets/box.js';
import { randomSecret } from '../secrets/tokens.js';
import { parseClientDefinition, TOKEN_EXCHANGE_GRANT, type ClientDefinition } from './definition.js';

export const CACHE_TTL_MS = 30_000;

export interface RegisteredClient extends ClientDefinition {
  enabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export class ClientError extends Error {
  constructor(readonly code: 'not_found' | 'already_exists' | 'public_client', message: string) {
    super(message);
    this.name = 'ClientError';
  }
}

type Row = {
  id: string;
  audience: string;
  definition: Prisma.JsonValue;
  secretEncrypted: string | null;
  enabled: boolean;
  createdAt: Date;
  updatedAt: Date;
};

/** A unique-constraint violation becomes `already_exists`; anything else is returned as is. */
function uniqueViolation(error: unknown, message: string): unknown {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002' ? new ClientError('already_exists', message) : error;
}

function toClient(row: Row): RegisteredClient {
  const definition = row.definition as Omit<ClientDefinition, 'id' | 'audience'>;
  return { ...definition, id: row.id, audience: row.audience, enabled: row.enabled, createdAt: row.createdAt, updatedAt: row.updatedAt };
}

function storedDefinition({ id: _id, audience: _audience, ...rest }: ClientDefinition) {
  return rest as unknown as Prisma.InputJsonValue;
}

/** oidc-provider client metadata for a project. */
export function toOidcMetadata(client: ClientDefinition, secret: string | undefined) {
  return {
    client_id: client.id,
    client_name: client.name,
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris,
    grant_types: client.public ? client.grantTypes : [...client.grantTypes, TOKEN_EXCHANGE_GRANT],
    response_types: client.grantTypes.includes('authorization_code') ? ['code'] : [],
    token_endpoint_auth_method: client.public ? 'none' : 'client_secret_basic',
    ...(client.public ? {} : { client_secret: secret }),
  };
}

interface CachedEntry {
  client: RegisteredClient;
  /** oidc-provider metadata, built once per load: it is read on every token request. */
  metadata: ReturnType<typeof toOidcMetadata>;
}

export class ClientRegistry {
  private cache: Map<string, CachedEntry> | undefined;
  private cachedAt = 0;
  private loading: Promise<Map<string, CachedEntry>> | undefined;

  constructor(private readonly prisma: PrismaClient, private readonly box: SecretBox) {}

  // --- cached reads (hot path) -------------------------------------------------------------

  invalidate() {
    this.cachedAt = 0;
  }

  private async entries(): Promise<Map<string, CachedEntry>> {
    if (this.cache && Date.now() - this.cachedAt < CACHE_TTL_MS) return this.cache;
    this.loading ??= this.loadAll().finally(() => { this.loading = undefined; });
    return this.loading;
  }

  private async loadAll() {
    const rows = await this.prisma.oAuthClient.findMany({ where: { enabled: true } });
    const map = new Map<string, CachedEntry>();
    for (const row of rows) {
      const client = toClient(row);
      const secret = row.secretEncrypted ? this.box.open(row.secretEncrypted, `client:${row.id}`) : undefined;
      map.set(row.id, { client, metadata: toOidcMetadata(client, secret) });
    }
    this.cache = map;
    this.cachedAt = Date.now();
    return map;
  }

  /** An enabled client, as oidc-provider metadata (secret included). */
  async findOidcMetadata(id: string) {
    return (await this.entries()).get(id)?.metadata;
  }

  async findEnabled(id: string): Promise<RegisteredClient | undefined> {
    return (await this.entries()).get(id)?.client;
  }

  async findByAudience(audience: string): Promise<RegisteredClient | undefined> {
    for (const { client } of (await this.entries()).values()) if (client.audience === audience) return client;
    return undefined;
  }

  // --- administration ----------------------------------------------------------------------

  async list(): Promise<RegisteredClient[]> {
    return (await this.prisma.oAuthClient.findMany({ orderBy: { id: 'asc' } })).map(toClient);
  }

  async get(id: string): Promise<RegisteredClient> {
    const row = await this.prisma.oAuthClient.findUnique({ where: { id } });
    if (!row) throw new ClientError('not_found', `no client with id "${id}"`);
    return toClient(row);
  }

  /** Registers a project. Returns the generated secret (shown once) for confidential clients. */
  async add(input: unknown): Promise<{ client: RegisteredClient; secret: string | undefined }> {
    const definition = parseClientDefinition(input);
    const secret = definition.public ? undefined : randomSecret(32);
    try {
      const row = await this.prisma.oAuthClient.create({
        data: {
          id: definition.id,
          audience: definition.audience,
          definition: storedDefinition(definition),
          secretEncrypted: secret ? this.box.seal(secret, `client:${definition.id}`) : null,
        },
      });
      this.invalidate();
      return { client: toClient(row), secret };
    } catch (error) {
      throw uniqueViolation(error, `a client with id "${definition.id}" or audience "${definition.audience}" already exists`);
    }
  }

  /** Replaces a project's definition; a confidential client keeps its secret (or gets one). */
  async update(id: string, input: unknown): Promise<{ client: RegisteredClient; secret: string | undefined }> {
    const current = await this.get(id);
    const definition = parseClientDefinition({ ...current, ...(input as object), id });
    const existing = await this.prisma.oAuthClient.findUniqueOrThrow({ where: { id } });
    const secret = !definition.public && !existing.secretEncrypted ? randomSecret(32) : undefined;
    try {
      const row = await this.prisma.oAuthClient.update({
        where: { id },
        data: {
          audience: definition.audience,
          definition: storedDefinition(definition),
          ...(definition.public ? { secretEncrypted: null } : {}),
          ...(secret ? { secretEncrypted: this.box.seal(secret, `client:${id}`) } : {}),
        },
      });
      this.invalidate();
      return { client: toClient(row), secret };
    } catch (error) {
      throw uniqueViolation(error, `another client already uses audience "${definition.audience}"`);
    }
  }

  async rotateSecret(id: string): Promise<string> {
    const client = await this.get(id);
    if (client.public) throw new ClientError('public_client', `client "${id}" is public and has no secret`);
    const secret = randomSecret(32);
    await this.prisma.oAuthClient.update({ where: { id }, data: { secretEncrypted: this.box.seal(secret, `client:${id}`) } });
    this.invalidate();
    return secret;
  }

  async setEnabled(id: string, enabled: boolean): Promise<RegisteredClient> {
    await this.get(id);
    const row = await this.prisma.oAuthClient.update({ where: { id }, data: { enabled } });
    this.invalidate();
    return toClient(row);
  }

  async remove(id: string): Promise<void> {
    await this.get(id);
    await this.prisma.oAuthClient.delete({ where: { id } });
    this.invalidate();
  }
}

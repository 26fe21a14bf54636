// The registered projects: storage, secrets, and the cached view oidc-provider reads on every
// request. The cache is refreshed on change notifications and expires after CACHE_TTL_MS anyway.
import { isDeepStrictEqual } from 'node:util';
import type { PrismaClient } from '../generated/prisma/client.js';
import { Prisma } from '../generated/prisma/client.js';
import type { SecretBox } from '../secrets/box.js';
import { constantTimeEqual, randomSecret } from '../secrets/tokens.js';
import { ClientValidationError, parseClientDefinition, TOKEN_EXCHANGE_GRANT, type ClientDefinition } from './definition.js';
import { webhookUrlProblem } from '../events/ssrf.js';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
import { HubEvents, SYSTEM_ACTOR, type Actor, type EventPublisher } from '../accounts/identity-events.js';

export const CACHE_TTL_MS = 30_000;

/** The longest grace period a replaced secret may keep working. */
const MAX_SECRET_GRACE_MS = 30 * 86_400_000;

export interface RegisteredClient extends ClientDefinition {
  enabled: boolean;
  /** Until when the secret replaced by the last rotation still works; null when it does not. */
  rotationGraceUntil: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export class ClientError extends Error {
  constructor(readonly code: 'not_found' | 'already_exists' | 'public_client' | 'invalid_grace', message: string) {
    super(message);
    this.name = 'ClientError';
  }
}

type Row = {
  id: string;
  audience: string;
  definition: Prisma.JsonValue;
  secretEncrypted: string | null;
  previousSecretEncrypted: string | null;
  previousSecretExpiresAt: Date | null;
  enabled: boolean;
  createdAt: Date;
  updatedAt: Date;
};

/** A unique-constraint violation becomes `already_exists`; anything else is returned as is. */
function uniqueViolation(error: unknown, message: string): unknown {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002' ? new ClientError('already_exists', message) : error;
}

const sealContext = (id: string) => `client:${id}`;

/** The replaced secret, while its grace period lasts. */
function previousSecret(row: Row) {
  return row.previousSecretEncrypted && row.previousSecretExpiresAt && row.previousSecretExpiresAt.getTime() > Date.now()
    ? { sealed: row.previousSecretEncrypted, expiresAt: row.previousSecretExpiresAt }
    : undefined;
}

function toClient(row: Row): RegisteredClient {
  const definition = row.definition as unknown as Omit<ClientDefinition, 'id' | 'audience'>;
  return {
    ...definition,
    // Registered before PKCE became a per-client setting: those all required it.
    pkce: definition.pkce ?? 'required',
    // Registered before the event bus: they published nothing.
    publishes: definition.publishes ?? [],
    // Registered before verified emails could be required: they did not require them.
    requireVerifiedEmail: definition.requireVerifiedEmail ?? false,
    // Registered before second factors: they did not require one.
    requireMfa: definition.requireMfa ?? false,
    // Registered before back-channel logout: they did not require a sid.
    backchannelLogoutSessionRequired: definition.backchannelLogoutSessionRequired ?? false,
    id: row.id,
    audience: row.audience,
    enabled: row.enabled,
    rotationGraceUntil: previousSecret(row)?.expiresAt ?? null,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
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
    // oidc-provider calls the project's backchannelLogout at /session/end only when it has a URI;
    // the hub queues the token there instead of sending it (src/oidc/backchannel-logout.ts).
    ...(client.backchannelLogoutUri ? { backchannel_logout_uri: client.backchannelLogoutUri, backchannel_logout_session_required: client.backchannelLogoutSessionRequired } : {}),
    ...(client.public ? {} : { client_secret: secret }),
  };
}

type ClientEventType = 'client.created' | 'client.updated' | 'client.disabled' | 'client.enabled' | 'client.removed' | 'client.secret_rotated';

/**
 * A `client.*` event: about no user, so `data.project` names the project whose endpoints get it
 * (see src/events/store.ts). Never a secret.
 */
function clientEvent(type: ClientEventType, client: Pick<RegisteredClient, 'id' | 'name' | 'public' | 'firstParty' | 'access' | 'enabled'>, extra: Record<string, unknown> = {}) {
  return {
    type,
    data: { project: client.id, name: client.name, public: client.public, firstParty: client.firstParty, access: client.access, enabled: client.enabled, ...extra },
  };
}

interface CachedEntry {
  client: RegisteredClient;
  /** oidc-provider metadata, built once per load: it is read on every token request. */
  metadata: ReturnType<typeof toOidcMetadata>;
  /** The secret replaced with a grace period; oidc-provider knows only the current one. */
  previous?: { secret: string; expiresAt: number };
}

export class ClientRegistry {
  private cache: Map<string, CachedEntry> | undefined;
  private cachedAt = 0;
  private loading: Promise<Map<string, CachedEntry>> | undefined;

  private readonly events: HubEvents;

  /**
   * `allowPrivateUrls` (WEBHOOKS_ALLOW_PRIVATE_URLS): back-channel logout URIs may name private
   * addresses, as webhook URLs may.
   */
  constructor(private readonly prisma: PrismaClient, private readonly box: SecretBox, publisher?: EventPublisher, private readonly options: { allowPrivateUrls?: boolean } = {}) {
    this.events = new HubEvents(prisma, publisher);
  }

  /**
   * The hub POSTs to a back-channel logout URI, so it gets the webhooks' SSRF rules
   * (src/events/ssrf.ts): no private, link-local or metadata addresses. Loopback passes here, as
   * for redirect URIs (the projects of a development hub run beside it), but the delivery's
   * guarded dispatcher reaches it only with WEBHOOKS_ALLOW_PRIVATE_URLS, like any private address.
   */
  private checkReachable(definition: ClientDefinition) {
    const uri = definition.backchannelLogoutUri;
    if (!uri || LOOPBACK.has(new URL(uri).hostname)) return;
    const problem = webhookUrlProblem(uri, this.options.allowPrivateUrls ?? false);
    if (problem) throw new ClientValidationError([`client "${definition.id}": backchannelLogoutUri ${problem.replace(/^url /, '')}`]);
  }

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
      const secret = row.secretEncrypted ? this.box.open(row.secretEncrypted, sealContext(row.id)) : undefined;
      const previous = client.public ? undefined : previousSecret(row);
      map.set(row.id, {
        client,
        metadata: toOidcMetadata(client, secret),
        ...(previous ? { previous: { secret: this.box.open(previous.sealed, sealContext(row.id)), expiresAt: previous.expiresAt.getTime() } } : {}),
      });
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

  /**
   * findEnabled without a promise while the cache is fresh (the gateway's hot path): the client,
   * or null when there is no such enabled client; undefined when the cache must be loaded first.
   */
  findEnabledNow(id: string): RegisteredClient | null | undefined {
    if (!this.cache || Date.now() - this.cachedAt >= CACHE_TTL_MS) return undefined;
    return this.cache.get(id)?.client ?? null;
  }

  /**
   * Whether `presented` is the enabled client's replaced secret and its grace period lasts
   * (checked now, not at load: it ends on time without a reload). Constant time.
   */
  async matchesPreviousSecret(id: string, presented: string): Promise<boolean> {
    const previous = (await this.entries()).get(id)?.previous;
    if (!previous || previous.expiresAt <= Date.now()) return false;
    return constantTimeEqual(previous.secret, presented);
  }

  /**
   * Whether an authorization request of this client must carry PKCE. Synchronous, as
   * oidc-provider's pkce.required is: the client was just loaded through this cache by the
   * request itself. Unknown and public clients always need it.
   */
  requiresPkce(id: string): boolean {
    const client = this.cache?.get(id)?.client;
    return !client || client.public || client.pkce !== 'optional';
  }

  /** Every enabled client, from the cache (the gateway's audience covers their scopes). */
  async enabledClients(): Promise<RegisteredClient[]> {
    return [...(await this.entries()).values()].map((entry) => entry.client);
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
  async add(input: unknown, actor: Actor = SYSTEM_ACTOR): Promise<{ client: RegisteredClient; secret: string | undefined }> {
    const definition = parseClientDefinition(input);
    this.checkReachable(definition);
    const secret = definition.public ? undefined : randomSecret(32);
    try {
      const client = await this.prisma.$transaction(async (tx) => {
        const created = toClient(await tx.oAuthClient.create({
          data: {
            id: definition.id,
            audience: definition.audience,
            definition: storedDefinition(definition),
            secretEncrypted: secret ? this.box.seal(secret, sealContext(definition.id)) : null,
          },
        }));
        await this.events.inTransaction(tx, actor, [clientEvent('client.created', created)]);
        return created;
      });
      this.invalidate();
      return { client, secret };
    } catch (error) {
      throw uniqueViolation(error, `a client with id "${definition.id}" or audience "${definition.audience}" already exists`);
    }
  }

  /** Replaces a project's definition; a confidential client keeps its secret (or gets one). */
  /** `client.updated` names the definition fields that changed; none changed, no event. */
  async update(id: string, input: unknown, actor: Actor = SYSTEM_ACTOR): Promise<{ client: RegisteredClient; secret: string | undefined }> {
    const current = await this.get(id);
    const definition = parseClientDefinition({ ...current, ...(input as object), id });
    this.checkReachable(definition);
    const changed = (Object.keys(definition) as Array<keyof ClientDefinition>).filter((key) => !isDeepStrictEqual(definition[key], current[key]));
    const existing = await this.prisma.oAuthClient.findUniqueOrThrow({ where: { id } });
    const secret = !definition.public && !existing.secretEncrypted ? randomSecret(32) : undefined;
    try {
      const client = await this.prisma.$transaction(async (tx) => {
        const updated = toClient(await tx.oAuthClient.update({
          where: { id },
          data: {
            audience: definition.audience,
            definition: storedDefinition(definition),
            ...(definition.public ? { secretEncrypted: null, previousSecretEncrypted: null, previousSecretExpiresAt: null } : {}),
            ...(secret ? { secretEncrypted: this.box.seal(secret, sealContext(id)) } : {}),
          },
        }));
        if (changed.length) await this.events.inTransaction(tx, actor, [clientEvent('client.updated', updated, { changed })]);
        return updated;
      });
      this.invalidate();
      return { client, secret };
    } catch (error) {
      throw uniqueViolation(error, `another client already uses audience "${definition.audience}"`);
    }
  }

  /**
   * A new secret. With a grace period the secret it replaces keeps working until then; without,
   * it stops at once. Only one replaced secret is kept: a rotation during a grace period ends
   * the older one at once. Concurrent rotations are serialised on the row, so each moves the
   * secret it really replaced, and one of them ends up current.
   */
  async rotateSecret(id: string, graceMs = 0, actor: Actor = SYSTEM_ACTOR): Promise<{ secret: string; rotationGraceUntil: Date | null }> {
    if (!Number.isSafeInteger(graceMs) || graceMs < 0 || graceMs > MAX_SECRET_GRACE_MS) {
      throw new ClientError('invalid_grace', `the grace period must be between 0 and ${MAX_SECRET_GRACE_MS / 86_400_000}d`);
    }
    const secret = randomSecret(32);
    const sealed = this.box.seal(secret, sealContext(id));
    const previousSecretExpiresAt = graceMs > 0 ? new Date(Date.now() + graceMs) : null;
    await this.prisma.$transaction(async (tx) => {
      const [locked] = await tx.$queryRaw<Array<{ secret_encrypted: string | null }>>`SELECT secret_encrypted FROM oauth_clients WHERE id = ${id} FOR UPDATE`;
      if (!locked) throw new ClientError('not_found', `no client with id "${id}"`);
      if (!locked.secret_encrypted) throw new ClientError('public_client', `client "${id}" is public and has no secret`);
      const row = await tx.oAuthClient.update({
        where: { id },
        data: { secretEncrypted: sealed, previousSecretEncrypted: previousSecretExpiresAt ? locked.secret_encrypted : null, previousSecretExpiresAt },
      });
      await this.events.inTransaction(tx, actor, [clientEvent('client.secret_rotated', toClient(row), { rotationGraceUntil: previousSecretExpiresAt?.toISOString() ?? null })]);
    });
    this.invalidate();
    return { secret, rotationGraceUntil: previousSecretExpiresAt };
  }

  /** `client.enabled` / `client.disabled` only when it changes that. */
  async setEnabled(id: string, enabled: boolean, actor: Actor = SYSTEM_ACTOR): Promise<RegisteredClient> {
    const client = await this.prisma.$transaction(async (tx) => {
      const { count } = await tx.oAuthClient.updateMany({ where: { id, enabled: !enabled }, data: { enabled } });
      const row = await tx.oAuthClient.findUnique({ where: { id } });
      if (!row) throw new ClientError('not_found', `no client with id "${id}"`);
      const after = toClient(row);
      if (count) await this.events.inTransaction(tx, actor, [clientEvent(enabled ? 'client.enabled' : 'client.disabled', after)]);
      return after;
    });
    this.invalidate();
    return client;
  }

  /** The project's own endpoints go with it (cascade): `client.removed` reaches administrators' endpoints. */
  async remove(id: string, actor: Actor = SYSTEM_ACTOR): Promise<void> {
    const client = await this.get(id);
    await this.prisma.$transaction(async (tx) => {
      await tx.oAuthClient.delete({ where: { id } });
      await this.events.inTransaction(tx, actor, [clientEvent('client.removed', client)]);
    });
    this.invalidate();
  }
}

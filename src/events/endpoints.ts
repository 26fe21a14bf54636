// Webhook endpoints: where a project (or, without a project, the administrators) receives events.
// Secrets are sealed with the master key (the hub must sign with them, so they cannot be hashed)
// and shown once, when created or rotated. A rotation keeps the previous secret signing beside the
// new one for a grace period (24 h by default), so receivers can switch without losing a delivery.
import { randomUUID } from 'node:crypto';
import type { PrismaClient, WebhookEndpoint } from '../generated/prisma/client.js';
import type { SecretBox } from '../secrets/box.js';
import type { Actor } from './event.js';
import { HUB_SOURCE, isEventPattern } from './event.js';
import { webhookUrlProblem } from './ssrf.js';
import { newWebhookSecret } from './signing.js';
import { prismaSql, type EventStore } from './store.js';

export const ROTATION_GRACE_MS = 24 * 3600_000;
const MAX_PATTERNS = 50;
const MAX_DESCRIPTION = 500;
const CONTROL = /[\u0000-\u001f\u007f]/;

export class EndpointError extends Error {
  constructor(readonly code: 'invalid_endpoint' | 'endpoint_not_found', message: string) {
    super(message);
    this.name = 'EndpointError';
  }
}

/** Whose endpoints a caller may touch: one project's, or (no project) every endpoint. */
export interface EndpointScope {
  project?: string;
}

export interface EndpointInfo {
  id: string;
  /** null: an administrators' endpoint, which may receive every event. */
  project: string | null;
  url: string;
  eventTypes: string[];
  description: string | null;
  enabled: boolean;
  disabledReason: string | null;
  failingSince: Date | null;
  /** Until when the previous secret still signs (after rotate-secret), if it does. */
  previousSecretUntil: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface EndpointChanges {
  url?: unknown;
  eventTypes?: unknown;
  description?: unknown;
}

export const sealContext = (id: string) => `webhook:${id}`;

function info(row: WebhookEndpoint): EndpointInfo {
  return {
    id: row.id, project: row.project, url: row.url, eventTypes: row.eventTypes, description: row.description, enabled: row.enabled,
    disabledReason: row.disabledReason, failingSince: row.failingSince,
    previousSecretUntil: row.previousSecretUntil && row.previousSecretUntil > new Date() ? row.previousSecretUntil : null,
    createdAt: row.createdAt, updatedAt: row.updatedAt,
  };
}

/** Event types: a list, or a comma-separated string (the CLI's --events). */
function parsePatterns(value: unknown): string[] {
  const list = typeof value === 'string' ? value.split(',').map((p) => p.trim()).filter(Boolean) : value;
  if (!Array.isArray(list) || list.length === 0) throw new EndpointError('invalid_endpoint', 'events must name at least one event type, e.g. deal.won,user.*');
  if (list.length > MAX_PATTERNS) throw new EndpointError('invalid_endpoint', `events may name at most ${MAX_PATTERNS} types`);
  for (const pattern of list) {
    if (!isEventPattern(pattern)) throw new EndpointError('invalid_endpoint', `"${String(pattern).slice(0, 60)}" is not an event type or pattern (deal.won, user.*, *)`);
  }
  return [...new Set(list as string[])];
}

function parseDescription(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string' || value.length > MAX_DESCRIPTION || CONTROL.test(value)) {
    throw new EndpointError('invalid_endpoint', `description must be text of at most ${MAX_DESCRIPTION} characters without control characters`);
  }
  return value.trim() || null;
}

export class WebhookEndpoints {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly box: SecretBox,
    private readonly store: EventStore,
    private readonly options: { allowPrivateUrls: boolean; projectExists: (id: string) => Promise<boolean> },
  ) {}

  private url(value: unknown): string {
    const problem = webhookUrlProblem(value, this.options.allowPrivateUrls);
    if (problem) throw new EndpointError('invalid_endpoint', problem);
    return value as string;
  }

  private async row(id: string, scope: EndpointScope): Promise<WebhookEndpoint> {
    const row = /^[0-9a-f-]{36}$/i.test(id) ? await this.prisma.webhookEndpoint.findUnique({ where: { id } }) : null;
    // Another project's endpoint is as unknown as a missing one.
    if (!row || (scope.project !== undefined && row.project !== scope.project)) throw new EndpointError('endpoint_not_found', `no webhook endpoint ${id.slice(0, 40)}`);
    return row;
  }

  /** Creates an endpoint; the secret is in the answer and nowhere else. */
  async add(input: { project: string | null; url: unknown; eventTypes: unknown; description?: unknown }): Promise<{ endpoint: EndpointInfo; secret: string }> {
    const url = this.url(input.url);
    const eventTypes = parsePatterns(input.eventTypes);
    const description = parseDescription(input.description);
    if (input.project !== null && !(await this.options.projectExists(input.project))) {
      throw new EndpointError('invalid_endpoint', `no registered project ${String(input.project).slice(0, 63)}`);
    }
    const id = randomUUID();
    const secret = newWebhookSecret();
    const row = await this.prisma.webhookEndpoint.create({
      data: { id, project: input.project, url, eventTypes, description, secretSealed: this.box.seal(secret, sealContext(id)) },
    });
    return { endpoint: info(row), secret };
  }

  async list(scope: EndpointScope = {}): Promise<EndpointInfo[]> {
    const rows = await this.prisma.webhookEndpoint.findMany({
      where: scope.project !== undefined ? { project: scope.project } : {},
      orderBy: { createdAt: 'asc' },
    });
    return rows.map(info);
  }

  async get(id: string, scope: EndpointScope = {}): Promise<EndpointInfo> {
    return info(await this.row(id, scope));
  }

  async update(id: string, changes: EndpointChanges, scope: EndpointScope = {}): Promise<EndpointInfo> {
    await this.row(id, scope);
    const data: Partial<Pick<WebhookEndpoint, 'url' | 'eventTypes' | 'description'>> = {};
    if (changes.url !== undefined) data.url = this.url(changes.url);
    if (changes.eventTypes !== undefined) data.eventTypes = parsePatterns(changes.eventTypes);
    if (changes.description !== undefined) data.description = parseDescription(changes.description);
    return info(await this.prisma.webhookEndpoint.update({ where: { id }, data: { ...data, updatedAt: new Date() } }));
  }

  /**
   * Enables or disables an endpoint. Disabling gives up its pending deliveries (they are marked
   * failed, so `replay-failed` can send them once it works again) and emits endpoint.disabled.
   */
  async setEnabled(id: string, enabled: boolean, actor: Actor | null, scope: EndpointScope = {}, reason = 'disabled by an operator'): Promise<EndpointInfo> {
    const current = await this.row(id, scope);
    if (current.enabled === enabled) return info(current);
    return info(await this.prisma.$transaction(async (tx) => {
      // Conditional, so that of callers racing to disable only the one that flips it emits
      // endpoint.disabled (the others' updates find it disabled once the first commits).
      const { count } = await tx.webhookEndpoint.updateMany({
        where: { id, enabled: !enabled },
        data: enabled ? { enabled: true, disabledReason: null, failingSince: null, updatedAt: new Date() } : { enabled: false, disabledReason: reason, updatedAt: new Date() },
      });
      const row = await tx.webhookEndpoint.findUnique({ where: { id } });
      if (!row) throw new EndpointError('endpoint_not_found', `no webhook endpoint ${id.slice(0, 40)}`);
      if (count === 1 && !enabled) {
        await tx.eventDelivery.updateMany({
          where: { endpointId: id, status: 'pending' },
          data: { status: 'failed', lastError: 'endpoint disabled', lockedUntil: null, completedAt: new Date() },
        });
        await this.store.publish(prismaSql(tx), HUB_SOURCE, actor, [{ type: 'endpoint.disabled', data: { endpointId: id, project: row.project, url: row.url, reason } }]);
      }
      return row;
    }));
  }

  async remove(id: string, scope: EndpointScope = {}): Promise<void> {
    await this.row(id, scope);
    await this.prisma.webhookEndpoint.delete({ where: { id } });
  }

  /** A new secret; the replaced one keeps signing beside it for `graceMs`. */
  async rotateSecret(id: string, scope: EndpointScope = {}, graceMs = ROTATION_GRACE_MS): Promise<{ endpoint: EndpointInfo; secret: string }> {
    const current = await this.row(id, scope);
    const secret = newWebhookSecret();
    const row = await this.prisma.webhookEndpoint.update({
      where: { id },
      data: {
        secretSealed: this.box.seal(secret, sealContext(id)),
        previousSecretSealed: graceMs > 0 ? current.secretSealed : null,
        previousSecretUntil: graceMs > 0 ? new Date(Date.now() + graceMs) : null,
        updatedAt: new Date(),
      },
    });
    return { endpoint: info(row), secret };
  }
}

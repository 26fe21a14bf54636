// Events into the hub's bus: POST {issuer}/api/events as the project itself (a client
// credentials token with the scope events:write). The hub stores every event, answers 202 (or
// 200 when every event repeated an earlier `id` of this project) and delivers it to webhooks.
import { ClientCredentials } from './client-credentials.js';
import { NexusHubError } from './errors.js';
import { setting } from './settings.js';

export const EVENTS_SCOPE = 'events:write';
/** The most events the hub takes in one request. */
export const MAX_BATCH = 100;

export interface EmitterOptions {
  /** The hub's issuer URL (default NEXUS_ISSUER). */
  issuer?: string;
  /** The project's client id (default NEXUS_CLIENT_ID). */
  clientId?: string;
  /** The project's client secret (default NEXUS_CLIENT_SECRET): only confidential projects emit. */
  clientSecret?: string;
  /** Allow an http:// issuer. Default: only on a loopback host (local development and tests). */
  allowHttpIssuer?: boolean;
  /** Per request to /api/events, in milliseconds. Default 15000. */
  timeoutMs?: number;
}

export interface EventFields {
  /** The user the event is about (their hub user id). */
  subject?: string;
  /** An idempotency key: the hub stores an event with a given id once per project. */
  id?: string;
  /** When it happened, if not now. */
  occurredAt?: Date | string;
}

export interface EventInput extends EventFields {
  /** Lowercase words joined by dots, e.g. deal.won. */
  type: string;
  /** An object of at most 64 KB as JSON. */
  data?: Record<string, unknown>;
}

/** What the hub stored for one event. */
export interface StoredEvent {
  /** The hub's id of the event (a UUID). */
  id: string;
  /** The `id` you sent, or null. */
  key: string | null;
  /** The event's place among this project's events. */
  sequence: number;
  /** True when an earlier event of this project had the same `id`: nothing new was stored. */
  duplicate: boolean;
}

export interface Emitter {
  emit(type: string, data?: Record<string, unknown>, fields?: EventFields): Promise<StoredEvent>;
  emit(events: EventInput[]): Promise<StoredEvent[]>;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

function toWire({ type, data, subject, id, occurredAt }: EventInput) {
  return { type, data, subject, id, occurredAt: occurredAt instanceof Date ? occurredAt.toISOString() : occurredAt };
}

function isStoredEvent(value: unknown): value is StoredEvent {
  const event = value as StoredEvent;
  return typeof event === 'object' && event !== null && typeof event.id === 'string' && typeof event.sequence === 'number'
    && typeof event.duplicate === 'boolean' && (event.key === null || typeof event.key === 'string');
}

/** An emitter for one project; options not given come from NEXUS_ISSUER, NEXUS_CLIENT_ID, NEXUS_CLIENT_SECRET. */
export function createEmitter(options: EmitterOptions = {}): Emitter {
  const issuer = setting(options.issuer, 'NEXUS_ISSUER', 'issuer').replace(/\/+$/, '');
  const clientId = setting(options.clientId, 'NEXUS_CLIENT_ID', 'clientId');
  const clientSecret = setting(options.clientSecret, 'NEXUS_CLIENT_SECRET', 'clientSecret');
  const url = `${issuer}/api/events`;
  const allowHttpIssuer = options.allowHttpIssuer ?? LOOPBACK.has(new URL(issuer).hostname);
  const tokens = new ClientCredentials({ issuer, clientId, clientSecret, allowHttpIssuer }, EVENTS_SCOPE);
  const timeoutMs = options.timeoutMs ?? 15_000;

  async function send(body: string, accessToken: string): Promise<Response> {
    try {
      return await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json', accept: 'application/json' },
        body,
        // A redirect is not the hub's answer; following it could carry the token elsewhere.
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new NexusHubError('hub_unreachable', `cannot reach ${url}: ${(error as Error).message}`, undefined, { cause: error });
    }
  }

  async function post(events: EventInput | EventInput[]): Promise<StoredEvent[]> {
    const body = JSON.stringify(Array.isArray(events) ? events.map(toWire) : toWire(events));
    let accessToken = await tokens.accessToken();
    let response = await send(body, accessToken);
    if (response.status === 401) {
      // The token was revoked or the hub rotated its keys: one new token, one more try.
      tokens.discard(accessToken);
      accessToken = await tokens.accessToken();
      response = await send(body, accessToken);
    }
    const text = await response.text();
    let answer: { events?: unknown; error?: unknown; error_description?: unknown } | undefined;
    try {
      answer = JSON.parse(text);
    } catch {
      answer = undefined;
    }
    if (response.status === 200 || response.status === 202) {
      const stored = answer?.events;
      const expected = Array.isArray(events) ? events.length : 1;
      if (Array.isArray(stored) && stored.length === expected && stored.every(isStoredEvent)) return stored;
    } else if (typeof answer?.error === 'string') {
      const description = typeof answer.error_description === 'string' ? answer.error_description : answer.error;
      throw new NexusHubError(answer.error, description, response.status);
    }
    throw new NexusHubError('unexpected_response', `${url} answered HTTP ${response.status}: ${text.slice(0, 300)}`, response.status);
  }

  function emit(type: string, data?: Record<string, unknown>, fields?: EventFields): Promise<StoredEvent>;
  function emit(events: EventInput[]): Promise<StoredEvent[]>;
  async function emit(typeOrEvents: string | EventInput[], data?: Record<string, unknown>, fields: EventFields = {}): Promise<StoredEvent | StoredEvent[]> {
    if (!Array.isArray(typeOrEvents)) return (await post({ ...fields, type: typeOrEvents, data }))[0];
    if (typeOrEvents.length === 0 || typeOrEvents.length > MAX_BATCH) {
      throw new RangeError(`@nexus/auth: emit takes 1 to ${MAX_BATCH} events at a time, not ${typeOrEvents.length}`);
    }
    return post(typeOrEvents);
  }
  return { emit };
}

const emitters = new Map<string, Emitter>();

/**
 * `emit('deal.won', { dealId, value }, { subject: userId })`, or `emit([...events])` for up to 100,
 * as the project configured by NEXUS_ISSUER, NEXUS_CLIENT_ID and NEXUS_CLIENT_SECRET. One emitter
 * (and so one cached token) is kept per configuration. Resolves with what the hub stored; throws
 * NexusHubError with the hub's code (invalid_event, insufficient_scope, invalid_client…).
 */
export function emit(type: string, data?: Record<string, unknown>, fields?: EventFields): Promise<StoredEvent>;
export function emit(events: EventInput[]): Promise<StoredEvent[]>;
export async function emit(typeOrEvents: string | EventInput[], data?: Record<string, unknown>, fields?: EventFields): Promise<StoredEvent | StoredEvent[]> {
  const env = (name: string) => (typeof process === 'undefined' ? undefined : process.env[name]);
  const key = JSON.stringify([env('NEXUS_ISSUER'), env('NEXUS_CLIENT_ID'), env('NEXUS_CLIENT_SECRET')]);
  let emitter = emitters.get(key);
  if (!emitter) {
    emitter = createEmitter();
    emitters.set(key, emitter);
  }
  return Array.isArray(typeOrEvents) ? emitter.emit(typeOrEvents) : emitter.emit(typeOrEvents, data, fields);
}

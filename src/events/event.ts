// What an event is on the bus, and what a project may send as one. The hub fills in what a
// sender must not choose: the source (the calling project, or "nexus"), the actor, the
// sequence and the time it was recorded.

/** The hub's own source name: identity events come from here. */
export const HUB_SOURCE = 'nexus';

/** `deal.won`, `user.signed_in`, `audit.completed`: 2–4 lowercase words joined by dots. */
const TYPE_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,3}$/;
export const MAX_TYPE_LENGTH = 100;
/** Serialised `data` of one event. */
export const MAX_DATA_BYTES = 64 * 1024;
export const MAX_BATCH = 100;
const MAX_KEY_LENGTH = 200;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A chain of events caused by automation rules stops here (see automations.ts). */
export const MAX_DEPTH = 3;

/** Who did what an event records, so that a receiver can skip echoes of its own actions. */
export interface Actor {
  type: 'user' | 'client' | 'api_key' | 'admin' | 'system';
  id: string;
}

/** An event as a caller hands it to the bus. */
export interface NewEvent {
  type: string;
  /** The user the event is about (a user id), if any. */
  subject?: string | null;
  data?: Record<string, unknown>;
  /** Idempotency key: a repeat from the same source is the same event. */
  key?: string | null;
  occurredAt?: Date;
  /** The event that caused this one (through an automation rule), and how deep the chain is. */
  causedBy?: string | null;
  depth?: number;
}

/** An event as stored and delivered. */
export interface StoredEvent {
  id: string;
  type: string;
  source: string;
  subject: string | null;
  sequence: number;
  data: Record<string, unknown>;
  actor: Actor | null;
  occurredAt: string;
  key: string | null;
  depth: number;
  causedBy: string | null;
}

export class EventInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventInputError';
  }
}

export const isEventType = (value: unknown): value is string =>
  typeof value === 'string' && value.length <= MAX_TYPE_LENGTH && TYPE_PATTERN.test(value);

/** `deal.won`, `user.*` or `*`: what an endpoint subscribes to. */
export const isEventPattern = (value: unknown): value is string =>
  value === '*' || isEventType(value) || (typeof value === 'string' && value.endsWith('.*') && /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){0,2}$/.test(value.slice(0, -2)));

export function matchesPattern(type: string, pattern: string): boolean {
  return pattern === '*' || pattern === type || (pattern.endsWith('.*') && type.startsWith(pattern.slice(0, -1)));
}

// PostgreSQL refuses NUL and lone surrogates in text and jsonb: refused here with a reason
// instead of a database error. In `data` they appear as JSON escapes once serialised.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const UNSTORABLE_ESCAPE = /\\u0000|\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}/i;

function parseOne(input: unknown, where: string): NewEvent {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new EventInputError(`${where}must be an object`);
  const raw = input as Record<string, unknown>;
  for (const name of Object.keys(raw)) {
    if (!['type', 'subject', 'data', 'id', 'occurredAt', 'causedBy'].includes(name)) throw new EventInputError(`${where}unknown field "${name.slice(0, 40)}"`);
  }
  if (!isEventType(raw.type)) throw new EventInputError(`${where}type must be lowercase words joined by dots, e.g. deal.won (at most ${MAX_TYPE_LENGTH} characters)`);
  const subject = raw.subject ?? null;
  if (subject !== null && !(typeof subject === 'string' && UUID.test(subject))) throw new EventInputError(`${where}subject must be a Nexus user id (the sub of the user's tokens)`);
  const data = raw.data ?? {};
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new EventInputError(`${where}data must be an object`);
  const serialised = JSON.stringify(data);
  if (Buffer.byteLength(serialised) > MAX_DATA_BYTES) throw new EventInputError(`${where}data must be at most ${MAX_DATA_BYTES / 1024} KB as JSON`);
  // An escaped backslash followed by "u0000" is text, not an escape: such pairs are removed first.
  if (UNSTORABLE_ESCAPE.test(serialised.replace(/\\\\/g, ''))) throw new EventInputError(`${where}data must not contain NUL characters or lone surrogates`);
  const key = raw.id ?? null;
  if (key !== null && !(typeof key === 'string' && key.length > 0 && key.length <= MAX_KEY_LENGTH && !UNSTORABLE.test(key) && !/[\u0000-\u001f]/.test(key))) {
    throw new EventInputError(`${where}id must be a string of 1 to ${MAX_KEY_LENGTH} printable characters`);
  }
  let occurredAt: Date | undefined;
  if (raw.occurredAt !== undefined) {
    occurredAt = typeof raw.occurredAt === 'string' && /^\d{4}-\d\d-\d\dT/.test(raw.occurredAt) ? new Date(raw.occurredAt) : new Date(NaN);
    if (Number.isNaN(occurredAt.getTime()) || occurredAt.getUTCFullYear() < 2000 || occurredAt.getUTCFullYear() > 9999) {
      throw new EventInputError(`${where}occurredAt must be an ISO 8601 time such as 2026-12-01T10:00:00Z`);
    }
  }
  const causedBy = raw.causedBy ?? null;
  if (causedBy !== null && !(typeof causedBy === 'string' && UUID.test(causedBy))) throw new EventInputError(`${where}causedBy must be the id of an event`);
  return { type: raw.type, subject: subject as string | null, data: data as Record<string, unknown>, key: key as string | null, occurredAt, causedBy: causedBy as string | null };
}

/** A request body of POST /api/events: one event, or an array of 1 to MAX_BATCH. */
export function parseEvents(body: unknown): NewEvent[] {
  if (!Array.isArray(body)) return [parseOne(body, '')];
  if (body.length === 0 || body.length > MAX_BATCH) throw new EventInputError(`send 1 to ${MAX_BATCH} events at once`);
  return body.map((item, index) => parseOne(item, `event ${index}: `));
}

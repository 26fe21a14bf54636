// The browsers a user is signed in with. oidc-provider's Session (in oidc_payloads, model
// 'Session') is the truth of who is signed in; hub_sessions only adds what the account center
// shows of it: device, address, sign-in time and last activity. Both are keyed by the Session's
// `uid`, which stays the same for the life of a browser's session (oidc-provider changes the
// Session's id, the cookie value, at every sign-in, but not its uid).
//
// Ending a session ends everything it holds: its Session row, the grants of its
// `authorizations` with their codes and refresh tokens (rows by grant_id), and its details.
// This file is the one place that ends sessions, so that every ending also queues, in the same
// transaction, a `session.ended` event for each project the session signed in to that has a
// back-channel logout URI (src/oidc/backchannel-logout.ts delivers them as logout tokens).
import type { Prisma, PrismaClient } from '../generated/prisma/client.js';
import type pg from 'pg';
import { sqlPoolOf } from './sql-pool.js';
import { describeDevice } from './device.js';
import { HubEvents, type Actor, type EventPublisher } from './identity-events.js';

/** What the sessions list shows of one signed-in browser. */
export interface BrowserSession {
  uid: string;
  /** oidc-provider's Session id (the cookie value): tells "this browser" apart; never shown. */
  sessionId: string;
  device: string;
  ip: string | null;
  signedInAt: Date | null;
  lastSeenAt: Date | null;
}

/** A sign-in as oidc-provider's Session reports it, with the request it came in. */
export interface SignIn {
  uid: string;
  accountId: string;
  /** oidc-provider's loginTs: epoch seconds of the sign-in. */
  loginTs?: number;
  userAgent?: string;
  ip: string;
}

// Last activity is written at most once a minute per session: a sign-in costs one statement,
// which writes nothing when the same sign-in was recorded less than a minute ago.
const RECORD = `INSERT INTO hub_sessions (uid, user_id, user_agent, ip, signed_in_at, last_seen_at)
  VALUES ($1, $2, $3, $4, $5, now())
  ON CONFLICT (uid) DO UPDATE SET user_id = EXCLUDED.user_id, user_agent = EXCLUDED.user_agent, ip = EXCLUDED.ip,
    signed_in_at = EXCLUDED.signed_in_at, last_seen_at = EXCLUDED.last_seen_at
  WHERE hub_sessions.user_id <> EXCLUDED.user_id OR hub_sessions.signed_in_at <> EXCLUDED.signed_in_at
    OR hub_sessions.last_seen_at < EXCLUDED.last_seen_at - interval '1 minute'`;

/** SQL: an oidc_payloads row (of `alias`) that has not expired; expires_at is a UTC timestamp without time zone. */
export const live = (alias = '') => `(${alias}expires_at IS NULL OR ${alias}expires_at > now() AT TIME ZONE 'UTC')`;

// Sessions without details (signed in before the details were kept) are listed all the same.
const LIST = `SELECT p.id AS "sessionId", p.uid, h.user_agent AS "userAgent", h.ip,
    coalesce(h.signed_in_at, to_timestamp((p.payload->>'loginTs')::float8)) AS "signedInAt", h.last_seen_at AS "lastSeenAt"
  FROM oidc_payloads p LEFT JOIN hub_sessions h ON h.uid = p.uid AND h.user_id::text = p.account_id
  WHERE p.model = 'Session' AND p.account_id = $1 AND ${live('p.')}
  ORDER BY "lastSeenAt" DESC NULLS LAST, "signedInAt" DESC NULLS LAST, p.uid`;

/** A project to tell that a session it signed in to ended: its `sid` in that session. */
export interface Logout {
  /** The Session's uid; null from RP-initiated logout, where oidc-provider names only the project and sid. */
  uid: string | null;
  project: string;
  sid: string | null;
}

/** Why sessions ended, as `session.ended` says. */
export type EndReason = 'logout' | 'revoked' | 'password_changed' | 'password_reset' | 'disabled' | 'deleted';

/**
 * SQL: the logouts owed for the deleted oidc_payloads rows of CTE `ended` (model, uid, payload,
 * expires_at): each live Session's authorizations, for enabled projects with a back-channel URI.
 */
const logoutsOf = (ended: string) => `SELECT e.uid, held.key AS project, held.value->>'sid' AS sid
    FROM ${ended} e CROSS JOIN LATERAL jsonb_each(coalesce(e.payload->'authorizations', '{}'::jsonb)) held
    JOIN oauth_clients c ON c.id = held.key AND c.enabled AND c.definition->>'backchannelLogoutUri' IS NOT NULL
    WHERE e.model = 'Session' AND ${live('e.')}`;

/** The `session.ended` events of `logouts`, one per project (each gets its own logout token). */
export const endedEvents = (userId: string, logouts: Logout[], reason: EndReason) =>
  logouts.map(({ uid, project, sid }) => ({ type: 'session.ended', subject: userId, data: { uid, project, sid, reason } }));

/**
 * Ends the live sessions of user $1 that `which` selects (its own parameters from $2), in one
 * statement: of concurrent calls for one session exactly one deletes its row and reports it.
 */
const endSessions = (which: string) => `WITH ended AS (
    DELETE FROM oidc_payloads WHERE model = 'Session' AND account_id = $1 AND ${which} AND ${live()} RETURNING model, uid, payload, expires_at
  ), logouts AS (${logoutsOf('ended')}), grants AS (
    SELECT held.value->>'grantId' AS grant_id FROM ended, jsonb_each(coalesce(ended.payload->'authorizations', '{}'::jsonb)) held
  ), tokens AS (
    DELETE FROM oidc_payloads p USING grants g WHERE p.grant_id = g.grant_id OR (p.model = 'Grant' AND p.id = g.grant_id) RETURNING p.id
  ), details AS (
    DELETE FROM hub_sessions h USING ended e WHERE h.uid = e.uid RETURNING h.uid, h.user_agent
  )
  SELECT e.uid, d.user_agent AS "userAgent",
    coalesce((SELECT jsonb_agg(jsonb_build_object('uid', l.uid, 'project', l.project, 'sid', l.sid)) FROM logouts l WHERE l.uid = e.uid), '[]'::jsonb) AS logouts
  FROM ended e LEFT JOIN details d ON d.uid = e.uid`;

const END_ONE = endSessions('uid = $2');
const END_OTHERS = endSessions('id <> $2');

/**
 * Signs the user out of every browser but the one whose Session id is $2, and revokes every grant,
 * code and token of the user except those that browser holds (a password change: whoever knew
 * the old password keeps nothing, the person changing it stays signed in). Answers the logouts owed.
 */
const KEEP_ONLY = `WITH kept AS (
    SELECT s.uid, held.value->>'grantId' AS grant_id
    FROM oidc_payloads s LEFT JOIN LATERAL jsonb_each(coalesce(s.payload->'authorizations', '{}'::jsonb)) held ON true
    WHERE s.model = 'Session' AND s.id = $2 AND s.account_id = $1
  ), gone AS (
    DELETE FROM oidc_payloads p WHERE p.account_id = $1 AND NOT (p.model = 'Session' AND p.id = $2)
      AND coalesce(p.grant_id, CASE WHEN p.model = 'Grant' THEN p.id END, '') NOT IN (SELECT grant_id FROM kept WHERE grant_id IS NOT NULL)
    RETURNING p.model, p.uid, p.payload, p.expires_at
  ), details AS (
    DELETE FROM hub_sessions WHERE user_id = $1::text::uuid AND uid NOT IN (SELECT uid FROM kept WHERE uid IS NOT NULL) RETURNING 1
  )
  ${logoutsOf('gone')}`;

/** Every session, grant, code and token of the user ends (disabled, deleted, a new password). */
const END_ALL = `WITH gone AS (
    DELETE FROM oidc_payloads WHERE account_id = $1 RETURNING model, uid, payload, expires_at
  )
  ${logoutsOf('gone')}`;

/** Where another library ends a user's sessions: inside its own transaction, with their `session.ended` events. */
export interface SessionEnding {
  tx: Prisma.TransactionClient;
  events: HubEvents;
  actor: Actor;
  reason: EndReason;
}

/** Ends every session of the user but the browser of `keepSessionId` (oidc-provider's Session id). */
export async function signOutElsewhere({ tx, events, actor, reason }: SessionEnding, userId: string, keepSessionId: string): Promise<void> {
  const logouts = await tx.$queryRawUnsafe<Logout[]>(KEEP_ONLY, userId, keepSessionId);
  await events.inTransaction(tx, actor, endedEvents(userId, logouts, reason));
}

/** Ends every session of the user, with every grant, code and refresh token issued to them. */
export async function signOutEverywhere({ tx, events, actor, reason }: SessionEnding, userId: string): Promise<void> {
  const logouts = await tx.$queryRawUnsafe<Logout[]>(END_ALL, userId);
  await events.inTransaction(tx, actor, endedEvents(userId, logouts, reason));
}

// User agents are the client's to choose: kept short and without the control characters
// PostgreSQL refuses (NUL) or that would forge lines where they are printed.
const MAX_USER_AGENT = 512;
const cleanUserAgent = (value: string | undefined) => value?.replace(/\p{Cc}/gu, '').slice(0, MAX_USER_AGENT) || null;

export class HubSessions {
  private readonly pool: pg.Pool;
  private readonly events: HubEvents;

  constructor(private readonly prisma: PrismaClient, publisher?: EventPublisher) {
    this.pool = sqlPoolOf(prisma);
    this.events = new HubEvents(prisma, publisher);
  }

  /** Records a browser's sign-in (or its renewed activity): one named statement. */
  async record({ uid, accountId, loginTs, userAgent, ip }: SignIn): Promise<void> {
    const signedInAt = loginTs ? new Date(loginTs * 1000) : new Date();
    await this.pool.query({ name: 'hub-session-record', text: RECORD, values: [uid, accountId, cleanUserAgent(userAgent), ip.slice(0, 64), signedInAt] });
  }

  /** The user's signed-in browsers, most recently active first. */
  async list(userId: string): Promise<BrowserSession[]> {
    const { rows } = await this.pool.query<Omit<BrowserSession, 'device'> & { userAgent: string | null }>(LIST, [userId]);
    return rows.map(({ userAgent, ...row }) => ({ ...row, device: describeDevice(userAgent) }));
  }

  /** Signs one of the user's browsers out. False when the user has no such live session. */
  async revoke(userId: string, uid: string, actor: Actor): Promise<boolean> {
    // oidc-provider's uids are 21 characters; anything else (or a NUL, which PostgreSQL refuses) names no session.
    if (!uid || uid.length > 64 || uid.includes('\0')) return false;
    return (await this.end(END_ONE, userId, uid, actor)) > 0;
  }

  /** Signs the user out of every browser but the one whose Session id is `keepSessionId`. */
  revokeOthers(userId: string, keepSessionId: string, actor: Actor): Promise<number> {
    return this.end(END_OTHERS, userId, keepSessionId, actor);
  }

  /**
   * RP-initiated logout: oidc-provider's end_session ends the Session itself and names each
   * project to tell (src/oidc/backchannel-logout.ts); this queues that project's logout token.
   */
  loggedOut(userId: string, logout: Logout): Promise<void> {
    return this.events.alone({ type: 'user', id: userId }, endedEvents(userId, [logout], 'logout'));
  }

  /** Details of sessions that ended (signed out, expired, revoked); the newest are spared while their Session is saved. */
  async sweep(): Promise<number> {
    const { rowCount } = await this.pool.query(`DELETE FROM hub_sessions h WHERE h.last_seen_at < now() - interval '5 minutes'
      AND NOT EXISTS (SELECT 1 FROM oidc_payloads p WHERE p.model = 'Session' AND p.uid = h.uid AND p.account_id = h.user_id::text AND ${live('p.')})`);
    return rowCount ?? 0;
  }

  private end(statement: string, userId: string, selector: string, actor: Actor): Promise<number> {
    return this.prisma.$transaction(async (tx) => {
      const ended = await tx.$queryRawUnsafe<Array<{ uid: string; userAgent: string | null; logouts: Logout[] }>>(statement, userId, selector);
      await this.events.inTransaction(tx, actor, ended.flatMap(({ uid, userAgent, logouts }) => [
        { type: 'session.revoked', subject: userId, data: { uid, device: describeDevice(userAgent) } },
        ...endedEvents(userId, logouts, 'revoked'),
      ]));
      return ended.length;
    });
  }
}

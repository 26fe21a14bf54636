// Remembered consent: what a user has allowed a third-party project, per user and project,
// across browser sessions until the user removes it. oidc-provider keeps consent in Grants, one
// per browser session; a new session's grant is rebuilt from what is remembered here
// (oidc/first-party-grant.ts), so the consent page asks only for what is new.
//
// Connected apps are the projects a user has allowed: remembered consents, and projects holding
// a live grant (first-party projects never ask, so they have grants but no remembered consent).
import type { Grant } from 'oidc-provider';
import type { PrismaClient } from '../generated/prisma/client.js';
import type pg from 'pg';
import { sqlPoolOf } from './sql-pool.js';
import { isUuid } from '../db/ids.js';
import { HubEvents, type Actor, type EventPublisher } from './identity-events.js';
import { live } from './hub-sessions.js';

export interface RememberedConsent {
  oidcScopes: string[];
  claims: string[];
  /** { "<audience>": "scope scope" }, as a Grant keeps resource scopes. */
  resourceScopes: Record<string, string>;
}

export interface ConnectedApp {
  clientId: string;
  /** OpenID scopes and API scopes the project may use, each once. */
  scopes: string[];
  /** When the user first allowed it (the remembered consent, or the oldest live grant). */
  since: Date;
}

const words = (scopes: string | undefined) => (scopes ?? '').split(' ').filter(Boolean);

/** What `consent` allows that `grant` does not hold yet, in the shape of the consent checks' findings. */
export function rememberedMissingFrom(grant: Grant, consent: RememberedConsent) {
  const has = (held: string) => new Set(words(held));
  const oidc = has(grant.getOIDCScope());
  const claims = new Set(grant.getOIDCClaims());
  const missingResourceScopes: Record<string, string[]> = {};
  for (const [resource, scopes] of Object.entries(consent.resourceScopes)) {
    const held = has(grant.getResourceScope(resource));
    const missing = words(scopes).filter((s) => !held.has(s));
    if (missing.length) missingResourceScopes[resource] = missing;
  }
  return {
    missingOIDCScope: consent.oidcScopes.filter((s) => !oidc.has(s)),
    missingOIDCClaims: consent.claims.filter((c) => !claims.has(c)),
    missingResourceScopes,
  };
}

// The union of the stored consent and the grant's: two browsers consenting at once both count.
const REMEMBER = `INSERT INTO consents (user_id, client_id, oidc_scopes, claims, resource_scopes)
  VALUES ($1::uuid, $2, $3::text[], $4::text[], $5::jsonb)
  ON CONFLICT (user_id, client_id) DO UPDATE SET
    oidc_scopes = ARRAY(SELECT DISTINCT s FROM unnest(coalesce(consents.oidc_scopes, '{}') || EXCLUDED.oidc_scopes) s ORDER BY s),
    claims = ARRAY(SELECT DISTINCT c FROM unnest(coalesce(consents.claims, '{}') || EXCLUDED.claims) c ORDER BY c),
    resource_scopes = (
      SELECT coalesce(jsonb_object_agg(resource, scopes), '{}'::jsonb) FROM (
        SELECT resource, string_agg(DISTINCT scope, ' ' ORDER BY scope) AS scopes FROM (
          SELECT r.key AS resource, regexp_split_to_table(r.value, ' ') AS scope FROM jsonb_each_text(consents.resource_scopes) r
          UNION ALL SELECT r.key, regexp_split_to_table(r.value, ' ') FROM jsonb_each_text(EXCLUDED.resource_scopes) r
        ) split WHERE scope <> '' GROUP BY resource
      ) merged
    ),
    updated_at = now()`;

interface ConsentRow { oidc_scopes: string[] | null; claims: string[] | null; resource_scopes: Record<string, string> }

const toConsent = (row: ConsentRow): RememberedConsent => ({ oidcScopes: row.oidc_scopes ?? [], claims: row.claims ?? [], resourceScopes: row.resource_scopes });

export class Consents {
  private readonly pool: pg.Pool;
  private readonly events: HubEvents;

  constructor(private readonly prisma: PrismaClient, publisher?: EventPublisher) {
    this.pool = sqlPoolOf(prisma);
    this.events = new HubEvents(prisma, publisher);
  }

  /** What the user has allowed the project, if anything (one statement, on a third-party sign-in). */
  async find(userId: string, clientId: string): Promise<RememberedConsent | undefined> {
    if (!isUuid(userId)) return undefined;
    const { rows } = await this.pool.query<ConsentRow>({
      name: 'consent-find', text: 'SELECT oidc_scopes, claims, resource_scopes FROM consents WHERE user_id = $1 AND client_id = $2', values: [userId, clientId],
    });
    return rows[0] && toConsent(rows[0]);
  }

  /** Adds what `grant` holds (just approved on the consent page) to what its user allowed its project. */
  async remember(grant: Grant): Promise<void> {
    await this.pool.query(REMEMBER, [
      grant.accountId, grant.clientId, words(grant.getOIDCScope()).sort(), grant.getOIDCClaims().sort(), JSON.stringify(grant.resources ?? {}),
    ]);
  }

  /** Every project the user has allowed, oldest first. */
  async connectedApps(userId: string): Promise<ConnectedApp[]> {
    const { rows } = await this.pool.query<{ clientId: string; since: Date; consent: ConsentRow | null; grants: Array<{ openid?: { scope?: string }; resources?: Record<string, string> }> }>(
      `SELECT client_id AS "clientId", min(since) AS since, (array_agg(consent) FILTER (WHERE consent IS NOT NULL))[1] AS consent,
          coalesce(jsonb_agg(grant_payload) FILTER (WHERE grant_payload IS NOT NULL), '[]') AS grants
        FROM (
          SELECT client_id, created_at AS since, to_jsonb(c) AS consent, NULL::jsonb AS grant_payload FROM consents c WHERE user_id = $1::text::uuid
          UNION ALL
          SELECT payload->>'clientId', to_timestamp((payload->>'iat')::float8), NULL, payload FROM oidc_payloads
            WHERE model = 'Grant' AND account_id = $1 AND ${live()}
        ) allowed GROUP BY client_id ORDER BY since, client_id`,
      [userId],
    );
    return rows.map(({ clientId, since, consent, grants }) => {
      const held = consent ? toConsent(consent) : { oidcScopes: [], resourceScopes: {} };
      const scopes = new Set([...held.oidcScopes, ...Object.values(held.resourceScopes).flatMap(words)]);
      for (const grant of grants) {
        for (const scope of [...words(grant.openid?.scope), ...Object.values(grant.resources ?? {}).flatMap(words)]) scopes.add(scope);
      }
      return { clientId, since, scopes: [...scopes] };
    });
  }

  /**
   * Removes the project's access: the remembered consent and every grant of the user for it,
   * with their codes and refresh tokens, in one transaction with `consent.revoked`. False when
   * there was nothing to remove (also for all but one of concurrent removals).
   */
  async remove(userId: string, clientId: string, actor: Actor): Promise<boolean> {
    if (clientId.length > 200 || clientId.includes('\0')) return false;
    return this.prisma.$transaction(async (tx) => {
      const [removed] = await tx.$queryRawUnsafe<Array<{ consents: number; grants: number }>>(
        `WITH consent AS (
            DELETE FROM consents WHERE user_id = $1::text::uuid AND client_id = $2 RETURNING 1
          ), grants AS (
            DELETE FROM oidc_payloads WHERE model = 'Grant' AND account_id = $1 AND payload->>'clientId' = $2 RETURNING id
          ), tokens AS (
            DELETE FROM oidc_payloads p USING grants g WHERE p.grant_id = g.id RETURNING 1
          )
          SELECT (SELECT count(*) FROM consent)::int AS consents, (SELECT count(*) FROM grants)::int AS grants`,
        userId, clientId,
      );
      if (!removed.consents && !removed.grants) return false;
      await this.events.inTransaction(tx, actor, [{ type: 'consent.revoked', subject: userId, data: { project: clientId, grants: removed.grants } }]);
      return true;
    });
  }
}

// First-party consent. First-party projects are part of Nexus itself: a user who may use one has
// nothing to approve, so the grant is completed while the authorization request is processed
// (oidc-provider's `loadExistingGrant` hook) instead of by a round trip through the consent step.
// oidc-provider's consent checks then find nothing missing. What they still ask for regardless —
// prompt=consent, native clients, authorization_details — goes to the consent step as before,
// where routes.ts grants the same things with `addConsent`. A user without access to the project
// gets nothing here: the project-access check stops them at the consent step, as it always did.
//
// Third-party projects get the same treatment for what the user has allowed them before, in any
// browser (remembered consent, accounts/consents.ts): a session without a grant for the project
// gets one rebuilt from it, so the consent step asks only for what is new.
import type { Grant, KoaContextWithOIDC } from 'oidc-provider';
import type { ClientRegistry } from '../clients/registry.js';
import type { ClientDefinition } from '../clients/definition.js';
import type { createProjectAccessCheck } from './project-access.js';
import { apiScopesOf } from '../billing/scopes.js';
import { rememberedMissingFrom, type Consents } from '../accounts/consents.js';

/** What oidc-provider's consent prompt reports missing from a grant (its `prompt.details`). */
export interface MissingConsent {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

/** Claims the consent checks never ask about (oidc-provider's op_claims_missing). */
const UNCONSENTED_CLAIMS = new Set(['sub', 'sid', 'auth_time', 'acr', 'amr', 'iss']);

/**
 * Adds to `grant` what consenting to this request grants: what the consent checks report
 * missing, and every API scope of the project that `scope` asks for. All of them, not only those
 * the user's plan allows today: the plan is applied when each token is issued, so an upgrade
 * shows at the next refresh without asking again. Returns whether the grant changed.
 */
export function addConsent(grant: Grant, missing: MissingConsent, project: ClientDefinition | undefined, scope: string): boolean {
  let changed = false;
  if (missing.missingOIDCScope?.length) {
    grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    changed = true;
  }
  if (missing.missingOIDCClaims?.length) {
    grant.addOIDCClaims(missing.missingOIDCClaims);
    changed = true;
  }
  for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    if (!scopes.length) continue;
    grant.addResourceScope(resource, scopes.join(' '));
    changed = true;
  }
  if (project) {
    const apiScopes = apiScopesOf(project);
    const granted = new Set(grant.getResourceScope(project.audience).split(' '));
    const requested = scope.split(' ').filter((s) => apiScopes.includes(s) && !granted.has(s));
    if (requested.length) {
      grant.addResourceScope(project.audience, requested.join(' '));
      changed = true;
    }
  }
  return changed;
}

/** What the consent prompt's scope and claims checks (oidc-provider's consent.js) would find missing in `grant`. */
function missingFrom(ctx: KoaContextWithOIDC, grant: Grant): MissingConsent {
  const { oidc } = ctx;
  const encounteredScopes = new Set(grant.getOIDCScopeEncountered().split(' '));
  const missingOIDCScope = [...oidc.requestParamOIDCScopes].filter((s) => !encounteredScopes.has(s));
  const encounteredClaims = new Set(grant.getOIDCClaimsEncountered());
  const missingOIDCClaims = [...oidc.requestParamClaims].filter((c) => !encounteredClaims.has(c) && !UNCONSENTED_CLAIMS.has(c));
  const missingResourceScopes: Record<string, string[]> = {};
  for (const [indicator, resourceServer] of Object.entries(oidc.resourceServers ?? {})) {
    const encountered = new Set(grant.getResourceScopeEncountered(indicator).split(' '));
    const missing = [...oidc.requestParamScopes].filter((s) => resourceServer.scopes.has(s) && !encountered.has(s));
    if (missing.length) missingResourceScopes[indicator] = missing;
  }
  return { missingOIDCScope, missingOIDCClaims, missingResourceScopes };
}

/** oidc-provider's `loadExistingGrant`: its default, plus first-party and remembered consent as described above. */
export function createLoadExistingGrant(clients: ClientRegistry, roleIn: ReturnType<typeof createProjectAccessCheck>, consents: Consents) {
  return async function loadExistingGrant(ctx: KoaContextWithOIDC): Promise<Grant | undefined> {
    const { oidc } = ctx;
    const clientId = oidc.client!.clientId;
    // The library's default: the grant of a consent just given, or this session's grant for the client.
    const grantId = oidc.result?.consent?.grantId ?? oidc.session!.grantIdFor(clientId);
    const existing = grantId ? await oidc.provider.Grant.find(grantId) : undefined;

    const project = await clients.findEnabled(clientId);
    // oidc-provider calls this hook only with a signed-in account.
    const accountId = oidc.account!.accountId;
    // A grant of another account is left for oidc-provider to refuse (its accountId check).
    if (!project || (existing && existing.accountId !== accountId)) return existing;
    // First-party projects read no remembered consent: their sign-in costs no statement more.
    const remembered = project.firstParty ? undefined : await consents.find(accountId, clientId);
    if ((!project.firstParty && !remembered) || !(await roleIn(ctx, accountId))) return existing;
    const grant = existing ?? new oidc.provider.Grant({ accountId, clientId });
    const changed = remembered
      ? addConsent(grant, rememberedMissingFrom(grant, remembered), undefined, '')
      : addConsent(grant, missingFrom(ctx, grant), project, String(oidc.params!.scope ?? ''));
    if (!changed) return existing;
    await grant.save();
    return grant;
  };
}

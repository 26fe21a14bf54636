// The API scope that lets a project manage the signed-in user's billing (checkout, portal) with
// their access token. Only first-party projects (part of Nexus) may carry it: a third-party
// project asking for it simply does not get it. Plans do not restrict it (a free user must be
// able to buy a plan).
import type { ClientDefinition } from '../clients/definition.js';

export const BILLING_SCOPE = 'billing:manage';

type Project = Pick<ClientDefinition, 'scopes' | 'firstParty'>;

/**
 * The API scopes a project's tokens may carry: its own scopes (only those `planAllowed` lists,
 * when plans govern the project), plus `billing:manage` for a first-party project when the
 * token comes from a user's sign-in (`billing`; not client credentials or API-key exchanges).
 */
export function apiScopesOf(project: Project, options: { planAllowed?: readonly string[]; billing?: boolean } = {}): string[] {
  const { planAllowed, billing = true } = options;
  const own = project.scopes.filter((scope) => scope !== BILLING_SCOPE && (!planAllowed || planAllowed.includes(scope)));
  return project.firstParty && billing ? [...own, BILLING_SCOPE] : own;
}

/** Whether a token of this project may manage billing: a first-party project, with the scope granted. */
export function mayManageBilling(project: Project, tokenScopes: readonly string[]): boolean {
  return project.firstParty && tokenScopes.includes(BILLING_SCOPE);
}

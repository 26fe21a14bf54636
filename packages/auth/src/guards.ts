// Checks on a verified principal. Each throws a 403 NexusAuthError when it fails.
import { NexusAuthError } from './errors.js';
import type { Principal, Role } from './principal.js';


// Maps, not object literals: names such as "toString" or "constructor" must not count as ranks.
const RANK = new Map<string, number>([['read_only', 0], ['user', 1], ['admin', 2]]);
const PLAN_RANK = new Map<string, number>([['free', 0], ['pro', 1], ['business', 2], ['enterprise', 3]]);

/** Every listed scope must be granted. */
export function requireScope(principal: Principal, ...scopes: string[]): void {
  const missing = scopes.filter((scope) => !principal.scopes.includes(scope));
  if (missing.length) throw new NexusAuthError('insufficient_scope', `missing scope ${missing.join(' ')}`);
}

/** The user's role must be at least `minimum` (read_only < user < admin). */
export function requireRole(principal: Principal, minimum: Role): void {
  const need = RANK.get(minimum);
  const have = principal.role === undefined ? undefined : RANK.get(principal.role);
  if (need === undefined || have === undefined || have < need) {
    throw new NexusAuthError('insufficient_role', `requires the ${minimum} role`);
  }
}

/** The user's plan must be at least `minimum` (free < pro < business < enterprise). */
export function requirePlan(principal: Principal, minimum: string): void {
  const have = principal.plan === undefined ? undefined : PLAN_RANK.get(principal.plan);
  const need = PLAN_RANK.get(minimum);
  if (need === undefined || have === undefined || have < need) throw new NexusAuthError('insufficient_plan', `requires the ${minimum} plan or higher`);
}

/**
 * The entitlement must be present and truthy; with `atLeast`, numeric and at least that much
 * (`null` means unlimited).
 */
export function requireEntitlement(principal: Principal, name: string, atLeast?: number): void {
  const value = principal.entitlements[name];
  const ok = value === null
    || (atLeast === undefined ? value === true || (typeof value === 'number' && value > 0) : typeof value === 'number' && value >= atLeast);
  if (!ok) throw new NexusAuthError('missing_entitlement', `requires the ${name} entitlement${atLeast === undefined ? '' : ` (${atLeast})`}`);
}

/**
 * The user must have signed in with two factors (the hub's `amr` says `mfa`). A token without
 * `amr` (client credentials, a session from before second factors) does not pass.
 */
export function requireMfa(principal: Principal): void {
  if (principal.amr?.includes('mfa') !== true) throw new NexusAuthError('insufficient_authentication', 'requires a sign-in with a second factor');
}

// What oidc-provider learns about a user: the OpenID claims (by scope) and the extra claims of
// access tokens. Asks the account libraries; knows nothing about HTTP.
import type { Account, FindAccount, KoaContextWithOIDC } from 'oidc-provider';
import type { User, Users } from '../accounts/users.js';
import type { ProjectAccess } from '../accounts/access.js';
import type { ClientRegistry } from '../clients/registry.js';
import type { createProjectAccessCheck } from './project-access.js';
import type { PlanEntitlements } from '../billing/entitlements.js';
import { perRequest } from './request-memo.js';
import { entitlementsIn, grantIn, planIn } from './user-lookups.js';
import { GATEWAY_AUDIENCE } from '../clients/definition.js';

export const CLAIMS = {
  openid: ['sub', 'plan'],
  email: ['email', 'email_verified'],
  profile: ['name', 'picture'],
};

/** Every OpenID claim the hub knows about a user; callers filter by granted scope. */
export function userClaims(user: User, plan: string): Record<string, unknown> {
  return {
    sub: user.id,
    plan,
    email: user.email,
    email_verified: user.emailVerified,
    name: user.fullName ?? undefined,
    picture: user.avatarUrl ?? undefined,
  };
}

export function createFindAccount(users: Users, roleIn: ReturnType<typeof createProjectAccessCheck>, entitlements: PlanEntitlements): FindAccount {
  return async (ctx, sub) => {
    const user = await perRequest(ctx, `user:${sub}`, () => users.findById(sub));
    // Disabled or deleted users have no account: their refresh tokens and sessions stop working.
    if (!user || user.disabledAt) return undefined;
    // At the token endpoint the account exists only for projects the user may use: a refresh
    // after `nexus access revoke` fails with invalid_grant.
    if (ctx.oidc.route === 'token' && !(await roleIn(ctx, user.id))) return undefined;
    const account: Account = {
      accountId: user.id,
      async claims() {
        return userClaims(user, await planIn(ctx, entitlements, user.id)) as { sub: string };
      },
    };
    return account;
  };
}

type IssuedToken = Parameters<NonNullable<import('oidc-provider').Configuration['extraTokenClaims']>>[1];

/** Access tokens for a project carry the user's email, role, plan and the plan's entitlements there. */
export function createExtraTokenClaims(users: Users, access: ProjectAccess, clients: ClientRegistry, entitlements: PlanEntitlements) {
  return async (ctx: KoaContextWithOIDC, token: IssuedToken) => {
    if (!('accountId' in token) || !token.accountId) return undefined;
    const audience = token.resourceServer?.audience;
    if (typeof audience !== 'string') return undefined;
    const accountId = token.accountId;
    // gid lets the userinfo endpoint and the gateway find the grant, and refuse once it is revoked.
    const gid = token.grantId && !token.grantId.startsWith('apikey-') ? { gid: token.grantId } : {};
    if (audience === GATEWAY_AUDIENCE) {
      // Role, plan scopes and entitlements depend on the project a gateway call goes to: the
      // gateway computes them per call; the token names only the user and its grant.
      const user = await perRequest(ctx, `user:${accountId}`, () => users.findById(accountId));
      return user ? { email: user.email, ...gid } : undefined;
    }
    const [user, project] = await Promise.all([perRequest(ctx, `user:${accountId}`, () => users.findById(accountId)), clients.findByAudience(audience)]);
    if (!user || !project) return undefined;
    const [role, granted] = await Promise.all([
      perRequest(ctx, `role:${project.id}:${user.id}`, () => access.roleFor(user.id, project, grantIn(ctx, access, project.id, user.id))),
      entitlementsIn(ctx, entitlements, project.id, user.id),
    ]);
    return { email: user.email, role: role ?? null, plan: granted.plan, entitlements: granted.entitlements, ...gid };
  };
}

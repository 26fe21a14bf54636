// The user's plan, grant and entitlements in a project, each read once per request: issuing one
// token asks for them from several places (findAccount, the interaction policy, the resource
// server's scopes, the access token's claims), and the role and the admin-grant check read the
// same project_access row, the plan and the entitlements the same subscription.
import type { ProjectGrant } from '../accounts/access.js';
import type { PlanEntitlements } from '../billing/entitlements.js';
import { perRequest } from './request-memo.js';

interface Grants {
  grantOf(userId: string, project: string): Promise<ProjectGrant | undefined>;
}

export function grantIn(ctx: object, grants: Grants, projectId: string, userId: string) {
  return perRequest(ctx, `grant:${projectId}:${userId}`, () => grants.grantOf(userId, projectId));
}

export function planIn(ctx: object, entitlements: PlanEntitlements, userId: string) {
  return perRequest(ctx, `plan:${userId}`, () => entitlements.planOf(userId));
}

export function entitlementsIn(ctx: object, entitlements: PlanEntitlements, projectId: string, userId: string) {
  return perRequest(ctx, `entitlements:${projectId}:${userId}`, () => entitlements.forUser(userId, projectId, {
    plan: () => planIn(ctx, entitlements, userId),
    grant: () => grantIn(ctx, entitlements, projectId, userId),
  }));
}

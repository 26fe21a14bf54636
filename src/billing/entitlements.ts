// What a user's plan gives them in one project: the scopes it allows and the entitlements that
// go into their access tokens. Projects no plan lists are not governed by plans, and neither is
// a user an administrator admitted to a project (staff): they get all of its scopes.
import type { ProjectAccess, ProjectGrant } from '../accounts/access.js';
import type { Entitlements, PlanId, Plans } from './plans.js';
import type { Subscriptions } from './subscriptions.js';

export interface ProjectEntitlements {
  plan: PlanId;
  /** Scopes the plan allows in the project; undefined when plans do not govern the project. */
  scopes: string[] | undefined;
  entitlements: Entitlements;
}

export class PlanEntitlements {
  private readonly governed: Set<string>;

  constructor(private readonly plans: Plans, private readonly subscriptions: Subscriptions, private readonly access: ProjectAccess) {
    this.governed = new Set(plans.all().flatMap((plan) => Object.keys(plan.projects)));
  }

  planOf(userId: string): Promise<PlanId> {
    return this.subscriptions.planOf(userId);
  }

  /** The user's grant in a project (see ProjectAccess.grantOf). */
  grantOf(userId: string, project: string): Promise<ProjectGrant | undefined> {
    return this.access.grantOf(userId, project);
  }

  /**
   * `known`: how to get the user's plan and grant in the project when the caller has read them
   * already, or will (one token issuance asks several times: see src/oidc/user-lookups.ts).
   */
  async forUser(userId: string, project: string, known: { plan?: () => Promise<PlanId>; grant?: () => Promise<ProjectGrant | undefined> } = {}): Promise<ProjectEntitlements> {
    const plan = await (known.plan ? known.plan() : this.subscriptions.planOf(userId));
    const granted = this.plans.forProject(plan, project);
    const restricted = this.governed.has(project) && !(await this.access.hasAdminGrant(userId, project, known.grant?.()));
    return {
      plan,
      scopes: restricted ? granted?.scopes ?? [] : undefined,
      entitlements: granted?.entitlements ?? {},
    };
  }
}

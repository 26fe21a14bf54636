// What a user's plan gives them in one project: the scopes it allows and the entitlements that
// go into their access tokens. Projects no plan lists are not governed by plans.
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

  constructor(private readonly plans: Plans, private readonly subscriptions: Subscriptions) {
    this.governed = new Set(plans.all().flatMap((plan) => Object.keys(plan.projects)));
  }

  planOf(userId: string): Promise<PlanId> {
    return this.subscriptions.planOf(userId);
  }

  async forUser(userId: string, project: string): Promise<ProjectEntitlements> {
    const plan = await this.subscriptions.planOf(userId);
    const granted = this.plans.forProject(plan, project);
    return {
      plan,
      scopes: this.governed.has(project) ? granted?.scopes ?? [] : undefined,
      entitlements: granted?.entitlements ?? {},
    };
  }
}

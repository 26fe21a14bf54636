// Plans (plans.json): per project, the scopes a plan allows and its entitlements, and which
// projects it grants access to. Validated once at start; every problem reported together.
import fs from 'node:fs';

export const PLAN_ORDER = ['free', 'pro', 'business', 'enterprise'] as const;
export type PlanId = (typeof PLAN_ORDER)[number];
export const DEFAULT_PLAN: PlanId = 'free';

export type Entitlements = Record<string, number | boolean | null>;

export interface ProjectPlan {
  scopes: string[];
  entitlements: Entitlements;
}

/** Gateway requests per minute per (project, user); null: unlimited. */
export interface GatewayLimits {
  requestsPerMinute: number | null;
  /** Per-project overrides of requestsPerMinute. */
  projects: Record<string, number | null>;
}

export interface Plan {
  id: PlanId;
  name: string;
  /** null: priced by agreement (enterprise). */
  monthlyPriceCents: number | null;
  stripePriceIds: string[];
  projects: Record<string, ProjectPlan>;
  gateway: GatewayLimits;
}

const MAX_RPM = 10_000_000;

function parseGatewayLimits(raw: unknown, plan: string, known: Set<string> | undefined, problems: string[]): GatewayLimits {
  if (raw === undefined) return { requestsPerMinute: null, projects: {} };
  const input = (typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? raw : {}) as { requestsPerMinute?: unknown; projects?: unknown };
  if (input !== raw) problems.push(`plan "${plan}": gateway must be an object`);
  const rpm = (value: unknown, where: string) => {
    if (value === null) return null;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_RPM) return value;
    problems.push(`plan "${plan}": ${where} must be a whole number of requests per minute from 1 to ${MAX_RPM}, or null (unlimited)`);
    return null;
  };
  const projects: Record<string, number | null> = {};
  const overrides = input.projects ?? {};
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) problems.push(`plan "${plan}": gateway.projects must be an object`);
  else {
    for (const [project, value] of Object.entries(overrides)) {
      if (known && !known.has(project)) problems.push(`plan "${plan}": gateway.projects.${project} is not a registered client`);
      projects[project] = rpm(value, `gateway.projects.${project}`);
    }
  }
  return { requestsPerMinute: input.requestsPerMinute === undefined ? null : rpm(input.requestsPerMinute, 'gateway.requestsPerMinute'), projects };
}

export class PlansError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid plans file:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'PlansError';
  }
}

export class Plans {
  private readonly byPrice = new Map<string, PlanId>();

  constructor(readonly currency: string, private readonly plans: Map<PlanId, Plan>, private readonly labels: Record<string, string> = {}) {
    for (const plan of plans.values()) for (const price of plan.stripePriceIds) this.byPrice.set(price, plan.id);
  }

  static fromFile(file: string, knownProjects?: Iterable<string>): Plans {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (error) {
      throw new PlansError([`cannot read ${file}: ${(error as Error).message}`]);
    }
    return Plans.parse(raw, knownProjects);
  }

  static parse(raw: unknown, knownProjects?: Iterable<string>): Plans {
    const problems: string[] = [];
    const input = (raw ?? {}) as { currency?: unknown; plans?: Record<string, unknown> };
    const currency = typeof input.currency === 'string' ? input.currency : 'usd';
    const plans = new Map<PlanId, Plan>();
    const known = knownProjects ? new Set(knownProjects) : undefined;
    const prices = new Map<string, string>();
    for (const id of PLAN_ORDER) {
      const plan = input.plans?.[id] as Record<string, unknown> | undefined;
      if (!plan) {
        problems.push(`plan "${id}" is missing`);
        continue;
      }
      const projects: Record<string, ProjectPlan> = {};
      for (const [project, value] of Object.entries((plan.projects ?? {}) as Record<string, { scopes?: unknown; entitlements?: unknown }>)) {
        if (known && !known.has(project)) problems.push(`plan "${id}": project "${project}" is not a registered client`);
        const scopes = Array.isArray(value.scopes) && value.scopes.every((s) => typeof s === 'string') ? (value.scopes as string[]) : undefined;
        if (!scopes) problems.push(`plan "${id}": project "${project}" needs a "scopes" list`);
        const entitlements = (value.entitlements ?? {}) as Entitlements;
        for (const [name, amount] of Object.entries(entitlements)) {
          if (!(amount === null || typeof amount === 'boolean' || (typeof amount === 'number' && amount >= 0))) {
            problems.push(`plan "${id}": entitlement ${project}.${name} must be a number, true/false, or null (unlimited)`);
          }
        }
        projects[project] = { scopes: scopes ?? [], entitlements };
      }
      const price = plan.monthlyPriceCents;
      if (!(price === null || (typeof price === 'number' && Number.isInteger(price) && price >= 0))) {
        problems.push(`plan "${id}": monthlyPriceCents must be whole cents or null`);
      }
      const stripePriceIds = Array.isArray(plan.stripePriceIds) ? (plan.stripePriceIds as string[]) : [];
      for (const priceId of stripePriceIds) {
        if (prices.has(priceId)) problems.push(`Stripe price ${priceId} is mapped to both "${prices.get(priceId)}" and "${id}"`);
        prices.set(priceId, id);
      }
      plans.set(id, {
        id, name: typeof plan.name === 'string' ? plan.name : id, monthlyPriceCents: (price ?? null) as number | null, stripePriceIds, projects,
        gateway: parseGatewayLimits(plan.gateway, id, known, problems),
      });
    }
    for (const id of Object.keys(input.plans ?? {})) {
      if (!(PLAN_ORDER as readonly string[]).includes(id)) problems.push(`unknown plan "${id}" (plans are ${PLAN_ORDER.join(', ')})`);
    }
    const labels = (input as { entitlementLabels?: Record<string, string> }).entitlementLabels ?? {};
    if (problems.length) throw new PlansError(problems);
    return new Plans(currency, plans, labels);
  }

  get(id: string): Plan | undefined {
    return this.plans.get(id as PlanId);
  }

  all(): Plan[] {
    return PLAN_ORDER.map((id) => this.plans.get(id)!);
  }

  /** The plan a Stripe price belongs to, or undefined for an unknown price. */
  planForPrice(priceId: string): PlanId | undefined {
    return this.byPrice.get(priceId);
  }

  /** What the plan gives in one project; undefined when the plan does not cover it. */
  forProject(planId: string, project: string): ProjectPlan | undefined {
    return this.get(planId)?.projects[project];
  }

  /** Gateway requests per minute the plan allows a user in a project; null: unlimited. */
  gatewayLimit(planId: string, project: string): number | null {
    const limits = this.get(planId)?.gateway;
    if (!limits) return null;
    return project in limits.projects ? limits.projects[project] : limits.requestsPerMinute;
  }

  /** What the plan unlocks in a project, in words for the pricing page. */
  features(planId: string, project: string): string[] {
    const entitlements = this.forProject(planId, project)?.entitlements ?? {};
    return Object.entries(entitlements).flatMap(([name, value]) => {
      const label = this.labels[name] ?? name;
      if (value === false || value === 0) return [];
      if (value === true) return [label.replace('{n} ', '')];
      return [label.includes('{n}') ? label.replace('{n}', value === null ? 'Unlimited' : String(value)) : `${label}: ${value ?? 'unlimited'}`];
    });
  }

  /** Projects the plan grants access to. */
  projectsOf(planId: string): string[] {
    return Object.keys(this.get(planId)?.projects ?? {});
  }
}

export function isPlanId(value: string): value is PlanId {
  return (PLAN_ORDER as readonly string[]).includes(value);
}

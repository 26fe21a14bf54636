// The cards of the user's dashboard: one per project they may use (open projects, and the ones
// they were granted), each filled from the project's GET <upstream>/summary, called through the
// gateway as the user (identity headers, assertion and plan limit as for their own requests).
// All summaries are asked at once and each gets SUMMARY_TIMEOUT_MS: a project that is down,
// slow or answers nonsense shows "unavailable" on its own card, and the page is never later
// than the slowest allowed answer.
import type { ClientRegistry, RegisteredClient } from '../clients/registry.js';
import type { ProjectAccess } from '../accounts/access.js';
import type { AutomationCall } from '../gateway/gateway.js';
import { ACCOUNT_CLIENT_ID } from '../http/account-sign-in.js';
import { MAX_SUMMARY_BYTES, parseSummary, type Summary } from './summary.js';

export const SUMMARY_TIMEOUT_MS = 2_000;

export interface Card {
  project: string;
  name: string;
  /** Where the card leads: the summary's link, else the project's home (its first redirect URI's origin). */
  href: string | undefined;
  /** `none`: the project is not behind the gateway (a link only). */
  state: 'shown' | 'unavailable' | 'none';
  summary?: Summary;
}

export interface CardDeps {
  clients: ClientRegistry;
  access: ProjectAccess;
  gateway: { callAs(call: AutomationCall): Promise<{ status: number; body: string }> };
}

/** The origins a browser is sent to for the project: its redirect and post-logout URIs'. */
function originsOf(project: RegisteredClient): Set<string> {
  const origins = new Set<string>();
  for (const uri of [...project.redirectUris, ...project.postLogoutRedirectUris]) {
    try {
      const { origin, protocol } = new URL(uri);
      if (protocol === 'https:' || protocol === 'http:') origins.add(origin);
    } catch {
      // not a URL a browser could follow: no origin of the project
    }
  }
  return origins;
}

const homeOf = (origins: Set<string>) => {
  const [first] = origins;
  return first === undefined ? undefined : `${first}/`;
};

/** Resolves to undefined after `ms` unless `work` settles first (its rejection also gives undefined). */
function within<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout;
  const late = new Promise<undefined>((resolve) => { timer = setTimeout(resolve, ms, undefined); });
  return Promise.race([work.catch(() => undefined), late]).finally(() => clearTimeout(timer));
}

export class DashboardCards {
  constructor(private readonly deps: CardDeps, private readonly timeoutMs = SUMMARY_TIMEOUT_MS) {}

  /** The projects the user may use, in the registry's order (by id); the hub's own account client is not one. */
  private async projectsOf(userId: string): Promise<RegisteredClient[]> {
    const [clients, grants] = await Promise.all([this.deps.clients.list(), this.deps.access.list({ userId })]);
    const granted = new Set(grants.map((grant) => grant.project));
    // As ProjectAccess.roleFor decides it: a grant, or an open project.
    return clients.filter((client) => client.enabled && client.id !== ACCOUNT_CLIENT_ID && (granted.has(client.id) || client.access === 'open'));
  }

  async forUser(userId: string, requestId: string): Promise<Card[]> {
    const projects = await this.projectsOf(userId);
    return Promise.all(projects.map((project) => this.card(project, userId, requestId)));
  }

  private async card(project: RegisteredClient, userId: string, requestId: string): Promise<Card> {
    const origins = originsOf(project);
    const base = { project: project.id, name: project.name, href: homeOf(origins) };
    if (!project.upstream) return { ...base, state: 'none' };
    const answer = await within(this.deps.gateway.callAs({
      projectId: project.id, userId, method: 'GET', path: '/summary', headers: { accept: 'application/json' },
      requestId, maxBytes: MAX_SUMMARY_BYTES + 1, timeoutMs: this.timeoutMs, rateLimited: true,
    }), this.timeoutMs);
    const summary = answer?.status === 200 ? parseSummary(answer.body, origins) : undefined;
    if (!summary) return { ...base, state: 'unavailable' };
    return { ...base, href: summary.link ?? base.href, state: 'shown', summary };
  }
}

// This instance's metrics: one prom-client registry per hub (tests run several hubs in one
// process), the counters the request path increments, and the collectors read at scrape time.
// Every label has a bounded set of values (route templates, grant types, outcomes, project ids
// of registered projects): never a user id, email, IP, token or raw path.
import type { Context } from 'koa';
import client from 'prom-client';

declare module 'koa' {
  interface DefaultState {
    /** This instance's metrics, for routes that count their own outcomes (logins, tokens). */
    metrics?: HubMetrics;
  }
}

/** What a password sign-in came to (interactions/routes.ts decides it). */
export type LoginOutcome = 'success' | 'second_factor' | 'wrong_password' | 'throttled' | 'incomplete';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** Requests that no route matched (404s, scans, wrong methods): one label, whatever the path. */
export const UNMATCHED_ROUTE = 'unmatched';

export class HubMetrics {
  readonly registry = new client.Registry();
  private readonly httpRequests = new client.Counter({
    name: 'nexus_http_requests_total', help: 'HTTP requests answered by the hub (not the gateway), by route template, method and status',
    labelNames: ['route', 'method', 'status'] as const, registers: [this.registry],
  });
  private readonly tokens = new client.Counter({
    name: 'nexus_oidc_tokens_issued_total', help: 'Successful token endpoint answers, by grant type',
    labelNames: ['grant'] as const, registers: [this.registry],
  });
  private readonly logins = new client.Counter({
    name: 'nexus_logins_total', help: 'Password sign-ins on the login page, by outcome',
    labelNames: ['outcome'] as const, registers: [this.registry],
  });

  constructor() {
    // Event-loop lag, heap, GC, CPU and file descriptors of this process (prom-client's set).
    client.collectDefaultMetrics({ register: this.registry });
  }

  /** One answered request; the route is the matched template (`/interaction/:uid/login`), never the path. */
  request(ctx: Context) {
    const route = (ctx as { _matchedRoute?: string | RegExp })._matchedRoute;
    this.httpRequests.inc({
      route: route === undefined ? UNMATCHED_ROUTE : String(route),
      method: METHODS.has(ctx.method) ? ctx.method : 'OTHER',
      status: String(ctx.status),
    });
  }

  /** A token endpoint success; oidc-provider only reaches it for a grant type it has registered. */
  tokenIssued(grant: unknown) {
    this.tokens.inc({ grant: typeof grant === 'string' ? grant : 'unknown' });
  }

  login(outcome: LoginOutcome) {
    this.logins.inc({ outcome });
  }

  /** The exposition (text format 0.0.4). */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

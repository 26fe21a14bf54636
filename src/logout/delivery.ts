// Delivers back-channel logouts through the event bus's durable queue. Every `session.ended`
// event (one per project a session signed in to, queued where the session ended:
// src/accounts/hub-sessions.ts) gets a delivery for the rule LOGOUT_RULE, which the bus's worker
// hands to the main thread like an automation rule's; this runner signs the logout token then
// and POSTs it to the project's back-channel URI through the bus's SSRF-guarded dispatcher.
// At least once, on the webhook retry schedule (WEBHOOK_RETRY_SCHEDULE); outcomes are logged and
// counted, never the token.
import { request, type Dispatcher } from 'undici';
import type { JWK } from 'jose';
import type { StoredEvent } from '../events/event.js';
import { HUB_SOURCE } from '../events/event.js';
import type { RulesOf } from '../events/store.js';
import type { RuleRunner } from '../events/worker.js';
import type { RegisteredClient } from '../clients/registry.js';
import type { Logger } from '../logger.js';
import { signLogoutToken } from './logout-token.js';
import { describeConnectionError, excerpt } from '../events/outbound-answer.js';

/** Not a valid automation rule id (those are lowercase letters, digits and dashes): no clash. */
export const LOGOUT_RULE = { rule: 'nexus:backchannel-logout', type: 'session.ended' } as const;

/** The hub's rules: the automations' and, for the hub's own `session.ended`, the logout. */
export function withBackchannelLogout(rulesOf: RulesOf): RulesOf {
  return (source) => (source === HUB_SOURCE ? [...rulesOf(source), LOGOUT_RULE] : rulesOf(source));
}

const RETRYABLE_4XX = new Set([408, 425, 429]);

export interface LogoutDeliveryDeps {
  issuer: string;
  /** The project as registered now (its URI may have changed since the session ended). */
  findClient: (id: string) => Promise<RegisteredClient | undefined>;
  /** The hub's current private signing key. */
  signingKey: () => Promise<JWK>;
  dispatcher: Dispatcher;
  timeoutMs: number;
  log: Logger;
}

type Attempt = Awaited<ReturnType<RuleRunner>>;


export class LogoutDelivery {
  /** Since this process started; logged with every outcome. */
  readonly counts = { delivered: 0, failed: 0, gaveUp: 0 };

  constructor(private readonly deps: LogoutDeliveryDeps) {}

  /** A RuleRunner for LOGOUT_RULE in front of `other` (the automations). */
  runner(other: RuleRunner): RuleRunner {
    return (rule, event, deliveryId) => (rule === LOGOUT_RULE.rule ? this.deliver(event, deliveryId) : other(rule, event, deliveryId));
  }

  async deliver(event: StoredEvent, deliveryId: string): Promise<Attempt> {
    const project = typeof event.data.project === 'string' ? event.data.project : '';
    const sid = typeof event.data.sid === 'string' ? event.data.sid : undefined;
    let attempt: Attempt;
    try {
      attempt = await this.attempt(project, event.subject, sid);
    } catch (error) {
      attempt = { ok: false, error: describeConnectionError(error) };
    }
    const fields = { deliveryId, eventId: event.id, project, status: attempt.status, error: attempt.error };
    if (attempt.ok) this.counts.delivered += 1;
    else if (attempt.permanent) this.counts.gaveUp += 1;
    else this.counts.failed += 1;
    if (attempt.ok) this.deps.log.info({ ...fields, counts: this.counts }, 'back-channel logout delivered');
    else this.deps.log.warn({ ...fields, counts: this.counts }, attempt.permanent ? 'back-channel logout refused for good' : 'back-channel logout failed; retried on the webhook schedule');
    return attempt;
  }

  private async attempt(project: string, sub: string | null, sid: string | undefined): Promise<Attempt> {
    const client = await this.deps.findClient(project);
    if (!client?.backchannelLogoutUri) return { ok: false, error: `project "${project}" has no back-channel logout URI (or is gone)`, permanent: true };
    if (!sub) return { ok: false, error: 'the event names no user', permanent: true };
    if (client.backchannelLogoutSessionRequired && !sid) return { ok: false, error: 'the project requires a sid and the session had none', permanent: true };
    const token = await signLogoutToken(await this.deps.signingKey(), { issuer: this.deps.issuer, audience: client.id, sub, sid });
    const { timeoutMs } = this.deps;
    const answer = await request(client.backchannelLogoutUri, {
      method: 'POST',
      dispatcher: this.deps.dispatcher,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Nexus-Backchannel-Logout/1.0' },
      body: new URLSearchParams({ logout_token: token }).toString(),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const response = await excerpt(answer.body);
    const status = answer.statusCode;
    if (status >= 200 && status < 300) return { ok: true, status, response };
    return { ok: false, status, response, error: `answered ${status}`, permanent: status >= 400 && status < 500 && !RETRYABLE_4XX.has(status) };
  }
}


// Runs an automation rule's delivery: the rule's call, mapped from the event, through the gateway
// as the event's subject user (access, role and plan scopes checked in the target project as for
// any gateway call). Idempotency-Key `<rule>:<event id>` lets the project drop a repeat (runs are
// at least once, like webhooks). A refusal that no retry can change — no such rule, a project not
// behind the gateway, a user without access, a 4xx other than 408/425/429 — ends the run at once.
import type { AutomationCall } from '../gateway/gateway.js';
import { GatewayError } from '../gateway/errors.js';
import type { Automations } from './automations.js';
import { render, renderPath } from './automations.js';
import type { RuleRunner } from './worker.js';

const EXCERPT_BYTES = 1_024;
const RETRYABLE_4XX = new Set([408, 425, 429]);

const permanentStatus = (status: number) => status >= 400 && status < 500 && !RETRYABLE_4XX.has(status);

/** `timeoutMs`: the bound of one call (WEBHOOK_TIMEOUT, which the delivery worker's lease outlives). */
export function automationRunner(
  automations: Automations, gateway: { callAs(call: AutomationCall): Promise<{ status: number; body: string }> }, timeoutMs: number,
): RuleRunner {
  return async (ruleId, event, deliveryId) => {
    const rule = automations.get(ruleId);
    if (!rule) return { ok: false, error: `no rule "${ruleId}" in the automations file of this hub`, permanent: true };
    if (!event.subject) return { ok: false, error: 'the event has no subject user to act for', permanent: true };
    const body = rule.call.body === undefined ? undefined : JSON.stringify(render(rule.call.body, event));
    try {
      const answer = await gateway.callAs({
        projectId: rule.call.project, userId: event.subject, method: rule.call.method, path: renderPath(rule.call.path, event), body,
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), 'idempotency-key': `${rule.id}:${event.id}` },
        rule: rule.id, eventId: event.id, requestId: deliveryId, maxBytes: EXCERPT_BYTES, timeoutMs,
      });
      const ok = answer.status >= 200 && answer.status < 300;
      return { ok, status: answer.status, response: answer.body, ...(ok ? {} : { error: `answered ${answer.status}`, permanent: permanentStatus(answer.status) }) };
    } catch (error) {
      if (!(error instanceof GatewayError)) throw error;
      return { ok: false, status: error.status, error: `${error.code}: ${error.message}`, permanent: permanentStatus(error.status) };
    }
  };
}

// RP-initiated logout (/session/end) and back-channel logout. oidc-provider's end_session calls
// `client.backchannelLogout(sub, sid)` for each project the browser is signed out of that has a
// back-channel URI, sends the token once and forgets it. Here that call queues the project's
// `session.ended` instead (src/accounts/hub-sessions.ts), so the hub's durable delivery
// (src/logout/delivery.ts) is the only sender: retried until the project has it.
import type Provider from 'oidc-provider';
import type { HubSessions } from '../accounts/hub-sessions.js';
import type { Logger } from '../logger.js';

type LogoutCapable = { clientId: string; backchannelLogout(sub: string, sid: string): Promise<void> };

export function queueBackchannelLogouts(provider: Provider, sessions: HubSessions, log: Logger) {
  const prototype = provider.Client.prototype as unknown as LogoutCapable;
  prototype.backchannelLogout = async function queued(this: LogoutCapable, sub: string, sid: string) {
    // Awaited by end_session before it answers: the logout is committed before the browser moves on.
    await sessions.loggedOut(sub, { uid: null, project: this.clientId, sid: sid ?? null });
  };
  // end_session goes on when queueing fails (the database is down): the project is not told, and we say so.
  provider.on('backchannel.error', (ctx, error, client) =>
    (ctx.state.log ?? log).error({ err: error, project: client.clientId }, 'back-channel logout not queued'));
}

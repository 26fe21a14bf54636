// Browsers cannot set Authorization on a WebSocket, so a browser app may offer its access token
// (or API key) as a subprotocol instead, as Kubernetes does:
//   new WebSocket(url, [`nexus.bearer.${token}`, 'chat.v1'])
// The token entry is taken out before the handshake is forwarded (the upstream never sees it) and
// can never be the protocol the 101 selects. An application protocol must be offered next to it:
// clients (browsers, `ws`) fail a handshake whose 101 selects none of the protocols they offered.
import { invalidRequest } from './errors.js';

export const BEARER_PROTOCOL = 'nexus.bearer.';

export interface Offer {
  /** The credential carried as `nexus.bearer.<token>`, if any. */
  token: string | undefined;
  /** The other offered subprotocols, in order: what the upstream is offered. */
  protocols: string[];
}

export function parseOffer(header: string | undefined): Offer {
  if (header === undefined) return { token: undefined, protocols: [] };
  let token: string | undefined;
  const protocols: string[] = [];
  for (const entry of header.split(',')) {
    const protocol = entry.trim();
    if (!protocol) continue;
    if (!protocol.startsWith(BEARER_PROTOCOL)) {
      protocols.push(protocol);
      continue;
    }
    if (token !== undefined) throw invalidRequest(`offer one ${BEARER_PROTOCOL}<token> subprotocol`);
    token = protocol.slice(BEARER_PROTOCOL.length);
  }
  if (token !== undefined && protocols.length === 0) throw invalidRequest(`offer an application subprotocol next to ${BEARER_PROTOCOL}<token>`);
  return { token, protocols };
}

/** Whether a subprotocol the upstream selected may be shown to the caller (never a token). */
export const mayEcho = (protocol: string) => !protocol.trim().startsWith(BEARER_PROTOCOL);

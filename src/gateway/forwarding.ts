// What the upstream is told about the original request (X-Forwarded-For/Proto/Host). Inbound
// X-Forwarded-* are believed only with TRUST_PROXY, and then only the TRUST_PROXY_HOPS entries
// the trusted proxies appended (read from the right, as Koa does for ctx.ip); the peer's own
// address is always appended last.
import type { IncomingMessage } from 'node:http';
import type { Forwarding } from './headers.js';

export interface ProxyTrust {
  trustProxy: boolean;
  hops: number;
}

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value)?.split(',')[0]?.trim() || undefined;

export function forwardingOf(req: IncomingMessage, trust: ProxyTrust): Forwarding {
  const peer = req.socket.remoteAddress ?? '';
  const chain: string[] = [];
  if (trust.trustProxy) {
    const header = req.headers['x-forwarded-for'];
    const entries = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((e) => e.trim()).filter(Boolean);
    chain.push(...entries.slice(-trust.hops));
  }
  chain.push(peer);
  const proto = (trust.trustProxy && first(req.headers['x-forwarded-proto'])) || ('encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http');
  const host = (trust.trustProxy && first(req.headers['x-forwarded-host'])) || req.headers.host || '';
  return { forwardedFor: chain.join(', '), proto, host };
}

/** Whether the request is addressed to the issuer's origin (as issuerHostOnly checks for Koa). */
export function addressedTo(issuerOrigin: string, forwarding: Forwarding): boolean {
  try {
    return /^[a-z0-9.:[\]-]+$/i.test(forwarding.host) && new URL(`${forwarding.proto}://${forwarding.host}`).origin === issuerOrigin;
  } catch {
    return false;
  }
}

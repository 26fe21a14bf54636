// What the upstream is told about the original request (X-Forwarded-For/Proto/Host). Inbound
// X-Forwarded-* are believed only with TRUST_PROXY, and then only the TRUST_PROXY_HOPS entries
// the trusted proxies appended (read from the right, as Koa does for ctx.ip); the peer's own
// address is always appended last.
import type { IncomingMessage } from 'node:http';
import type { Forwarding } from './headers.js';
import { GatewayError } from './errors.js';

export interface ProxyTrust {
  trustProxy: boolean;
  hops: number;
}

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value)?.split(',')[0]?.trim() || undefined;

export function forwardingOf(req: IncomingMessage, trust: ProxyTrust): Forwarding {
  const peer = req.socket.remoteAddress ?? '';
  const encrypted = 'encrypted' in req.socket && req.socket.encrypted;
  if (!trust.trustProxy) return { forwardedFor: peer, proto: encrypted ? 'https' : 'http', host: req.headers.host ?? '' };
  const header = req.headers['x-forwarded-for'];
  const entries = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((e) => e.trim()).filter(Boolean);
  const chain = [...entries.slice(-trust.hops), peer];
  const proto = first(req.headers['x-forwarded-proto']) || (encrypted ? 'https' : 'http');
  const host = first(req.headers['x-forwarded-host']) || req.headers.host || '';
  return { forwardedFor: chain.join(', '), proto, host };
}

/** The issuer's origin, and the check that a request is addressed to it (as issuerHostOnly does for Koa). */
export class IssuerAddress {
  readonly origin: string;
  private readonly host: string;
  private readonly proto: string;

  constructor(issuer: string) {
    const url = new URL(issuer);
    this.origin = url.origin;
    this.host = url.host;
    this.proto = url.protocol.slice(0, -1);
  }

  /** Throws 400 invalid_host for a request addressed to another origin. */
  check(forwarding: Forwarding) {
    // The issuer's own host and protocol, exactly as a request for it names them: no URL to parse.
    if (forwarding.host === this.host && forwarding.proto === this.proto) return;
    let origin: string | undefined;
    try {
      if (/^[a-z0-9.:[\]-]+$/i.test(forwarding.host)) origin = new URL(`${forwarding.proto}://${forwarding.host}`).origin;
    } catch {
      origin = undefined;
    }
    if (origin !== this.origin) throw new GatewayError(400, 'invalid_host', `This server answers only at ${this.origin}.`);
  }
}

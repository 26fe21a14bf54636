// Who may read /metrics. With METRICS_TOKEN: whoever sends it as a Bearer token (compared in
// constant time). Without it: only this machine — the socket's own peer address, never
// X-Forwarded-For (a client writes that) — and not through a proxy on this machine: a request
// carrying forwarding headers came from somewhere else, whatever the socket says.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import ipaddr from 'ipaddr.js';

export type MetricsAccess = 'allowed' | 'unauthorized' | 'forbidden';

const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip'];

/** Whether an address is this machine's loopback (127.0.0.0/8, ::1, or IPv4 loopback mapped to IPv6). */
export function isLoopback(address: string | undefined): boolean {
  if (!address || !ipaddr.isValid(address)) return false;
  const parsed = ipaddr.process(address);
  return parsed.range() === 'loopback';
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Whether an Authorization header is `Bearer <token>`; digests first, so lengths leak nothing. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer ([^\s]+)$/i.exec(header ?? '');
  return Boolean(match) && timingSafeEqual(digest(match![1]), digest(token));
}

export function metricsAccess(req: IncomingMessage, token: string | undefined): MetricsAccess {
  if (token !== undefined) return bearerMatches(req.headers.authorization, token) ? 'allowed' : 'unauthorized';
  if (FORWARDING_HEADERS.some((name) => req.headers[name] !== undefined)) return 'forbidden';
  return isLoopback(req.socket.remoteAddress) ? 'allowed' : 'forbidden';
}

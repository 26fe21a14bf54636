// The hub's node:http listeners. Gateway requests are answered here, ahead of Koa: a gateway call
// then costs no Koa context, middleware chain or router matching (the gateway itself does what
// the Koa path did for it: the issuer-host check, the request id, HSTS and its one log line).
import type { IncomingMessage, RequestListener } from 'node:http';
import type { Duplex } from 'node:stream';
import { requestIdOf } from '../http/request-log.js';
import type { Gateway } from './gateway.js';
import { GATEWAY_PREFIX, isGatewayUrl } from './target.js';

/** The request listener: /api/gateway/* to the gateway, everything else to `rest` (the Koa app). */
export function gatewayFirst(gateway: Gateway, rest: RequestListener): RequestListener {
  return (req, res) => {
    if (isGatewayUrl(req.url ?? '')) gateway.serve(req, res);
    else rest(req, res);
  };
}

/** For `server.on('upgrade', …)`: WebSockets under /api/gateway/; any other upgrade is refused. */
export function gatewayUpgrade(gateway: Gateway) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!req.url?.startsWith(GATEWAY_PREFIX)) {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    void gateway.upgrade(req, socket, head, requestIdOf(req.headers['x-request-id']));
  };
}

// Mounts the gateway: Koa middleware for /api/gateway/* and the HTTP server's upgrade handler.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Middleware } from 'koa';
import { requestIdOf } from '../http/request-log.js';
import type { Gateway } from './gateway.js';
import { GATEWAY_PREFIX } from './target.js';

export function gatewayRoutes(gateway: Gateway): Middleware {
  return (ctx, next) => (ctx.path.startsWith(GATEWAY_PREFIX) || ctx.path === '/api/gateway' ? gateway.handle(ctx) : next());
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

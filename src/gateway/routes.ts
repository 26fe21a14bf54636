// Mounts the gateway: Koa middleware for /api/gateway/* and the HTTP server's upgrade handler.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Middleware } from 'koa';
import { requestIdOf } from '../http/request-log.js';
import type { Gateway } from './gateway.js';
import { GATEWAY_PREFIX } from './target.js';

/**
 * `addressed`: the issuer-host check, run before the gateway (it is mounted ahead of the health
 * routes and the host check, so that no other router's matcher runs on a gateway request).
 */
export function gatewayRoutes(gateway: Gateway, addressed?: Middleware): Middleware {
  const handle = (ctx: Parameters<Middleware>[0]) => gateway.handle(ctx);
  return (ctx, next) => {
    const { path } = ctx;
    if (!path.startsWith(GATEWAY_PREFIX) && path !== '/api/gateway') return next();
    return addressed ? addressed(ctx, () => handle(ctx)) : handle(ctx);
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

// The bare Node proxy of the gateway benchmark (bench/gateway.ts): node:http in front of an
// undici Pool (keep-alive connections to the upstream), no authentication, no logging: what a
// Node gateway costs before it does anything of its own. Maps /api/gateway/<project>/<rest> to
// <upstream>/api/<rest> like the hub's gateway, streams bodies both ways, drops hop-by-hop headers.
// Plain JavaScript, run with `node` (no loader). Env: PROXY_PORT, UPSTREAM_PORT.
import http from 'node:http';
import { Pool } from 'undici';

const port = Number(process.env.PROXY_PORT);
const upstreamPort = Number(process.env.UPSTREAM_PORT);
if (!(port > 0) || !(upstreamPort > 0)) throw new Error('PROXY_PORT and UPSTREAM_PORT are required');

const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 64, pipelining: 1, keepAliveTimeout: 300_000, keepAliveMaxTimeout: 300_000 });
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host', 'proxy-authorization']);
const PREFIX = /^\/api\/gateway\/[a-z0-9-]+\//;

function withoutHopByHop(headers) {
  const out = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

const server = http.createServer((req, res) => {
  const match = PREFIX.exec(req.url);
  if (!match) {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"unknown_project"}');
    return;
  }
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  // stream(): undici writes the upstream's body straight into the response (no intermediate
  // Readable; stream.pipeline would also cost an AbortController and a DOMException per request).
  pool.stream({ method: req.method, path: `/api/${req.url.slice(match[0].length)}`, headers: withoutHopByHop(req.headers), body: hasBody ? req : null }, ({ statusCode, headers }) => {
    res.writeHead(statusCode, withoutHopByHop(headers));
    return res;
  }).catch(() => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' }).end('{"error":"upstream_unavailable"}');
    else res.destroy();
  });
});
server.keepAliveTimeout = 300_000;
server.headersTimeout = 301_000;
server.listen(port, '127.0.0.1');
for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => { server.closeAllConnections(); server.close(() => void pool.close().then(() => process.exit(0))); });
